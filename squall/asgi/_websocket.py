"""squall's ``WebSocketHandler`` over ASGI ``websocket`` events.

The ASGI server owns the socket: it has checked the handshake, and it
frames, masks, compresses and pings. The handler runs as usual; its
request connection (``ASGIWebSocketRequest``) offers ``accept_websocket``,
which ``WebSocketHandler.get`` calls instead of taking over a TCP stream,
and gets back an ``ASGIWebSocket`` with the interface of squall's own
frame-based connection. A handler that refuses the handshake (403 for a
foreign Origin, an HTTPError in ``prepare``...) answers with
``websocket.http.response`` where the server supports it, else with
``websocket.close`` (which servers turn into a 403).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

from squall._websocket_conn import WebSocketClosedError
from squall.asgi._common import Outbox, Receive, Scope, Send, response_header_list
from squall.asgi._to_asgi import ASGIRequestConnection, headers_of, start_line_of
from squall.httputil import (
    HTTPHeaders,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import app_log, gen_log

# After our close message, how long to wait for the server's disconnect
# event before treating the connection as closed. 5 s: squall's own
# WebSocket close timeout (Tornado's).
CLOSE_TIMEOUT = 5.0

# RFC 6455 section 7.4.1 codes used here.
_CLOSE_NORMAL = 1000
_CLOSE_NO_STATUS = 1005
_CLOSE_TOO_BIG = 1009
_CLOSE_INTERNAL_ERROR = 1011

# Response headers the ASGI server writes itself on accepting.
_HANDSHAKE_HEADERS = frozenset(
    (
        "Upgrade",
        "Connection",
        "Sec-Websocket-Accept",
        "Sec-Websocket-Protocol",
        "Sec-Websocket-Extensions",
        "Content-Type",
        "Content-Length",
        "Transfer-Encoding",
    )
)

_DENIAL_EXTENSION = "websocket.http.response"


class _NoStream:
    """``handler.ws_connection.stream`` under ASGI: the server owns the socket."""

    def set_nodelay(self, value: bool) -> None:
        """The server decides (uvicorn and hypercorn set TCP_NODELAY)."""

    def closed(self) -> bool:
        return False


class ASGIWebSocket:
    """An accepted WebSocket, as ``WebSocketHandler.ws_connection``."""

    stream = _NoStream()

    def __init__(self, outbox: Outbox, endpoint: Any, max_message_size: int, log_name: str):
        self.outbox = outbox
        self.endpoint = endpoint
        self.max_message_size = max_message_size
        self.log_name = log_name
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._close_sent = False
        self._closed = False
        loop = asyncio.get_running_loop()
        self._loop = loop
        # Resolved by start() (open() is done) or by the end of the connection.
        self._ready: asyncio.Future[None] = loop.create_future()
        self._close_timer: asyncio.TimerHandle | None = None
        self._disconnected: asyncio.Future[None] = loop.create_future()

    # -- what the handler calls -------------------------------------------------

    def start(self) -> None:
        if not self._ready.done():
            self._ready.set_result(None)

    def is_closing(self) -> bool:
        return self._closed or self._close_sent

    def write_message(self, data: bytes, binary: bool) -> asyncio.Future[None]:
        if self._closed or self._close_sent:
            raise WebSocketClosedError()
        if binary:
            return self.outbox.put({"type": "websocket.send", "bytes": data})
        return self.outbox.put({"type": "websocket.send", "text": data.decode("utf-8")})

    def ping(self, data: bytes) -> None:
        """ASGI has no ping message: the server sends its own keep-alive pings."""
        if self.is_closing():
            raise WebSocketClosedError()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self._closed or self._close_sent:
            return
        self._close_sent = True
        message: dict[str, Any] = {"type": "websocket.close", "code": code or _CLOSE_NORMAL}
        if reason:
            message["reason"] = reason
        self.outbox.put(message)
        # The server answers with websocket.disconnect once the closing
        # handshake is over; do not wait for it forever.
        self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self._closed_now, None, None)

    def abort(self, hard: bool = False) -> None:
        self.close(_CLOSE_INTERNAL_ERROR)
        self._closed_now(None, None)

    # -- the receive loop ---------------------------------------------------------

    async def run(
        self,
        receive: Receive,
        pending: asyncio.Future[Any] | None = None,
        early: Sequence[Any] = (),
    ) -> None:
        """Deliver the client's messages to the handler until the end.

        ``pending`` is a receive() already under way, ``early`` messages
        it got before the handler was ready for them.
        """
        await self._ready
        receiving: asyncio.Future[Any] | None = pending
        try:
            for message in early:
                if self._closed:
                    return
                await self._handle(message)
            while not self._closed:
                if receiving is None:
                    receiving = asyncio.ensure_future(receive())
                await asyncio.wait(
                    (receiving, self._disconnected), return_when=asyncio.FIRST_COMPLETED
                )
                if not receiving.done():
                    return  # closed by us, and the server never said so
                message = receiving.result()
                receiving = None
                await self._handle(message)
        finally:
            if receiving is not None and not receiving.done():
                receiving.cancel()

    async def _handle(self, message: Any) -> None:
        kind = message.get("type")
        if kind == "websocket.receive":
            await self._deliver(message)
        elif kind == "websocket.disconnect":
            self._closed_now(message.get("code", _CLOSE_NO_STATUS), message.get("reason"))

    async def _deliver(self, message: Any) -> None:
        text = message.get("text")
        payload: str | bytes = text if text is not None else (message.get("bytes") or b"")
        if len(payload) > self.max_message_size:
            gen_log.info("%s: message over %d bytes", self.log_name, self.max_message_size)
            self.close(_CLOSE_TOO_BIG, "message too big")
            return
        if self._close_sent:
            return  # the handler asked to close: no more messages for it
        try:
            result = self.endpoint._ws_message(payload)
            if result is not None and inspect.isawaitable(result):
                await result
        except WebSocketClosedError:
            pass
        except Exception:
            app_log.error("Uncaught exception in %s", self.log_name, exc_info=True)
            self.close(_CLOSE_INTERNAL_ERROR, "internal error")

    def _closed_now(self, code: int | None, reason: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        if code is not None and code != _CLOSE_NO_STATUS:
            self.close_code = code
            self.close_reason = reason or None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        for future in (self._ready, self._disconnected):
            if not future.done():
                future.set_result(None)
        try:
            self.endpoint._ws_closed()
        except Exception:
            app_log.error("Uncaught exception in %s on_close", self.log_name, exc_info=True)


class ASGIWebSocketRequest(ASGIRequestConnection):
    """The handshake request of an ASGI ``websocket`` scope.

    An HTTP response written to it denies the WebSocket; ``accept_websocket``
    accepts it.
    """

    __slots__ = ("can_deny_with_response", "websocket")

    START = "websocket.http.response.start"
    BODY = "websocket.http.response.body"

    def __init__(self, scope: Scope, send: Send) -> None:
        super().__init__(scope, send)
        self.outbox.error_type = WebSocketClosedError
        extensions = scope.get("extensions") or {}
        self.can_deny_with_response = _DENIAL_EXTENSION in extensions
        self.websocket: ASGIWebSocket | None = None

    def accept_websocket(self, handler: Any, headers: HTTPHeaders) -> ASGIWebSocket:
        """Accept with the handler's subprotocol and extra headers (cookies...)."""
        message: dict[str, Any] = {
            "type": "websocket.accept",
            "headers": response_header_list(headers, _HANDSHAKE_HEADERS),
        }
        subprotocol = headers.get("Sec-WebSocket-Protocol")
        if subprotocol is not None:
            message["subprotocol"] = subprotocol
        self._started = self._finished = True
        self._close_callback = None
        self.outbox.put(message)
        websocket = self.websocket = ASGIWebSocket(
            self.outbox,
            handler,
            max_message_size=handler.max_message_size,
            log_name=handler._request_summary(),
        )
        self._set_done(self.outbox.put(None))
        return websocket

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        if self.can_deny_with_response:
            return super().write_headers(start_line, headers, chunk)
        # No way to send a response: closing before accepting makes the
        # server answer 403 (ASGI spec, websocket.close).
        self._started = True
        return self.outbox.put({"type": "websocket.close", "code": _CLOSE_NORMAL})

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        if self.can_deny_with_response:
            return super().write(chunk)
        return self.outbox.put(None)

    def finish(self) -> None:
        if self.can_deny_with_response:
            super().finish()
            return
        if not self._finished:
            self._finished = True
            self._close_callback = None
            self._set_done(self.outbox.put(None))


async def serve_websocket(
    delegate: HTTPServerConnectionDelegate, scope: Scope, receive: Receive, send: Send
) -> None:
    first = await receive()
    if first.get("type") != "websocket.connect":
        return  # the client left before the handshake reached us
    connection = ASGIWebSocketRequest(scope, send)
    message_delegate = delegate.start_request(connection, connection)
    connection.delegate = message_delegate
    try:
        headers = headers_of(scope)
        start_line = start_line_of(scope, "GET")
        if await connection.call(message_delegate.headers_received, start_line, headers):
            await connection.call(message_delegate.finish)
        if connection.websocket is None:
            # Not decided yet (a delegate that answers from a task of its
            # own, as a mounted ASGIContainer does): accept or deny later.
            await connection.wait_response(receive, keep_listening=True)
        websocket = connection.websocket
        if websocket is not None:
            await websocket.run(receive, connection.take_listening(), connection.early_messages)
            await connection.outbox.drain()
            if not connection.outbox.idle():
                # A task is still sending (the close): let it finish first.
                await connection.outbox.put(None)
        connection.stop_listening()
    except WebSocketClosedError:
        pass
    except asyncio.CancelledError:
        connection.outbox.cancel()
        if connection.websocket is not None:
            connection.websocket._closed_now(None, None)
        else:
            connection.lost()
        raise
    finally:
        try:
            delegate.on_close(connection)
        except Exception:
            app_log.error("Uncaught exception in on_close", exc_info=True)
