"""Responses in, for the client role (the HTTP client and the WebSocket
client's handshake): bytes in, a head and body pieces out.

httptools' response parser (llhttp) does the parsing. The head is fed
whole (the caller reads up to the blank line first), so no byte of the
next message is taken by mistake; body bytes follow through ``feed``.
"""

from __future__ import annotations

import httptools

from squall._http1._persistence import keeps_alive
from squall.httputil import HTTPHeaders
from squall.httputil._headers import _normalize_header

__all__ = ["ResponseError", "ResponseHead", "ResponseParser"]


class ResponseError(Exception):
    """The server's answer broke HTTP/1.1 or one of the client's limits."""


class ResponseHead:
    """The status line and header fields of a response."""

    __slots__ = ("code", "header_lines", "headers", "reason", "version")

    def __init__(self) -> None:
        self.code = 0
        self.reason = ""
        self.version = "HTTP/1.1"
        self.headers = HTTPHeaders()
        self.header_lines: list[str] = []

    def keeps_alive(self) -> bool:
        """Whether the server lets the connection carry another request."""
        return keeps_alive(self.version, self.headers.get_list("Connection"))


class ResponseParser:
    """One response (interim answers each get their own parser).

    After ``parse_head``: ``switching`` is True for a 101 (llhttp stops
    there: what follows is another protocol's). After ``feed``:
    ``complete`` once the body has ended, ``extra_message`` if bytes of a
    further, unasked-for message came after it.
    """

    def __init__(self) -> None:
        self.head = ResponseHead()
        self._parser = httptools.HttpResponseParser(self)
        self.headers_done = False
        self.complete = False
        self.extra_message = False
        self.switching = False
        self._body: list[bytes] = []

    # -- httptools callbacks (they record; the methods below act) --------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra_message = True

    def on_status(self, status: bytes) -> None:
        self.head.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head.headers._add_raw(
            _normalize_header(name.decode("latin-1")), value.decode("latin-1").strip(" \t")
        )

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:  # not a body of the unasked-for next message
            self._body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- the interface ------------------------------------------------------

    def parse_head(self, data: bytes) -> ResponseHead:
        """Parse a head that ends with its blank line."""
        parser = self._parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.switching = self.headers_done and parser.get_status_code() == 101
            if not self.switching:  # pragma: no cover - llhttp upgrades only on 101
                raise ResponseError("malformed HTTP response: unexpected upgrade") from None
        except httptools.HttpParserError as e:
            if self.headers_done and parser.get_status_code() == 101:
                self.switching = True
            else:
                raise ResponseError(f"malformed HTTP response: {e}") from None
        if not self.headers_done:
            raise ResponseError("malformed HTTP response: incomplete head")
        head = self.head
        head.code = parser.get_status_code()
        head.version = "HTTP/" + parser.get_http_version()
        head.header_lines = [line + "\r\n" for line in data.decode("latin-1").split("\r\n")[:-1]]
        return head

    def no_body(self) -> None:
        """The response has no body whatever its framing says (HEAD, 204, 304)."""
        self.complete = True

    def feed(self, data: bytes) -> list[bytes]:
        """Body pieces parsed from ``data`` (framing removed)."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            if not self.complete:
                raise ResponseError(f"malformed HTTP response body: {e}") from None
            self.extra_message = True
        return self.take()

    def take(self) -> list[bytes]:
        """Body pieces parsed so far and not yet taken."""
        body, self._body = self._body, []
        return body
