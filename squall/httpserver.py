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

Behind a reverse proxy (nginx in the seeds' deployment), ``xheaders=True``
lets the proxy's headers decide ``request.remote_ip`` (from the real-IP or
forwarded-for header) and ``request.protocol`` (from the scheme or
forwarded-proto header); ``trusted_proxies`` (a squall extension) limits
that trust to the listed peers.

``await server.shutdown(timeout)`` (a squall extension, which ``python -m
squall`` uses on SIGTERM) stops the server gracefully: see its docstring
and docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from squall import netutil
from squall._http1._tls_errors import log_handshake_errors
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
from squall.log import gen_log
from squall.tcpserver import TCPServer

__all__ = ["HTTPRequest", "HTTPServer"]

# Tornado's name for the request object, kept for old code.
HTTPRequest = HTTPServerRequest

# Idle keep-alive connections are closed after this many seconds (Tornado's).
DEFAULT_IDLE_CONNECTION_TIMEOUT = 3600.0

# How long shutdown() lets requests in flight run before it cuts them:
# gunicorn's graceful_timeout default.
DEFAULT_SHUTDOWN_TIMEOUT = 30.0

# How often shutdown() looks again at what is still open. WebSocket closing
# handshakes have no future to wait on; a shutdown happens once per process,
# so a short poll costs nothing that matters.
_SHUTDOWN_POLL_INTERVAL = 0.05

# The WebSocket close code and reason sent to clients on shutdown
# (RFC 6455 §7.4.1: 1001, "going away", a server going down).
_SHUTDOWN_CLOSE_CODE = 1001
_SHUTDOWN_CLOSE_REASON = "server shutting down"

# Peers with an IP address; any other family (AF_UNIX) has no client IP.
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
# The schemes an X-Scheme / X-Forwarded-Proto header may switch to.
_WEB_SCHEMES = frozenset({"http", "https"})

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Shapes of HTTPServer's arguments: what handles requests (a delegate or a
# plain function of the request), the TLS settings, sizes and durations
# where None means the default.
_RequestTarget = HTTPServerConnectionDelegate | Callable[["HTTPServerRequest"], Any]
_TLSConfig = dict[str, Any] | ssl.SSLContext | None
_OptionalBytes = int | None
_OptionalSeconds = float | None


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
        request_callback: _RequestTarget,
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: _TLSConfig = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: _OptionalBytes = None,
        max_header_size: _OptionalBytes = None,
        idle_connection_timeout: _OptionalSeconds = None,
        body_timeout: _OptionalSeconds = None,
        max_body_size: _OptionalBytes = None,
        max_buffer_size: _OptionalBytes = None,
        trusted_downstream: list[str] | None = None,
        header_timeout: float | None = None,
        trusted_proxies: list[str] | None = None,
    ) -> None:
        super().__init__(
            ssl_options=ssl_options, max_buffer_size=max_buffer_size, read_chunk_size=chunk_size
        )
        if self._ssl_context is not None:
            # The loop drops a failed TLS handshake silently; Tornado logs it.
            log_handshake_errors(self._ssl_context)
        self.request_callback, self.xheaders = request_callback, xheaders
        # None lets each connection tell from its transport (http/https).
        self.protocol = protocol
        self.trusted_downstream = set(trusted_downstream or [])
        # None: every peer may set the X- headers (Tornado's xheaders).
        self.trusted_proxies: list[ProxyNetwork] | None = (
            None
            if trusted_proxies is None
            else [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        )
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
        # Connections taken over from this server (WebSockets), told of a
        # shutdown: see track_takeover().
        self._takeovers: weakref.WeakSet[Any] = weakref.WeakSet()

    async def close_all_connections(self) -> None:
        """Close every open connection at once and wait until they are all gone.

        Unsent output is dropped and TLS connections skip the close_notify
        exchange, as Tornado closes its sockets here: a keep-alive client
        that never answers close_notify (curl) would otherwise hold this up
        for the transport's TLS shutdown timeout. ``shutdown()`` is the
        graceful way.
        """
        while self._connections:
            if self._all_closed is None or self._all_closed.done():
                self._all_closed = asyncio.get_running_loop().create_future()
            for conn in list(self._connections):
                conn.abort()
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
        context = _HTTPRequestContext(
            transport, self.protocol, self.trusted_downstream, self.trusted_proxies
        )
        context.track_takeover = self._takeovers.add
        return context

    # -- graceful shutdown ---------------------------------------------------------

    async def shutdown(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Stop gracefully, within ``timeout`` seconds (a squall extension).

        In order: stop accepting; close idle keep-alive connections and
        answer requests in flight with ``Connection: close``; send
        WebSocket clients a 1001 close; end long polls (requests whose
        delegate's ``on_server_shutdown`` says so: for ``web``, handlers
        that override ``on_connection_close`` and wrote nothing); wait for
        the rest to finish. What is still open after ``timeout`` is cut
        (handlers get ``on_connection_close``) and logged. Last, the
        application's ``on_shutdown`` hooks run.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.stop()
        # Requests whose heads arrive from now on are answered with close.
        self.conn_params.no_keep_alive = True
        for takeover in list(self._takeovers):
            takeover._on_server_shutdown(_SHUTDOWN_CLOSE_CODE, _SHUTDOWN_CLOSE_REASON)
        # Connections the loop accepted but has not set up yet come first.
        await asyncio.sleep(0)
        while True:
            # Again on every pass: a connection idle now may have been busy,
            # or just accepted, the time before.
            for connection in list(self._connections):
                connection.shutdown()
            if not self._still_open() or loop.time() >= deadline:
                break
            await asyncio.sleep(_SHUTDOWN_POLL_INTERVAL)
        left = self._still_open()
        if left:
            gen_log.warning(
                "graceful timeout (%gs): cutting %d connection(s) still open", timeout, left
            )
            for connection in list(self._connections):
                connection.abort()
            for takeover in list(self._takeovers):
                takeover._on_server_shutdown_timeout()
            # Let the transports report their loss, so handlers hear of it
            # before the hooks run.
            for _ in range(3):
                await asyncio.sleep(0)
        await self._run_shutdown_hooks()

    def track_takeover(self, connection: Any) -> None:
        """Tell ``connection`` of a shutdown (a squall extension).

        For connections taken over from this server (WebSocket handlers
        register themselves). ``connection`` has ``_on_server_shutdown(code,
        reason)`` to begin closing, ``_server_shutdown_done()``, and
        ``_on_server_shutdown_timeout()`` to close at once.
        """
        self._takeovers.add(connection)

    def _still_open(self) -> int:
        pending = [t for t in self._takeovers if not t._server_shutdown_done()]
        return len(self._connections) + len(pending)

    async def _run_shutdown_hooks(self) -> None:
        hooks = getattr(self.request_callback, "on_shutdown", None)
        for hook in list(hooks or ()):
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                gen_log.error("Error in shutdown hook %r", hook, exc_info=True)

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
        target = self.request_callback
        inner: HTTPMessageDelegate = (
            target.start_request(server_conn, request_conn)
            if isinstance(target, HTTPServerConnectionDelegate)
            else _CallableAdapter(target, request_conn)
        )
        # X- headers count only on a server told that it sits behind a proxy.
        return _ProxyAdapter(inner, request_conn) if self.xheaders else inner

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
        "peer_trusted",
        "protocol",
        "remote_ip",
        "track_takeover",
        "trusted_downstream",
    )

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        protocol: str | None,
        trusted_downstream: set[str] | None = None,
        trusted_proxies: list[ProxyNetwork] | None = None,
    ) -> None:
        self.track_takeover: Callable[[Any], None] | None = None
        self.address = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        self.address_family = sock.family if sock is not None else None
        if self.address_family in _IP_FAMILIES and self.address:
            self.remote_ip = str(self.address[0])
        else:
            # Unix sockets have no peer address worth showing.
            self.remote_ip = "0.0.0.0"
        # An explicit protocol wins; otherwise the transport says whether TLS is on.
        tls = transport.get_extra_info("sslcontext") is not None
        self.protocol = protocol or ("https" if tls else "http")
        # Kept so that a request's X-headers can be undone before the next one.
        self._orig_remote_ip, self._orig_protocol = self.remote_ip, self.protocol
        self.trusted_downstream = trusted_downstream or set()
        self.peer_trusted = self._is_trusted_proxy(trusted_proxies)

    def _is_trusted_proxy(self, trusted_proxies: list[ProxyNetwork] | None) -> bool:
        """Whether this peer may set the client address and scheme."""
        if trusted_proxies is None:
            return True
        if self.address_family not in _IP_FAMILIES:
            return True  # a Unix socket: only this host can connect
        try:
            peer = ipaddress.ip_address(self.remote_ip)
        except ValueError:
            return False
        return any(peer in network for network in trusted_proxies)

    def __str__(self) -> str:
        if self.address_family not in _IP_FAMILIES:
            # A Unix socket's peer is usually unnamed (an empty address).
            return str(self.address) if self.address else "unix socket"
        return self.remote_ip

    def _apply_xheaders(self, headers: HTTPHeaders) -> None:
        # The last address not added by a trusted proxy of ours is the client.
        forwarded = headers.get("X-Forwarded-For", self.remote_ip)
        candidates = [ip.strip() for ip in forwarded.split(",")]
        ip = next((c for c in reversed(candidates) if c not in self.trusted_downstream), "")
        ip = headers.get("X-Real-Ip", ip).strip()
        if netutil.is_valid_ip(ip):
            self.remote_ip = ip
        claimed = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", self.protocol))
        # Chained proxies append to the list; the entry nearest us is last.
        last_hop = claimed.rsplit(",", 1)[-1].strip().lower() if claimed else claimed
        if last_hop in _WEB_SCHEMES:
            self.protocol = last_hop

    def _unapply_xheaders(self) -> None:
        self.remote_ip, self.protocol = self._orig_remote_ip, self._orig_protocol


class _ProxyAdapter(HTTPMessageDelegate):
    """Applies a reverse proxy's X- headers around another delegate."""

    def __init__(self, delegate: HTTPMessageDelegate, request_conn: HTTPConnection) -> None:
        self.connection = request_conn
        self.delegate = delegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        ctx = self._request_context()
        if ctx is not None and ctx.peer_trusted:
            ctx._apply_xheaders(headers)
        return self.delegate.headers_received(start_line, headers)

    def _request_context(self) -> _HTTPRequestContext | None:
        found = getattr(self.connection, "context", None)
        return found if isinstance(found, _HTTPRequestContext) else None

    def on_server_shutdown(self) -> bool:
        return self.delegate.on_server_shutdown()

    def _restore_context(self) -> None:
        # Put the connection's own address/scheme back once the request is
        # over, so a keep-alive connection's next request starts clean.
        ctx = self._request_context()
        if ctx is not None:
            ctx._unapply_xheaders()

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

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        # Body bytes pass through untouched; only the head is rewritten.
        return self.delegate.data_received(chunk)
