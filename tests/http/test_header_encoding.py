"""How header values travel: responses are written as Latin-1 (so bytes go
out byte for byte), with UTF-8 only past Latin-1; bytes values are accepted
by HTTPHeaders and sent unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from httptest_helpers import raw_exchange

from squall import web
from squall.httpclient import AsyncHTTPClient
from squall.httputil import HTTPHeaders, HTTPInputError


class Headers(web.RequestHandler):
    def get(self) -> None:
        self.set_header("X-Str", "caf\u00e9")
        self.set_header("X-Bytes", "caf\u00e9".encode())
        self.set_header("X-Wide", "\u2603")
        self.write(repr(self.request.headers.get("X-In")))


async def test_response_header_bytes_on_the_wire(serve: Any, blocking: Any) -> None:
    port = serve(web.Application([("/", Headers)]))
    data = await blocking(
        raw_exchange, port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    head = data.partition(b"\r\n\r\n")[0]
    assert b"\r\nX-Str: caf\xe9\r\n" in head  # Latin-1
    assert b"\r\nX-Bytes: caf\xc3\xa9\r\n" in head  # the bytes as given
    assert b"\r\nX-Wide: \xe2\x98\x83" in head  # beyond Latin-1: UTF-8


async def test_redirect_to_a_utf8_location_is_not_double_encoded(serve: Any, blocking: Any) -> None:
    app = web.Application([("/go", web.RedirectHandler, {"url": "/caf\u00e9"})])
    port = serve(app)
    data = await blocking(
        raw_exchange, port, b"GET /go HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert b"\r\nLocation: /caf\xc3\xa9\r\n" in data


def test_headers_accept_bytes_values_as_latin1_text() -> None:
    headers = HTTPHeaders({"X-A": b"one"})
    headers["X-B"] = b"caf\xc3\xa9"
    headers.add("X-C", b"\xff")
    assert headers["X-A"] == "one"
    assert headers["X-B"] == "caf\u00c3\u00a9"
    assert headers.get_list("X-C") == ["\u00ff"]
    with pytest.raises(ValueError, match="Illegal characters"):
        headers["X-D"] = b"split\r\nX-Evil: 1"
    with pytest.raises(HTTPInputError):
        headers.add("X-E", b"nul\x00")


async def test_client_sends_bytes_header_values_unchanged(serve: Any) -> None:
    port = serve(web.Application([("/", Headers)]))
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/", headers={"X-In": b"v\xc3\xa9"})
    finally:
        client.close()
    # The server sees the bytes as their Latin-1 text, as Tornado's does.
    assert response.body == repr("v\u00c3\u00a9").encode()
    assert response.headers["X-Str"] == "caf\u00e9"


class NotModifiedWithLength(web.RequestHandler):
    def get(self) -> None:
        self.set_status(304)
        self.set_header("Content-Length", 42)


async def test_304_may_keep_the_content_length_of_what_it_stands_for(
    serve: Any, blocking: Any
) -> None:
    port = serve(web.Application([("/", NotModifiedWithLength)]))
    data = await blocking(
        raw_exchange,
        port,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    # Both answered on the one connection: no body, no error, no abort.
    assert data.count(b"HTTP/1.1 304 Not Modified\r\n") == 2
    assert data.count(b"Content-Length: 42\r\n") == 2
    assert data.endswith(b"\r\n\r\n")
