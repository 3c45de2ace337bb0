"""WebSocket for a hosted ASGI application: squall does the handshake
(RFC 6455 section 4.2) and the framing, the application sees ASGI
``websocket`` events.

Until the application accepts, the request is plain HTTP: a
``websocket.close`` then answers 403, and ``websocket.http.response.*``
sends the application's own response. ``websocket.accept`` takes the TCP
connection over from the HTTP server and runs squall's frame-based
``WebSocketConnection`` on it, with permessage-deflate when the client
offers it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from squall._http1._heads import format_response_head
from squall._websocket_conn import WebSocketClosedError, WebSocketConnection
from squall._websocket_frames import (
    FrameCodec,
    HandshakeError,
    PerMessageDeflate,
    accept_key,
    check_client_key,
    server_negotiate_deflate,
)
from squall.asgi._common import ClientDisconnected, Message, ProtocolViolation
from squall.asgi._container import headers_from_asgi
from squall.httputil import HTTPHeaders, RequestStartLine, ResponseStartLine, responses
from squall.log import app_log

if TYPE_CHECKING:
    from squall.asgi._container import ContainerExchange

# Largest message accepted from the client: squall's WebSocketHandler
# default (Tornado's websocket_max_message_size, 10 MiB).
MAX_MESSAGE_SIZE = 10 * 1024 * 1024

# Messages queued for an application that is not calling receive(); past
# this squall stops reading the socket (TCP slows the client down).
RECEIVE_QUEUE_SIZE = 32

# RFC 6455 section 7.4.1.
_CLOSE_NORMAL = 1000
_CLOSE_NO_STATUS = 1005
_CLOSE_ABNORMAL = 1006


class ContainerWebSocket:
    """One WebSocket request to a hosted application: the ``Endpoint`` of
    squall's WebSocketConnection once accepted."""

    def __init__(
        self, exchange: ContainerExchange, start_line: RequestStartLine, headers: HTTPHeaders
    ) -> None:
        self.exchange = exchange
        self.start_line = start_line
        self.headers = headers
        self.connection: WebSocketConnection | None = None
        self.offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")]
        self.offered = [p for p in self.offered if p]
        self._loop = asyncio.get_running_loop()
        self._inbox: deque[Message] = deque()
        self._receiver: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._connected_sent = False
        self._responding = False  # a websocket.http.response is under way
        self.closed = False  # no more messages either way
        self.close_code = _CLOSE_ABNORMAL
        self.close_reason = ""

    # -- the handshake check, before the application hears of it --------------------

    def _refusal(self) -> tuple[int, str, HTTPHeaders] | None:
        headers = self.headers
        tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        if "upgrade" not in tokens:
            return 400, '"Connection" must be "Upgrade".', HTTPHeaders()
        if headers.get("Sec-WebSocket-Version") != "13":
            # RFC 6455 section 4.4: name the version we speak.
            return 426, "", HTTPHeaders({"Sec-WebSocket-Version": "13"})
        try:
            check_client_key(headers.get("Sec-WebSocket-Key"))
        except HandshakeError:
            return 400, "Missing/Invalid WebSocket headers", HTTPHeaders()
        return None

    async def run(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            status, message, headers = refusal
            self._respond(status, headers, message.encode())
            return
        exchange = self.exchange
        scope = exchange.container.scope_for(
            "websocket", self.start_line, self.headers, exchange.connection
        )
        scope["subprotocols"] = list(self.offered)
        scope["extensions"] = {"websocket.http.response": {}}
        try:
            await exchange.container.app(scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except Exception:
            app_log.error("Exception in ASGI application", exc_info=True)
            self._end_badly()
            return
        self._end_badly(quietly=True)

    def _end_badly(self, quietly: bool = False) -> None:
        connection = self.connection
        if connection is not None:
            if not connection.is_closing():
                # Returned or failed without closing: RFC 6455 1011 after an
                # error, a normal close after a plain return (as uvicorn does).
                connection.close(_CLOSE_NORMAL if quietly else 1011, None)
            return
        if self.exchange.complete or self.exchange.disconnected:
            return
        if self._responding:
            from squall.asgi._container import abort_connection

            self.exchange.complete = True
            abort_connection(self.exchange.connection)
            return
        if quietly:
            app_log.error("ASGI application returned without accepting or refusing a WebSocket")
        self._respond(500, HTTPHeaders(), b"Internal Server Error")

    def _respond(self, status: int, headers: HTTPHeaders, body: bytes) -> None:
        exchange = self.exchange
        exchange.complete = True
        self.closed = True
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        headers["Content-Length"] = str(len(body))
        start = ResponseStartLine("HTTP/1.1", status, responses.get(status, "Unknown"))
        exchange.connection.write_headers(start, headers, body)
        exchange.connection.finish()

    # -- ASGI receive/send ----------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if not self._connected_sent:
                self._connected_sent = True
                return {"type": "websocket.connect"}
            if self._inbox:
                message = self._inbox.popleft()
                room = self._room
                if room is not None and len(self._inbox) < RECEIVE_QUEUE_SIZE // 2:
                    self._room = None
                    if not room.done():
                        room.set_result(None)
                return message
            if self.closed or self.exchange.disconnected:
                return {
                    "type": "websocket.disconnect",
                    "code": self.close_code,
                    "reason": self.close_reason,
                }
            self._receiver = self._loop.create_future()
            await self._receiver

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.send":
            await self._send_message(message)
        elif kind == "websocket.close":
            self._close(message)
        elif kind == "websocket.http.response.start":
            if self.connection is not None or self.exchange._status is not None or self.closed:
                raise ProtocolViolation("websocket.http.response.start out of order")
            self._responding = True
            await self.exchange.send({**message, "type": "http.response.start"})
        elif kind == "websocket.http.response.body":
            if not self._responding:
                raise ProtocolViolation("websocket.http.response.body before its start")
            await self.exchange.send({**message, "type": "http.response.body"})
            if self.exchange.complete:
                self.closed = True
        else:
            raise ProtocolViolation(f"unexpected ASGI message {kind!r}")

    def _accept(self, message: Message) -> None:
        if self.connection is not None or self.closed or self._responding:
            raise ProtocolViolation("websocket.accept out of order")
        if self.exchange.disconnected:
            raise ClientDisconnected("the client has disconnected")
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.offered:
            raise ProtocolViolation(f"subprotocol {subprotocol!r} was not offered")
        response = headers_from_asgi(message.get("headers") or ())
        for name in ("Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol"):
            if name in response:
                del response[name]
        response["Upgrade"] = "websocket"
        response["Connection"] = "Upgrade"
        response["Sec-WebSocket-Accept"] = accept_key(self.headers["Sec-WebSocket-Key"])
        if subprotocol is not None:
            response["Sec-WebSocket-Protocol"] = subprotocol
        deflate: PerMessageDeflate | None = None
        offer = self.headers.get("Sec-WebSocket-Extensions")
        if offer:
            agreed = server_negotiate_deflate(offer, {})
            if agreed is not None:
                response["Sec-WebSocket-Extensions"], deflate = agreed
        exchange = self.exchange
        try:
            stream = exchange.connection.detach()
        except NotImplementedError:
            # Served through to_asgi: the ASGI server owns the socket. Mount
            # the ASGI application in that server instead.
            raise ProtocolViolation(
                "this connection cannot be taken over for a WebSocket "
                "(ASGIContainer needs squall's own server for WebSockets)"
            ) from None
        exchange.complete = True
        # The one head writer, as WebSocketHandler's own 101 uses.
        stream.write(
            format_response_head(("HTTP/1.1", 101, "Switching Protocols"), response._lists)
        )
        container = exchange.container
        max_size = container.websocket_max_message_size or MAX_MESSAGE_SIZE
        codec = FrameCodec(is_client=False, max_message_size=max_size, deflate=deflate)
        self.connection = WebSocketConnection(
            stream,
            codec,
            self,
            ping_interval=container.websocket_ping_interval,
            ping_timeout=container.websocket_ping_timeout,
            log_name=f"ASGI websocket {self.start_line.path}",
        )
        self.connection.start()

    async def _send_message(self, message: Message) -> None:
        connection = self.connection
        if connection is None:
            raise ProtocolViolation("websocket.send before websocket.accept")
        if self.closed or connection.is_closing():
            raise ClientDisconnected("the WebSocket is closed")
        text = message.get("text")
        if text is not None:
            written = connection.write_message(text.encode("utf-8"), False)
        else:
            data = message.get("bytes")
            if data is None:
                raise ProtocolViolation("websocket.send without text or bytes")
            written = connection.write_message(bytes(data), True)
        try:
            await written
        except WebSocketClosedError:
            raise ClientDisconnected("the WebSocket is closed") from None

    def _close(self, message: Message) -> None:
        code = int(message.get("code") or _CLOSE_NORMAL)
        reason = message.get("reason") or None
        if self.connection is None:
            if self._responding or self.closed:
                raise ProtocolViolation("websocket.close after the response")
            # Closing before accepting: the spec's HTTP 403.
            self._respond(403, HTTPHeaders(), b"")
            return
        self.connection.close(code, reason)

    # -- Endpoint: what squall's WebSocketConnection calls ------------------------------

    def _ws_message(self, message: str | bytes) -> asyncio.Future[None] | None:
        if isinstance(message, str):
            self._inbox.append({"type": "websocket.receive", "text": message})
        else:
            self._inbox.append({"type": "websocket.receive", "bytes": message})
        self._wake()
        if len(self._inbox) >= RECEIVE_QUEUE_SIZE:
            self._room = self._loop.create_future()
            return self._room
        return None

    def _ws_ping(self, data: bytes) -> None:
        pass

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self) -> None:
        connection = self.connection
        self.closed = True
        if connection is not None:
            code = connection.close_code
            if code is None:
                # No close frame at all is an abnormal end; one without a
                # code is "no status" (RFC 6455 section 7.1.5).
                code = _CLOSE_NO_STATUS if connection.codec.close_received else _CLOSE_ABNORMAL
            self.close_code = code
            self.close_reason = connection.close_reason or ""
        self._wake()
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def connection_lost(self) -> None:
        """The HTTP connection closed before the handshake finished."""
        self._wake()

    def _wake(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_result(None)
