"""Pipelined requests cut into packets at arbitrary points: every request
is answered once, in order, with the version it was sent with, and a
malformed request line among them is refused however the bytes arrive.

In process (a recording transport stands in for the socket), so that
hypothesis can try many cuts quickly; the socket-level cases are in
test_request_line.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from httptest_helpers import echo_app, split_responses

from squall.httpserver import HTTPServer
from squall.testing import ExpectLog

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


# Requests whose bodies and headers hold copies of request lines: they must
# not make a malformed line after them look well-formed.
REQUESTS = [
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: h\r\nX-Line: GET /a HTTP/1.1\r\n\r\n",
    b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\nGET /a HTTP/1.1\r\n",
    b"GET /b?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nUser-Agent: t\r\n\r\n",
    b"\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n",
]
# Valid too, but a chunked body is skipped only as far as its headers (a
# copy of a line inside it could vouch for a malformed line after it, on the
# sender's own connection): so only among the well-formed pipelines.
CHUNKED = (
    b"POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n11\r\nGET /d HTTP/1.1\r\n\r\n0\r\n\r\n"
)
WELL_FORMED = [*REQUESTS, CHUNKED]
MALFORMED = b"GET  /a HTTP/1.1\r\nHost: h\r\n\r\n"
LAST_10 = b"GET /z HTTP/1.0\r\n\r\n"  # HTTP/1.0: the server closes after it


def feed(packets: list[bytes]) -> RecordingTransport:
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        protocol = HTTPServer(echo_app)._make_protocol()
        transport = RecordingTransport()
        protocol.connection_made(transport)
        for packet in packets:
            protocol.data_received(packet)
        protocol.connection_lost(None)
        return transport
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@hypothesis.given(
    picks=st.lists(st.integers(0, len(WELL_FORMED) - 1), min_size=1, max_size=5),
    points=st.lists(st.integers(0, 10_000), max_size=6),
)
@hypothesis.settings(max_examples=200, deadline=None)
def test_every_request_is_answered_in_order(picks: list[int], points: list[int]) -> None:
    data = b"".join(WELL_FORMED[i] for i in picks) + LAST_10
    transport = feed(cut(data, points))
    responses = split_responses(bytes(transport.data))
    assert [r.status for r in responses] == [200] * (len(picks) + 1)
    paths = [r.json()["path"] for r in responses]
    expected = [WELL_FORMED[i].split(b" ")[1].split(b"?")[0].decode() for i in picks]
    assert paths == [*expected, "/z"]
    versions = [r.json()["version"] for r in responses]
    assert versions == ["HTTP/1.1"] * len(picks) + ["HTTP/1.0"]


@hypothesis.given(
    picks=st.lists(st.integers(0, len(REQUESTS) - 1), min_size=1, max_size=4),
    points=st.lists(st.integers(0, 10_000), max_size=6),
)
@hypothesis.settings(max_examples=150, deadline=None)
def test_a_malformed_line_after_good_requests_is_refused(
    picks: list[int], points: list[int]
) -> None:
    data = b"".join(REQUESTS[i] for i in picks) + MALFORMED
    with ExpectLog("squall.general", "Malformed HTTP message"):
        transport = feed(cut(data, points))
    statuses = [r.status for r in split_responses(bytes(transport.data))]
    assert statuses == [200] * len(picks) + [400]
    assert transport.closed


def test_the_echo_app_reports_what_it_got() -> None:
    transport = feed([REQUESTS[3] + LAST_10])
    first = split_responses(bytes(transport.data))[0]
    assert json.loads(first.body)["query"] == "x=1"
