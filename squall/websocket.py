"""WebSocket server handlers and client connections (RFC 6455, RFC 7692).

Server: subclass ``WebSocketHandler``, route it like any handler, and
override ``open``, ``on_message`` and ``on_close``. Client:
``conn = await websocket_connect(url)``, then ``write_message`` and
``read_message`` (None once the connection is closed).

The protocol itself lives in ``squall._websocket_frames`` (no I/O) and the
read loop in ``squall._websocket_conn``.

Error tree::

    WebSocketError               base of the WebSocket errors
        WebSocketClosedError     write_message/ping on a closed connection

The handshake answers bad requests with HTTP errors (400 for missing or
invalid headers, 403 for a foreign Origin, 405 for methods other than GET,
426 for an unsupported Sec-WebSocket-Version); a client handshake that
fails raises ``HTTPClientError`` (the server's status) or ``WebSocketError``
(a response that is not a valid WebSocket upgrade).
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import ssl
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from squall import escape, gen
from squall._http1._abnf import comma_tokens
from squall._http1._heads import format_request_head, format_response_head
from squall._http1._response import ResponseError, ResponseParser
from squall._websocket_conn import WebSocketClosedError, WebSocketConnection, WebSocketError
from squall._websocket_frames import (
    FrameCodec,
    HandshakeError,
    PerMessageDeflate,
    _DecompressTooLargeError,  # noqa: F401 - Tornado's private names, used by its tests
    _PerMessageDeflateCompressor,  # noqa: F401
    _PerMessageDeflateDecompressor,  # noqa: F401
    accept_key,
    check_client_key,
    client_accept_deflate,
    client_deflate_offer,
    new_client_key,
    server_negotiate_deflate,
)
from squall.concurrent import future_set_result_unless_cancelled
from squall.httpclient import HTTPClientError, HTTPRequest
from squall.httputil import HTTPHeaders
from squall.iostream import IOStream
from squall.log import app_log
from squall.netutil import Resolver, ssl_options_to_context
from squall.tcpclient import TCPClient
from squall.web import RequestHandler
from squall.web._xsrf import _SAME_ORIGIN_FETCH_SITES

# Tornado's names for the protocol object (``handler.ws_connection``,
# ``client.protocol``): squall has one connection class for both ends.
WebSocketProtocol = WebSocketConnection
WebSocketProtocol13 = WebSocketConnection

__all__ = [
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "websocket_connect",
]

# Tornado's default for websocket_max_message_size: 10 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024

# The client's handshake response head may not exceed this (64 KiB, the
# HTTP client's header limit).
MAX_HANDSHAKE_RESPONSE_BYTES = 65536

# Messages a client buffers for read_message before it stops reading from
# the socket (TCP flow control then slows the server down).
CLIENT_READ_QUEUE_SIZE = 32


class WebSocketHandler(RequestHandler):
    """A request handler that upgrades its GET request to a WebSocket."""

    # Set once the 101 response is out. A class default, because
    # set_default_headers() runs (through set_header) before __init__ ends.
    ws_connection: WebSocketConnection | None = None

    def __init__(self, application: Any, request: Any, **kwargs: Any) -> None:
        super().__init__(application, request, **kwargs)
        self._on_close_called = False
        self._selected_subprotocol: str | None = None
        # Filled in from the peer's close frame (RFC 6455 section 7.1.5/6).
        self.close_code: int | None = None
        self.close_reason: str | None = None
        # What open() is called with, kept for the connection's lifetime.
        self.open_args: tuple[Any, ...] = ()
        self.open_kwargs: dict[str, Any] = {}

    # -- the handshake (RFC 6455 section 4.2) --------------------------------

    async def get(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        headers = self.request.headers
        self.open_args, self.open_kwargs = args, kwargs
        if headers.get("Upgrade", "").lower() != "websocket":
            self._refuse(400, 'Can "Upgrade" only to "WebSocket".')
            return
        if "upgrade" not in comma_tokens(headers.get_list("Connection")):
            self._refuse(400, '"Connection" must be "Upgrade".')
            return
        origin = headers.get("Origin") or headers.get("Sec-Websocket-Origin")
        if origin is not None and not self.check_origin(origin):
            self._refuse(403, "Cross origin websockets not allowed")
            return
        if headers.get("Sec-WebSocket-Version") != "13":
            # Section 4.4: say which version we speak.
            self.set_header("Sec-WebSocket-Version", "13")
            self._refuse(426, "")
            return
        try:
            key = check_client_key(headers.get("Sec-WebSocket-Key"))
        except HandshakeError:
            self._refuse(400, "Missing/Invalid WebSocket headers")
            return

        response = HTTPHeaders()
        for name, value in self._headers.get_all():
            if name not in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                response.add(name, value)
        # Cookies set before the upgrade (in prepare(), say) go out with it.
        cookies = self.__dict__.get("_new_cookie")
        if cookies:
            for morsel in cookies.values():
                response.add("Set-Cookie", morsel.OutputString(None))
        response["Upgrade"] = "websocket"
        response["Connection"] = "Upgrade"
        response["Sec-WebSocket-Accept"] = accept_key(key)
        offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")]
        offered = [p for p in offered if p]
        # Asked even when the client offers none (with []), as Tornado does:
        # a handler may insist on a subprotocol.
        selected = self.select_subprotocol(offered)
        if selected is not None:
            if selected not in offered:
                raise ValueError(f"select_subprotocol returned {selected!r}, not offered")
            self._selected_subprotocol = selected
            response["Sec-WebSocket-Protocol"] = selected
        # A request connection with accept_websocket (squall.asgi's, under an
        # ASGI server) answers the handshake and frames messages itself,
        # compression included; it returns the connection to talk through.
        accept_websocket = getattr(self.request.connection, "accept_websocket", None)
        deflate: PerMessageDeflate | None = None
        options = self.get_compression_options()
        extensions = headers.get("Sec-WebSocket-Extensions")
        if options is not None and extensions and accept_websocket is None:
            agreed = server_negotiate_deflate(extensions, options)
            if agreed is not None:
                response["Sec-WebSocket-Extensions"], deflate = agreed

        # Formatted (and checked) before the connection is taken over.
        head = format_response_head(("HTTP/1.1", 101, "Switching Protocols"), response._lists)
        self._status_code = 101
        self._log()
        if accept_websocket is not None:
            self._finished = True
            self.ws_connection = accept_websocket(self, response)
            await self._open(args, kwargs)
            return
        stream = self.detach()
        stream.write(head)
        codec = FrameCodec(is_client=False, max_message_size=self.max_message_size, deflate=deflate)
        self.ws_connection = WebSocketConnection(
            stream,
            codec,
            self,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            log_name=self._request_summary(),
        )
        await self._open(args, kwargs)

    async def _open(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        connection = self.ws_connection
        assert connection is not None
        try:
            opened = self.open(*args, **kwargs)
            if opened is not None and inspect.isawaitable(opened):
                await opened
        except Exception:
            app_log.error("Uncaught exception in %s open", self._request_summary(), exc_info=True)
            connection.abort()
            return
        connection.start()
        # Taken over from the HTTP server: ask it to tell us of a shutdown.
        track = getattr(getattr(self.request.connection, "context", None), "track_takeover", None)
        if track is not None:
            track(self)

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish(message)

    # -- settings ------------------------------------------------------------

    def _websocket_setting(self, suffix: str, fallback: Any = None) -> Any:
        # Every WebSocket option lives in the application settings under a
        # "websocket_" prefix.
        return self.settings.get(f"websocket_{suffix}", fallback)

    @property
    def ping_interval(self) -> float | None:
        """Seconds between pings (setting ``websocket_ping_interval``)."""
        interval: float | None = self._websocket_setting("ping_interval")
        return interval

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for a pong before closing (``websocket_ping_timeout``).

        None waits one ``ping_interval``.
        """
        patience: float | None = self._websocket_setting("ping_timeout")
        return patience

    @property
    def max_message_size(self) -> int:
        """Largest message accepted (``websocket_max_message_size``); larger
        ones close the connection with 1009."""
        limit: int = self._websocket_setting("max_message_size", DEFAULT_MAX_MESSAGE_SIZE)
        return limit

    # -- hooks ---------------------------------------------------------------

    def open(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        """Called once the connection is open, with the URL's arguments."""
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Called for each message; the next waits until an awaitable result is done."""
        raise NotImplementedError

    def on_ping(self, data: bytes) -> None:
        """Called when a ping arrives (the pong is sent for you)."""

    def on_pong(self, data: bytes) -> None:
        """Called when a pong arrives."""

    def on_close(self) -> None:
        """Called once when the connection is closed; see close_code/close_reason."""

    def check_origin(self, origin: str) -> bool:
        """Whether to accept a browser's ``Origin``.

        By default: the same host, or a request the browser itself calls
        same-origin (``Sec-Fetch-Site``), or an origin ``check_trusted_origin``
        accepts (the ``trusted_origins`` setting), as in Tornado 6.6.
        """
        host = self.request.headers.get("Host")
        if urllib.parse.urlsplit(origin).netloc.lower() == (host or "").lower():
            return True
        if self.request.headers.get("Sec-Fetch-Site") in _SAME_ORIGIN_FETCH_SITES:
            return True
        return self.check_trusted_origin(origin)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Pick one of the client's subprotocols, or None for none."""
        return None

    @property
    def selected_subprotocol(self) -> str | None:
        return self._selected_subprotocol

    # -- HTTP response methods, refused once the connection is a WebSocket -------
    # The 101 response has gone out; a header or body written now could
    # only corrupt the frame stream (Tornado raises the same RuntimeError).

    def _refuse_after_upgrade(self) -> None:
        if self.ws_connection is not None:
            raise RuntimeError("Method not supported for Web Sockets")

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        self._refuse_after_upgrade()
        super().set_status(status_code, reason)

    def set_header(self, name: str, value: Any) -> None:
        self._refuse_after_upgrade()
        super().set_header(name, value)

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        self._refuse_after_upgrade()  # clear_cookie comes through here too
        super().set_cookie(name, value, *args, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self._refuse_after_upgrade()
        super().write_error(status_code, **kwargs)

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        self._refuse_after_upgrade()
        super().write(chunk)

    def flush(self, include_footers: bool = False) -> asyncio.Future[None]:
        self._refuse_after_upgrade()
        return super().flush(include_footers)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> asyncio.Future[None]:
        self._refuse_after_upgrade()
        return super().finish(chunk)

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        self._refuse_after_upgrade()
        super().redirect(url, permanent, status)

    def get_compression_options(self) -> dict[str, Any] | None:
        """None (the default) disables compression; a dict (possibly empty,
        keys ``compression_level``, ``mem_level``) enables permessage-deflate."""
        return None

    # -- talking -------------------------------------------------------------

    def write_message(
        self, message: bytes | str | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message (a dict is sent as JSON); the Future resolves once written."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            raise WebSocketClosedError()
        return connection.write_message(_encode(message), binary)

    def ping(self, data: str | bytes = b"") -> None:
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            raise WebSocketClosedError()
        connection.ping(escape.utf8(data))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; on_close runs when it is done."""
        if self.ws_connection is not None:
            self.ws_connection.close(code, reason)

    def set_nodelay(self, value: bool) -> None:
        if self.ws_connection is None:
            raise WebSocketClosedError()
        self.ws_connection.stream.set_nodelay(value)

    # -- called by the connection ------------------------------------------

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None:
        return self.on_message(message)

    def _ws_ping(self, data: bytes) -> None:
        self.on_ping(data)

    def _ws_pong(self, data: bytes) -> None:
        self.on_pong(data)

    def _ws_closed(self) -> None:
        connection = self.ws_connection
        if connection is not None:
            self.close_code = connection.close_code
            self.close_reason = connection.close_reason
        if not self._on_close_called:
            self._on_close_called = True
            self.on_close()

    def on_connection_close(self) -> None:
        if self.ws_connection is None:
            super().on_connection_close()

    # -- HTTPServer.shutdown ------------------------------------------------

    def _on_server_shutdown(self, code: int, reason: str) -> None:
        self.close(code, reason)

    def _server_shutdown_done(self) -> bool:
        return self._on_close_called

    def _on_server_shutdown_timeout(self) -> None:
        if self.ws_connection is not None:
            self.ws_connection.abort()


def _encode(message: bytes | str | dict[str, Any]) -> bytes:
    if type(message) is str:
        return message.encode("utf-8")
    if isinstance(message, dict):
        message = escape.json_encode(message)
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError(f"expected bytes, str or dict, not {type(message).__name__}")


class WebSocketClientConnection:
    """The client end of a WebSocket; made by ``websocket_connect``."""

    def __init__(
        self,
        request: HTTPRequest,
        on_message_callback: Callable[[str | bytes | None], None] | None = None,
        compression_options: dict[str, Any] | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        subprotocols: list[str] | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.request = request
        self._on_message_callback = on_message_callback
        self.compression_options = compression_options
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_size = max_message_size
        self.subprotocols = list(subprotocols or [])
        self.resolver = resolver
        self.protocol: WebSocketConnection | None = None
        self.headers: HTTPHeaders | None = None
        # The handshake response's status: 101 once connected.
        self.code: int | None = None
        self.stream: IOStream | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._selected_subprotocol: str | None = None
        self._messages: deque[str | bytes] = deque()
        self._readers: deque[asyncio.Future[str | bytes | None]] = deque()
        self._room: asyncio.Future[None] | None = None
        self._closed = False
        self._deflate: PerMessageDeflate | None = None

    # -- the handshake (RFC 6455 section 4.1) --------------------------------

    async def _connect(self) -> WebSocketClientConnection:
        request = self.request
        url = urllib.parse.urlsplit(request.url)
        scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
        if scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"unsupported WebSocket URL {request.url!r}")
        secure = scheme == "https"
        port = url.port or (443 if secure else 80)
        ssl_context = _client_ssl_context(request) if secure else None
        client = TCPClient(resolver=self.resolver)
        stream = await client.connect(
            url.hostname, port, ssl_options=ssl_context, timeout=request.connect_timeout
        )
        try:
            if request.request_timeout:
                # with_timeout takes a deadline or a timedelta, not seconds.
                response = await gen.with_timeout(
                    datetime.timedelta(seconds=request.request_timeout),
                    self._handshake(stream, url),
                )
            else:
                response = await self._handshake(stream, url)
        except BaseException:
            stream.close()
            raise
        self.headers = response
        self.code = 101  # _handshake accepts no other status
        self.stream = stream
        codec = FrameCodec(
            is_client=True, max_message_size=self.max_message_size, deflate=self._deflate
        )
        self.protocol = WebSocketConnection(
            stream,
            codec,
            self,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            log_name=f"websocket client {request.url}",
        )
        self.protocol.start()
        return self

    async def _handshake(self, stream: IOStream, url: urllib.parse.SplitResult) -> HTTPHeaders:
        key = new_client_key()
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = HTTPHeaders(self.request.headers)
        default_port = 443 if url.scheme in ("wss", "https") else 80
        host = url.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if url.port and url.port != default_port:
            host = f"{host}:{url.port}"
        headers.setdefault("Host", host)
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade"
        headers["Sec-WebSocket-Key"] = key
        headers["Sec-WebSocket-Version"] = "13"
        if self.subprotocols:
            headers["Sec-WebSocket-Protocol"] = ", ".join(self.subprotocols)
        if self.compression_options is not None:
            headers["Sec-WebSocket-Extensions"] = client_deflate_offer(self.compression_options)
        # Raises ValueError (header injection...) before a byte is sent.
        await stream.write(format_request_head("GET", target, headers._lists))
        data = await stream.read_until(b"\r\n\r\n", max_bytes=MAX_HANDSHAKE_RESPONSE_BYTES)
        try:
            head = ResponseParser().parse_head(data)
        except ResponseError as e:
            raise WebSocketError(f"invalid handshake response: {e}") from None
        response = head.headers
        if head.code != 101:
            if head.code < 300:  # a page where a WebSocket was expected
                raise WebSocketError("Non-websocket response")
            raise HTTPClientError(head.code, head.reason or None)
        if response.get("Upgrade", "").lower() != "websocket":
            raise WebSocketError("handshake response lacks Upgrade: websocket")
        if "upgrade" not in comma_tokens(response.get_list("Connection")):
            raise WebSocketError("handshake response lacks Connection: Upgrade")
        if response.get("Sec-WebSocket-Accept") != accept_key(key):
            raise WebSocketError("invalid Sec-WebSocket-Accept in handshake response")
        protocol = response.get("Sec-WebSocket-Protocol")
        if protocol is not None:
            if protocol not in self.subprotocols:
                raise WebSocketError(f"server selected subprotocol {protocol!r}, not offered")
            self._selected_subprotocol = protocol
        extensions = response.get("Sec-WebSocket-Extensions")
        if extensions:
            if self.compression_options is None:
                raise WebSocketError(f"server sent extensions we did not offer: {extensions!r}")
            try:
                self._deflate = client_accept_deflate(extensions, self.compression_options)
            except HandshakeError as e:
                raise WebSocketError(str(e)) from None
        return response

    # -- public API ----------------------------------------------------------

    @property
    def selected_subprotocol(self) -> str | None:
        return self._selected_subprotocol

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        if self.protocol is None or self.protocol.is_closing():
            raise WebSocketClosedError()
        return self.protocol.write_message(_encode(message), binary)

    def read_message(
        self, callback: Callable[[asyncio.Future[str | bytes | None]], None] | None = None
    ) -> asyncio.Future[str | bytes | None]:
        """The next message, or None once the connection is closed."""
        if self._on_message_callback is not None:
            raise RuntimeError("read_message cannot be used with on_message_callback")
        # Not get_running_loop(): callback-style callers read from outside.
        future: asyncio.Future[str | bytes | None] = gen._create_future()
        if self._messages:
            future.set_result(self._messages.popleft())
            room = self._room
            if room is not None and len(self._messages) < CLIENT_READ_QUEUE_SIZE:
                self._room = None
                future_set_result_unless_cancelled(room, None)
        elif self._closed:
            future.set_result(None)
        else:
            self._readers.append(future)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def ping(self, data: bytes = b"") -> None:
        if self.protocol is None or self.protocol.is_closing():
            raise WebSocketClosedError()
        self.protocol.ping(escape.utf8(data))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.protocol is not None:
            self.protocol.close(code, reason)

    def on_message(self, message: str | bytes | None) -> None:
        """Overridable: the default delivers to the callback or read_message."""

    # -- called by the connection ------------------------------------------

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None:
        if self._on_message_callback is not None:
            self._on_message_callback(message)
            return None
        while self._readers:
            reader = self._readers.popleft()
            if not reader.done():
                reader.set_result(message)
                return None
        self._messages.append(message)
        if len(self._messages) >= CLIENT_READ_QUEUE_SIZE:
            # Stop reading until the application catches up.
            self._room = asyncio.get_running_loop().create_future()
            return self._room
        return None

    def _ws_ping(self, data: bytes) -> None:
        pass

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self) -> None:
        self._closed = True
        if self.protocol is not None:
            self.close_code = self.protocol.close_code
            self.close_reason = self.protocol.close_reason
        while self._readers:
            future_set_result_unless_cancelled(self._readers.popleft(), None)
        if self._on_message_callback is not None:
            self._on_message_callback(None)


def _client_ssl_context(request: HTTPRequest) -> ssl.SSLContext:
    options = request.ssl_options
    if isinstance(options, ssl.SSLContext):
        return options
    if options is not None:
        return ssl_options_to_context(options, server_side=False)
    context = ssl.create_default_context(cafile=request.ca_certs)
    if request.validate_cert is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _handshake_request(url: str | HTTPRequest, connect_timeout: float | None) -> HTTPRequest:
    """The request to open the connection with; an explicit timeout wins."""
    if not isinstance(url, HTTPRequest):
        return HTTPRequest(url, connect_timeout=connect_timeout)
    if connect_timeout is not None:
        url.connect_timeout = connect_timeout
    return url


def websocket_connect(
    url: str | HTTPRequest,
    callback: Callable[[asyncio.Future[WebSocketClientConnection]], None] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[str | bytes | None], None] | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    subprotocols: list[str] | None = None,
    resolver: Resolver | None = None,
) -> asyncio.Future[WebSocketClientConnection]:
    """Open a WebSocket to ``url`` (``ws://`` or ``wss://``, or an HTTPRequest).

    Resolves to a ``WebSocketClientConnection``; a refused handshake fails
    with ``HTTPClientError``, a connect failure with ``StreamClosedError``
    or ``TimeoutError``.
    """
    connection = WebSocketClientConnection(
        _handshake_request(url, connect_timeout),
        # how to reach the server, and what to ask it for
        resolver=resolver,
        subprotocols=subprotocols,
        compression_options=compression_options,
        # incoming messages
        on_message_callback=on_message_callback,
        max_message_size=max_message_size,
        # keep-alive
        ping_timeout=ping_timeout,
        ping_interval=ping_interval,
    )
    future = asyncio.ensure_future(connection._connect())
    if callback is not None:
        future.add_done_callback(callback)
    return future
