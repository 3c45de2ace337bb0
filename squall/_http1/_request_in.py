"""Requests in, one message at a time, for a server reading from a stream
(``HTTP1ServerConnection``): bytes in, a head and body pieces out.

The counterpart of ``_response`` for the server role when the bytes come
from an ``IOStream`` rather than straight from a transport: the caller
reads a head up to its blank line and hands it over whole, then feeds the
body bytes it reads. llhttp parses (no leniency flag); ``_requests`` adds
squall's checks, the same ones the asyncio server applies.
"""

from __future__ import annotations

import httptools

from squall._http1._fallback import FallbackParseError, parse_request_head
from squall._http1._requests import (
    Reject,
    check_request,
    find_request_line,
    reject_for_parser_error,
)
from squall.httputil import HTTPHeaders
from squall.httputil._headers import _normalize_header

__all__ = ["RequestHead", "RequestParser"]


class RequestHead:
    """The request line and header fields of a request."""

    __slots__ = ("headers", "method", "target", "version")

    def __init__(self, method: str, target: str, version: str, headers: HTTPHeaders) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers


class RequestParser:
    """One request. ``parse_head`` raises ``Reject`` for a head squall's
    server would refuse; ``feed`` raises it for a malformed body. After
    ``feed``, ``complete`` is True once the body has ended (at once for a
    request without one)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._headers = HTTPHeaders()
        self._url = b""
        self._body: list[bytes] = []
        self.headers_done = False
        self.complete = False

    # -- httptools callbacks (they record; the methods below act) --------------

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers._add_raw(
            _normalize_header(name.decode("latin-1")), value.decode("latin-1").strip(" \t")
        )

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- the interface ------------------------------------------------------

    def parse_head(self, data: bytes) -> RequestHead:
        """Parse a head that ends with its blank line."""
        parser = self._parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # an Upgrade request: the head is whole, what follows is the caller's
        except httptools.HttpParserError as e:
            if str(e).startswith("Pause on PRI"):  # the HTTP/2 preface: 505
                raise reject_for_parser_error(e, parser, data) from None
            # What llhttp refuses may still be a request Tornado serves (any
            # token method, a Content-Length list...): see _fallback.
            return self._parse_head_as_tornado(data)
        if not self.headers_done:
            raise Reject(400, "incomplete request head")
        method = parser.get_method()
        version = parser.get_http_version()
        find_request_line(method, self._url, version, data, b"")
        head = RequestHead(
            method.decode("ascii"), self._url.decode("latin-1"), "HTTP/" + version, self._headers
        )
        check_request(head.method, self._url, head.version, self._headers._lists)
        return head

    def _parse_head_as_tornado(self, data: bytes) -> RequestHead:
        try:
            method, target, version, headers, length = parse_request_head(data.rstrip(b"\r\n"))
        except FallbackParseError as e:
            raise e.reject from None
        head = RequestHead(method, target, "HTTP/" + version, headers)
        check_request(method, target.encode("latin-1"), head.version, headers._lists)
        # llhttp reads the body from here on: it is given a head it knows
        # with the same framing, and reports only the body.
        if length is not None:
            framing = b"Content-Length: %d\r\n" % length
        elif "Transfer-Encoding" in headers:
            framing = b"Transfer-Encoding: chunked\r\n"
        else:
            framing = b""
        self._parser = httptools.HttpRequestParser(_BodyOnly(self))
        self._parser.feed_data(b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n")
        self.headers_done = True
        return head

    def feed(self, data: bytes) -> list[bytes]:
        """Body pieces parsed from ``data`` (framing removed)."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as e:
            raise Reject(400, str(e) or "malformed request body") from None
        body, self._body = self._body, []
        return body


class _BodyOnly:
    """llhttp's callbacks for a body whose head was parsed by the fallback:
    body pieces and the message's end reach the ``RequestParser``."""

    def __init__(self, target: RequestParser) -> None:
        self._target = target

    def on_body(self, body: bytes) -> None:
        self._target.on_body(body)

    def on_message_complete(self) -> None:
        self._target.on_message_complete()
