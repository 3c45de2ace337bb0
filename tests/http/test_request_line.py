"""The request line, over real sockets: where it sits in the packet (first
byte, after blank lines, behind a pipelined request, split across
packets) must never change how it is checked or which version it has."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from httptest_helpers import echo_app, raw_exchange, split_responses

from squall.testing import ExpectLog

GET11 = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
GET10 = b"GET /b HTTP/1.0\r\n\r\n"


def versions(data: bytes) -> list[tuple[int, str]]:
    return [(r.status, r.json()["version"]) for r in split_responses(data) if r.status == 200]


async def test_an_http_1_0_request_first_in_its_packet_is_1_0(serve, blocking) -> None:
    port = serve(echo_app)
    data = await blocking(raw_exchange, port, GET10)  # 1.0: the server closes
    assert versions(data) == [(200, "HTTP/1.0")]


async def test_versions_of_pipelined_requests_in_one_packet(serve, blocking) -> None:
    port = serve(echo_app)
    packet = GET11 + GET10 + GET11
    data = await blocking(raw_exchange, port, packet)
    # The 1.0 request ends the connection: the third is never answered.
    assert versions(data) == [(200, "HTTP/1.1"), (200, "HTTP/1.0")]


async def test_blank_lines_before_a_request_are_skipped(serve, blocking) -> None:
    port = serve(echo_app)
    data = await blocking(raw_exchange, port, b"\r\n" + GET10)
    assert versions(data) == [(200, "HTTP/1.0")]


def _send_in_pieces(port: int, pieces: list[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            s.sendall(piece)
            time.sleep(0.05)  # separate packets, so the server reads them apart
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("cut", [3, 8, 14, 16])
async def test_a_request_line_split_across_packets(serve, blocking, cut: int) -> None:
    port = serve(echo_app)
    request = b"GET /split HTTP/1.0\r\n\r\n"
    data = await blocking(_send_in_pieces, port, [request[:cut], request[cut:]])
    assert versions(data) == [(200, "HTTP/1.0")]


@pytest.mark.parametrize(
    "first",
    [
        GET11,
        # A copy of the canonical line in a header or in the body of the
        # request before cannot vouch for the malformed one after it.
        b"GET /a HTTP/1.1\r\nHost: h\r\nX-Copy: GET /a HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\nGET /a HTTP/1.1\r\n",
    ],
)
async def test_a_malformed_line_behind_a_good_one_in_the_same_packet(
    serve, blocking, first: bytes
) -> None:
    port = serve(echo_app)
    packet = first + b"GET  /a HTTP/1.1\r\nHost: h\r\n\r\n"
    with ExpectLog("squall.general", "Malformed HTTP message"):
        data = await blocking(raw_exchange, port, packet)
    statuses = [r.status for r in split_responses(data)]
    assert statuses == [200, 400]


@pytest.mark.parametrize(
    "line",
    [b"GET  /a HTTP/1.1", b"GET /a  HTTP/1.1", b"GET /a HTTP/1.1 "],
)
async def test_a_malformed_line_split_across_packets(serve, blocking, line: bytes) -> None:
    port = serve(echo_app)
    request = line + b"\r\nHost: h\r\n\r\n"
    with ExpectLog("squall.general", "Malformed HTTP message|HTTP parser"):
        data: Any = await blocking(_send_in_pieces, port, [request[:6], request[6:]])
    assert data.startswith(b"HTTP/1.1 400 "), data[:100]


@pytest.mark.parametrize("version", [b"1.0", b"1.1"])
async def test_a_line_whose_first_header_ends_its_packet(serve, blocking, version: bytes) -> None:
    # llhttp reports a header only once it sees what follows, so the line
    # is checked while the next packet is parsed: it must still be found.
    port = serve(echo_app)
    first = b"GET /p HTTP/" + version + b"\r\nHost: a\r\n"
    data = await blocking(_send_in_pieces, port, [first, b"Connection: close\r\n\r\n"])
    assert versions(data) == [(200, "HTTP/" + version.decode())]
