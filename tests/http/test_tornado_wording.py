"""What the server logs for requests it refuses, in the words Tornado
programs match, and the chunk size streaming handlers are promised."""

from __future__ import annotations

import gzip
import json
import logging
import re
import socket
from typing import Any

import pytest
from httptest_helpers import echo_app, raw_exchange

from squall import web
from squall.testing import ExpectLog

GZIPPED_ZEROS = gzip.compress(b"\0" * 5000)
GZIPPED_HELLO = gzip.compress(b"hello")

REFUSALS = [
    ("bad method", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Malformed HTTP request line"),
    ("garbage line", b"{}\r\n\r\n", 400, "Malformed HTTP request line"),
    (
        "declared too long",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n",
        413,
        "Content-Length too long",
    ),
    (
        "chunked too long",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"c8\r\n"
        + b"x" * 200
        + b"\r\n0\r\n\r\n",
        413,
        "chunked body too large",
    ),
    (
        "not gzip",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
        400,
        "invalid gzip data",
    ),
    (
        "gzip cut short",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % (len(GZIPPED_HELLO) - 3)
        + GZIPPED_HELLO[:-3],
        400,
        "invalid gzip data",
    ),
    (
        "gzip then garbage",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % (len(GZIPPED_HELLO) + 2)
        + GZIPPED_HELLO
        + b"\0\0",
        400,
        "invalid gzip data",
    ),
    (
        "gzip bomb",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % len(GZIPPED_ZEROS)
        + GZIPPED_ZEROS,
        413,
        "decompressed body too large",
    ),
]


@pytest.mark.parametrize(
    ("name", "request_bytes", "status", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_refusals_are_logged_in_tornados_words(
    serve: Any,
    blocking: Any,
    caplog: Any,
    name: str,
    request_bytes: bytes,
    status: int,
    reason: str,
) -> None:
    port = serve(echo_app, max_body_size=100, decompress_request=True)
    # Tornado's words, then possibly a detail of ours after a colon.
    expected = "^" + re.escape(f"Malformed HTTP message from 127.0.0.1: {reason}") + "(: .+)?$"
    with ExpectLog("squall.general", expected, level=logging.INFO) as log:
        data = await blocking(raw_exchange, port, request_bytes)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:80]
    assert sum(log.counts.values()) == 1  # that line alone


async def test_a_stalled_body_is_logged_as_tornado_does(serve: Any, blocking: Any) -> None:
    port = serve(echo_app, body_timeout=0.1)
    with ExpectLog("squall.general", r"^Timeout reading body from 127\.0\.0\.1$"):
        data = await blocking(
            raw_exchange, port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc"
        )
    assert data.startswith(b"HTTP/1.1 408 ")


@web.stream_request_body
class ChunkRecorder(web.RequestHandler):
    def prepare(self) -> None:
        self.sizes: list[int] = []
        self.total = b""

    def data_received(self, chunk: bytes) -> None:
        self.sizes.append(len(chunk))
        self.total += chunk

    def post(self) -> None:
        self.write({"sizes": self.sizes, "total": len(self.total), "ok": self.total == BODY})


BODY = bytes(range(256)) * 4  # 1 KiB, recognisable


def _post(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
async def test_data_received_never_gets_more_than_chunk_size(
    serve: Any, blocking: Any, framing: str
) -> None:
    port = serve(web.Application([("/", ChunkRecorder)]), chunk_size=100, decompress_request=True)
    if framing == "length":
        head = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 1024\r\n\r\n"
        body = BODY
    elif framing == "chunked":
        head = (
            b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        body = b"400\r\n" + BODY + b"\r\n0\r\n\r\n"
    else:
        body = gzip.compress(BODY)
        head = (
            b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
    data = await blocking(_post, port, head, body)
    assert data.startswith(b"HTTP/1.1 200 "), data[:100]
    answer = json.loads(data.partition(b"\r\n\r\n")[2])
    assert answer["ok"] is True and answer["total"] == 1024
    assert max(answer["sizes"]) <= 100
    assert len(answer["sizes"]) >= 11  # 1024 bytes in pieces of at most 100
