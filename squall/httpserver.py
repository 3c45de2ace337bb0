"""A non-blocking HTTP/1.1 server.

``HTTPServer`` accepts connections with asyncio's ``create_server`` (uvloop
accepts, and handshakes TLS, in C) and serves each with an
``http1connection.HTTP1ServerProtocol``. Requests go to ``request_callback``:
either an ``httputil.HTTPServerConnectionDelegate`` (a ``web.Application``
is one) or a plain ``callable(request)`` that answers through
``request.connection`` (``write_headers``, ``write``, ``finish``)::

    def handle(request):
        body = b"Hello"
        request.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 200, "OK"),
            httputil.HTTPHeaders({"Content-Length": str(len(body))}),
            body,
        )
        request.connection.finish()

    HTTPServer(handle).listen(8888)

With ``xheaders=True`` the server trusts ``X-Real-Ip``/``X-Forwarded-For``
and ``X-Scheme``/``X-Forwarded-Proto`` from a reverse proxy (nginx in the
seeds' deployment) for ``request.remote_ip`` and ``request.protocol``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from squall import netutil
from squall.http1connection import HTTP1ConnectionParameters, HTTP1ServerProtocol
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.tcpserver import TCPServer

__all__ = ["HTTPRequest", "HTTPServer"]

# Tornado's name for the request object, kept for old code.
HTTPRequest = HTTPServerRequest

# Idle keep-alive connections are closed after this many seconds (Tornado's).
DEFAULT_IDLE_CONNECTION_TIMEOUT = 3600.0


class HTTPServer(TCPServer, HTTPServerConnectionDelegate):
    """Serves HTTP/1.x to ``request_callback`` (Tornado's signature).

    Listening, forking and stopping are ``TCPServer``'s.

    Listen with ``listen(port)``, or ``bind(port)`` then ``start(n)`` to fork
    ``n`` processes (0: one per CPU), or hand over sockets with
    ``add_sockets``. ``stop()`` stops accepting; ``close_all_connections()``
    then waits for open connections to end.
    """

    def __init__(
        self,
        request_callback: HTTPServerConnectionDelegate | Callable[[HTTPServerRequest], Any],
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        idle_connection_timeout: float | None = None,
        body_timeout: float | None = None,
        max_body_size: int | None = None,
        max_buffer_size: int | None = None,
        trusted_downstream: list[str] | None = None,
        header_timeout: float | None = None,
    ) -> None:
        super().__init__(
            ssl_options=ssl_options, max_buffer_size=max_buffer_size, read_chunk_size=chunk_size
        )
        self.request_callback = request_callback
        self.xheaders = xheaders
        self.protocol = protocol
        self.trusted_downstream = set(trusted_downstream or [])
        self.conn_params = HTTP1ConnectionParameters(
            no_keep_alive=no_keep_alive,
            chunk_size=chunk_size,
            max_header_size=max_header_size,
            header_timeout=header_timeout,
            max_body_size=max_body_size,
            body_timeout=body_timeout,
            decompress=decompress_request,
            idle_connection_timeout=idle_connection_timeout or DEFAULT_IDLE_CONNECTION_TIMEOUT,
        )
        self._connections: set[HTTP1ServerProtocol] = set()
        self._all_closed: asyncio.Future[None] | None = None

    async def close_all_connections(self) -> None:
        """Close every open connection and wait until they are all gone."""
        while self._connections:
            if self._all_closed is None or self._all_closed.done():
                self._all_closed = asyncio.get_running_loop().create_future()
            for conn in list(self._connections):
                conn.close()
            await self._all_closed

    # -- connections -------------------------------------------------------------

    def _make_protocol(self) -> HTTP1ServerProtocol:  # type: ignore[override]
        # TCPServer accepts; each connection speaks HTTP through this
        # protocol instead of getting an IOStream.
        protocol = HTTP1ServerProtocol(
            self._request_delegate(), self.conn_params, self._make_context, self._connection_closed
        )
        self._connections.add(protocol)
        return protocol

    def _make_context(self, transport: asyncio.BaseTransport) -> _HTTPRequestContext:
        return _HTTPRequestContext(transport, self.protocol, self.trusted_downstream)

    def _connection_closed(self, protocol: HTTP1ServerProtocol) -> None:
        self._connections.discard(protocol)
        self.on_close(protocol)
        if not self._connections and self._all_closed is not None:
            if not self._all_closed.done():
                self._all_closed.set_result(None)

    def handle_stream(self, stream: Any, address: Any) -> None:
        raise NotImplementedError("HTTPServer serves connections with HTTP1ServerProtocol")

    def _request_delegate(self) -> HTTPServerConnectionDelegate:
        """Who starts each request: the application itself when this server
        would only pass the call through (no xheaders, no override), which
        saves a call per request; otherwise this server."""
        callback = self.request_callback
        if (
            isinstance(callback, HTTPServerConnectionDelegate)
            and not self.xheaders
            and type(self).start_request is HTTPServer.start_request
        ):
            return callback
        return self

    # -- HTTPServerConnectionDelegate ----------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        callback = self.request_callback
        if isinstance(callback, HTTPServerConnectionDelegate):
            delegate = callback.start_request(server_conn, request_conn)
        else:
            delegate = _CallableAdapter(callback, request_conn)
        if self.xheaders:
            delegate = _ProxyAdapter(delegate, request_conn)
        return delegate

    def on_close(self, server_conn: object) -> None:
        callback = self.request_callback
        if isinstance(callback, HTTPServerConnectionDelegate):
            callback.on_close(server_conn)


class _CallableAdapter(HTTPMessageDelegate):
    """Collects a request for a plain ``callable(request)`` request_callback."""

    def __init__(
        self, request_callback: Callable[[HTTPServerRequest], Any], request_conn: HTTPConnection
    ) -> None:
        self.connection = request_conn
        self.request_callback = request_callback
        self.request: HTTPServerRequest | None = None
        self._chunks: list[bytes] = []

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        self.request = HTTPServerRequest(
            connection=self.connection, start_line=start_line, headers=headers
        )
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self._chunks.append(chunk)
        return None

    def finish(self) -> Any:
        assert self.request is not None
        self.request.body = b"".join(self._chunks)
        self._chunks = []
        self.request._parse_body()
        return self.request_callback(self.request)

    def on_connection_close(self) -> None:
        self._chunks = []


class _HTTPRequestContext:
    """What requests on one connection know of it: peer address and scheme.

    With xheaders, a request's proxy headers override ``remote_ip`` and
    ``protocol`` while it is handled; ``_unapply_xheaders`` restores them for
    the next request on the connection.
    """

    # One per connection, read by every request on it.
    __slots__ = (
        "_orig_protocol",
        "_orig_remote_ip",
        "address",
        "address_family",
        "protocol",
        "remote_ip",
        "trusted_downstream",
    )

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        protocol: str | None,
        trusted_downstream: set[str] | None = None,
    ) -> None:
        self.address = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        self.address_family = sock.family if sock is not None else None
        if self.address_family in (socket.AF_INET, socket.AF_INET6) and self.address:
            self.remote_ip = str(self.address[0])
        else:
            # Unix sockets have no peer address worth showing.
            self.remote_ip = "0.0.0.0"
        if protocol:
            self.protocol = protocol
        elif transport.get_extra_info("sslcontext") is not None:
            self.protocol = "https"
        else:
            self.protocol = "http"
        self._orig_remote_ip = self.remote_ip
        self._orig_protocol = self.protocol
        self.trusted_downstream = trusted_downstream or set()

    def __str__(self) -> str:
        if self.address_family in (socket.AF_INET, socket.AF_INET6):
            return self.remote_ip
        return str(self.address) if self.address else "unix socket"

    def _apply_xheaders(self, headers: HTTPHeaders) -> None:
        # The last address not added by a trusted proxy of ours is the client.
        forwarded = headers.get("X-Forwarded-For", self.remote_ip)
        candidates = [ip.strip() for ip in forwarded.split(",")]
        ip = next((c for c in reversed(candidates) if c not in self.trusted_downstream), "")
        ip = headers.get("X-Real-Ip", ip).strip()
        if netutil.is_valid_ip(ip):
            self.remote_ip = ip
        scheme = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", self.protocol))
        if scheme:
            scheme = scheme.split(",")[-1].strip().lower()
        if scheme in ("http", "https"):
            self.protocol = scheme

    def _unapply_xheaders(self) -> None:
        self.remote_ip = self._orig_remote_ip
        self.protocol = self._orig_protocol


class _ProxyAdapter(HTTPMessageDelegate):
    """Applies a reverse proxy's X- headers around another delegate."""

    def __init__(self, delegate: HTTPMessageDelegate, request_conn: HTTPConnection) -> None:
        self.connection = request_conn
        self.delegate = delegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        context = getattr(self.connection, "context", None)
        if isinstance(context, _HTTPRequestContext):
            context._apply_xheaders(headers)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def _restore_context(self) -> None:
        # Put the connection's own address/scheme back once the request is
        # over, so a keep-alive connection's next request starts clean.
        context = getattr(self.connection, "context", None)
        if isinstance(context, _HTTPRequestContext):
            context._unapply_xheaders()

    def on_connection_close(self) -> None:
        try:
            self.delegate.on_connection_close()
        finally:
            self._restore_context()

    def finish(self) -> Any:
        try:
            return self.delegate.finish()
        finally:
            self._restore_context()
