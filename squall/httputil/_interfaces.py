"""The interfaces between the HTTP/1.x connection and its users, and the
start lines they exchange."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from squall._http1._abnf import (
    HTTP_VERSION,
    REASON_PHRASE,
    REQUEST_TARGET,
    STATUS_CODE,
    TOKEN,
)
from squall.httputil._headers import HTTPHeaders, HTTPInputError

if TYPE_CHECKING:
    from asyncio import Future


# ---------------------------------------------------------------------------
# Interfaces between the HTTP/1.x connection and its users


def _unimplemented(interface: object, method: str) -> NoReturn:
    # The connection methods have no useful default: a transport must supply them.
    raise NotImplementedError(f"{type(interface).__name__}.{method} is not implemented")


class HTTPServerConnectionDelegate:
    """What an HTTP server (``HTTPServer``) implements to serve connections."""

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Called when a new request starts on a connection.

        ``server_conn`` identifies the connection (requests on one keep-alive
        connection share it); ``request_conn`` is the ``HTTPConnection`` to
        answer this request on. Returns the ``HTTPMessageDelegate`` that
        receives the request.
        """
        _unimplemented(self, "start_request")

    def on_close(self, server_conn: object) -> None:
        """Called when the connection ``server_conn`` has closed."""


class HTTPMessageDelegate:
    """Receives one HTTP message (a request or a response) as it arrives.

    The methods are called in order: ``headers_received`` once, then
    ``data_received`` for each body chunk, then ``finish``, unless the
    connection drops first, in which case ``on_connection_close`` is called.
    """

    def headers_received(
        self, start_line: _EitherStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        """The start line and headers are in.

        May return an awaitable; the connection reads no further (the body
        waits) until it completes, which is how a handler applies flow
        control.
        """
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """A chunk of the body. May return an awaitable, as ``headers_received``."""
        return None

    def finish(self) -> None:
        """The whole message has been received."""

    def on_connection_close(self) -> None:
        """The connection closed before the message was complete."""

    def on_server_shutdown(self) -> bool:
        """The server is shutting down gracefully, and this request has no
        response yet (a squall extension, used by ``HTTPServer.shutdown``).

        Return True to have the connection closed now, so that the request
        ends (``on_connection_close`` follows): what a long poll wants. The
        default, False, lets the request finish within the graceful timeout.
        """
        return False


class HTTPConnection:
    """How the application writes a response (or the client a request)."""

    # Empty, so that subclasses may use slots (the server makes one per request).
    __slots__ = ()

    def write_headers(
        self, start_line: _EitherStartLine, headers: HTTPHeaders, chunk: bytes | None = None
    ) -> Future[None]:
        """Send the start line and headers, and optionally the first body chunk.

        The returned future resolves once the data is handed to the network,
        which is the signal that more may be written without buffering
        without bound.
        """
        _unimplemented(self, "write_headers")

    def write(self, chunk: bytes) -> Future[None]:
        """Send a body chunk; the future resolves as for ``write_headers``."""
        _unimplemented(self, "write")

    def finish(self) -> None:
        """The message is complete; nothing more will be written."""
        _unimplemented(self, "finish")


# ---------------------------------------------------------------------------
# Start lines


class RequestStartLine(NamedTuple):
    """The first line of a request: ``method``, ``path`` (the request target), ``version``."""

    method: str
    path: str
    version: str


class ResponseStartLine(NamedTuple):
    """The first line of a response: ``version``, ``code``, ``reason``."""

    version: str
    code: int
    reason: str


# A connection writes a request line as a client and a status line as a server.
_EitherStartLine = RequestStartLine | ResponseStartLine


# RFC 9112 section 3: method SP request-target SP HTTP-version, and section
# 4: HTTP-version SP status-code SP [reason-phrase]; the rules are the
# grammar module's, with groups around the parts returned.
_REQUEST_LINE_RE = re.compile(f"({TOKEN}) ({REQUEST_TARGET}) ({HTTP_VERSION})")
_RESPONSE_LINE_RE = re.compile(f"({HTTP_VERSION}) ({STATUS_CODE}) ((?:{REASON_PHRASE})?)")


def parse_request_start_line(line: str) -> RequestStartLine:
    """Parse ``"GET /path HTTP/1.1"`` into a ``RequestStartLine``.

    Raises ``HTTPInputError`` if the line is malformed or its HTTP major
    version is not 1.

    >>> parse_request_start_line("PUT /items/7?draft=1 HTTP/1.0")
    RequestStartLine(method='PUT', path='/items/7?draft=1', version='HTTP/1.0')
    """
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Malformed HTTP request line")
    method, path, version = match.groups()
    # RFC 9110 section 2.5: a different major version is a different protocol.
    if version[5] != "1":
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return RequestStartLine(method, path, version)


def parse_response_start_line(line: str) -> ResponseStartLine:
    """Parse ``"HTTP/1.1 200 OK"`` into a ``ResponseStartLine``.

    The reason phrase may be empty (``"HTTP/1.1 200 "``: ``reason`` is
    then ``""`` where Tornado gives None), but the space before it is
    required. Raises ``HTTPInputError`` if the line is malformed or the
    version is not HTTP/1.x.

    >>> parse_response_start_line("HTTP/1.0 404 Not Found")
    ResponseStartLine(version='HTTP/1.0', code=404, reason='Not Found')
    """
    match = _RESPONSE_LINE_RE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Error parsing response start line")
    version, code, reason = match.groups()
    # RFC 9110 section 2.5: only HTTP/1.x is spoken here.
    if version[5] != "1":
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return ResponseStartLine(version, int(code), reason)
