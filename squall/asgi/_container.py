"""An ASGI application hosted by squall's own server (``ASGIContainer``).

The container is an ``HTTPServerConnectionDelegate``: ``HTTPServer``
calls it directly, and a ``web.Application`` routes to it like to any
delegate (``(r"/api/.*", container)``), with the request body streamed
into the application's ``receive`` as it arrives and each ``send``
waiting for the response bytes to leave (back-pressure both ways). As a
plain ``callable(request)`` it also serves ``web.FallbackHandler``, which
reads the whole body first. WebSocket upgrades are answered with squall's
own handshake and framing (``_container_ws``).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections import deque
from typing import Any

from squall.asgi._common import (
    ASGI_VERSION,
    ASGIApp,
    ClientDisconnected,
    Message,
    ProtocolViolation,
    Scope,
    scope_headers,
)
from squall.asgi._lifespan import LifespanDriver
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
    responses,
    split_host_and_port,
)
from squall.iostream import StreamClosedError
from squall.log import app_log

# Request body bytes queued for an application that has not called
# receive() yet, before squall stops reading the socket: four of squall's
# 64 KiB body chunks, as its own server buffers for a busy handler.
BODY_HIGH_WATER = 4 * 64 * 1024


class ASGIContainer(HTTPServerConnectionDelegate):
    """Serve the ASGI 3 application ``asgi_app`` from squall's server.

    ``root_path`` is the prefix it is mounted at (the scope's
    ``root_path``; ``path`` stays the full path, per the ASGI spec).
    ``websocket_ping_interval``, ``websocket_ping_timeout`` and
    ``websocket_max_message_size`` mean what the Application settings of
    the same names mean for squall's WebSocketHandler. Run
    its lifespan with ``await container.startup()`` before serving and
    ``await container.shutdown()`` after, or hand those to an
    Application's ``on_startup``/``on_shutdown`` lists.
    """

    def __init__(
        self,
        asgi_app: ASGIApp,
        *,
        root_path: str = "",
        websocket_ping_interval: float | None = None,
        websocket_ping_timeout: float | None = None,
        websocket_max_message_size: int | None = None,
    ) -> None:
        self.app = asgi_app
        self.root_path = root_path.rstrip("/")
        # The WebSocket settings of squall's WebSocketHandler, same meanings
        # and defaults (no pings; 10 MiB messages).
        self.websocket_ping_interval = websocket_ping_interval
        self.websocket_ping_timeout = websocket_ping_timeout
        self.websocket_max_message_size = websocket_max_message_size
        self._lifespan = LifespanDriver(asgi_app)

    @property
    def state(self) -> dict[str, Any]:
        """The lifespan state; each request's scope gets a shallow copy."""
        return self._lifespan.state

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the application's answer.

        Raises ``LifespanFailure`` if it reports failure; an application
        without lifespan support is served without.
        """
        await self._lifespan.startup()

    async def shutdown(self) -> None:
        await self._lifespan.shutdown()

    # -- HTTPServerConnectionDelegate ----------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return ContainerExchange(self, request_conn)

    # -- a plain callable(request): web.FallbackHandler, HTTPServer --------------

    def __call__(self, request: HTTPServerRequest) -> None:
        """Answer ``request``, whose body is already complete."""
        connection = request.connection
        if connection is None:
            raise ValueError("the request has no connection to answer on")
        exchange = ContainerExchange(self, connection)
        set_close_callback = getattr(connection, "set_close_callback", None)
        if set_close_callback is not None:
            set_close_callback(exchange.on_connection_close)
        start_line = RequestStartLine(request.method, request.uri, request.version)
        exchange.headers_received(start_line, request.headers)
        if request.body:
            exchange.data_received(request.body)
        exchange.finish()

    # -- scopes ----------------------------------------------------------------

    def scope_for(
        self, kind: str, start_line: RequestStartLine, headers: HTTPHeaders, connection: Any
    ) -> Scope:
        """The ASGI scope of one request (``kind``: "http" or "websocket")."""
        context = getattr(connection, "context", None)
        secure = getattr(context, "protocol", "http") == "https"
        raw_target, _, query = start_line.path.partition("?")
        address = getattr(context, "address", None)
        client = None
        if isinstance(address, tuple) and len(address) >= 2:
            # remote_ip rather than the socket's peer: with xheaders=True it
            # is the client a trusted proxy reported.
            client = [getattr(context, "remote_ip", None) or str(address[0]), int(address[1])]
        host, port = split_host_and_port(headers.get("Host", ""))
        scope: Scope = {
            "type": kind,
            "asgi": dict(ASGI_VERSION),
            "http_version": start_line.version.partition("/")[2] or "1.1",
            "scheme": ("https" if secure else "http")
            if kind == "http"
            else ("wss" if secure else "ws"),
            "path": urllib.parse.unquote(raw_target),
            "raw_path": raw_target.encode("latin-1", "replace"),
            "query_string": query.encode("latin-1", "replace"),
            "root_path": self.root_path,
            "headers": scope_headers(headers),
            "client": client,
            "server": [host, port if port is not None else (443 if secure else 80)]
            if host
            else None,
            "state": dict(self._lifespan.state),
            "extensions": {},
        }
        if kind == "http":
            scope["method"] = start_line.method
        return scope


class ContainerExchange(HTTPMessageDelegate):
    """One request to the hosted application, and its response."""

    def __init__(self, container: ASGIContainer, connection: HTTPConnection) -> None:
        self.container = container
        self.connection: Any = connection
        self._loop = asyncio.get_running_loop()
        # Request side: body messages not yet received by the application.
        self._inbox: deque[Message] = deque()
        self._inbox_bytes = 0
        self._receiver: asyncio.Future[None] | None = None  # receive() waiting
        self._room: asyncio.Future[None] | None = None  # data_received waiting
        self.disconnected = False
        # Response side.
        self._status: int | None = None
        self._headers: HTTPHeaders | None = None
        self._headers_written = False
        self.complete = False
        self._task: asyncio.Task[None] | None = None
        self.websocket: Any = None  # a _container_ws.ContainerWebSocket for upgrades
        self.method = "GET"

    # -- HTTPMessageDelegate: the request arriving -------------------------------

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> None:
        assert isinstance(start_line, RequestStartLine)
        if start_line.method == "GET" and "websocket" in headers.get("Upgrade", "").lower():
            from squall.asgi._container_ws import ContainerWebSocket

            self.websocket = ContainerWebSocket(self, start_line, headers)
            self._task = self._loop.create_task(self.websocket.run())
            return
        self.method = start_line.method
        scope = self.container.scope_for("http", start_line, headers, self.connection)
        self._task = self._loop.create_task(self._run(scope))

    def data_received(self, chunk: bytes) -> asyncio.Future[None] | None:
        if self.websocket is not None:
            return None  # an upgrade request's body is ignored
        self._inbox.append({"type": "http.request", "body": chunk, "more_body": True})
        self._inbox_bytes += len(chunk)
        self._wake_receiver()
        if self._inbox_bytes > BODY_HIGH_WATER:
            self._room = self._loop.create_future()
            return self._room
        return None

    def finish(self) -> None:
        if self.websocket is not None:
            return
        self._inbox.append({"type": "http.request", "body": b"", "more_body": False})
        self._wake_receiver()

    def on_connection_close(self) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self._wake_receiver()
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)
        if self.websocket is not None:
            self.websocket.connection_lost()

    def _wake_receiver(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_result(None)

    # -- the application's receive and send ----------------------------------------

    async def receive(self) -> Message:
        while True:
            if self._inbox:
                message = self._inbox.popleft()
                self._inbox_bytes -= len(message["body"])
                room = self._room
                if room is not None and self._inbox_bytes <= BODY_HIGH_WATER // 2:
                    self._room = None
                    if not room.done():
                        room.set_result(None)
                return message
            if self.disconnected or self.complete:
                # After the response, receive() reports the end at once, as
                # ASGI servers do; before it, only a real disconnect.
                return {"type": "http.disconnect"}
            self._receiver = self._loop.create_future()
            await self._receiver

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")
        if kind == "http.response.start":
            if self._status is not None:
                raise ProtocolViolation("http.response.start sent twice")
            headers = headers_from_asgi(message.get("headers") or ())
            self._status = int(message["status"])
            self._headers = headers
            return
        if kind != "http.response.body":
            raise ProtocolViolation(f"unexpected ASGI message {kind!r}")
        if self._status is None:
            raise ProtocolViolation("http.response.body before http.response.start")
        if self.complete:
            raise ProtocolViolation("http.response.body after the response was complete")
        await self.write_body(message.get("body") or b"", bool(message.get("more_body", False)))

    async def write_body(self, body: bytes, more: bool) -> None:
        connection = self.connection
        try:
            if not self._headers_written:
                self._headers_written = True
                written: asyncio.Future[None] | None = self._write_head(body, more)
            else:
                written = connection.write(bytes(body)) if body else None
            if not more:
                self.complete = True
                connection.finish()
                self._wake_receiver()
        except HTTPOutputError as e:
            # More or fewer bytes than the Content-Length the application
            # announced: squall's server has dropped the connection.
            self.complete = True
            raise ProtocolViolation(str(e)) from None
        if written is not None:
            try:
                await written
            except StreamClosedError:
                raise ClientDisconnected("the client has disconnected") from None

    def _write_head(self, body: bytes, more: bool) -> asyncio.Future[None]:
        headers = self._headers if self._headers is not None else HTTPHeaders()
        # Framing is squall's business (RFC 9112 section 6.1): an
        # application's Transfer-Encoding would claim a framing squall did
        # not choose.
        if "Transfer-Encoding" in headers:
            del headers["Transfer-Encoding"]
        status = self._status or 200
        bodiless = status in (204, 304) or status < 200 or self.method == "HEAD"
        if not more and not bodiless and "Content-Length" not in headers:
            # The whole body in one message: say its length rather than
            # chunk it.
            headers["Content-Length"] = str(len(body))
        start = ResponseStartLine("HTTP/1.1", status, responses.get(status, "Unknown"))
        return self.connection.write_headers(start, headers, bytes(body))  # type: ignore[no-any-return]

    # -- running the application ---------------------------------------------------

    async def _run(self, scope: Scope) -> None:
        try:
            await self.container.app(scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except Exception:
            if not self.disconnected:
                app_log.error("Exception in ASGI application", exc_info=True)
            self._end_badly()
            return
        if not self.complete and not self.disconnected:
            app_log.error("ASGI application returned without completing its response")
            self._end_badly()

    def _end_badly(self) -> None:
        if self.complete or self.disconnected:
            return
        if not self._headers_written:
            self._headers_written = True
            self.complete = True
            body = b"Internal Server Error"
            headers = HTTPHeaders(
                {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
            )
            self.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 500, "Internal Server Error"), headers, body
            )
            self.connection.finish()
            return
        # Part of the response is out: only dropping the connection tells
        # the client it is incomplete.
        self.complete = True
        abort_connection(self.connection)


def abort_connection(connection: Any) -> None:
    """Drop a squall server connection mid-response (its framing is lost)."""
    try:
        stream = connection.detach()
    except Exception:
        return
    stream.close()


def headers_from_asgi(pairs: Any) -> HTTPHeaders:
    """An application's response headers (byte pairs) as ``HTTPHeaders``.

    Raises ``ProtocolViolation`` for a name or value no header can carry
    (CR, LF and other controls: header injection).
    """
    headers = HTTPHeaders()
    try:
        for name, value in pairs:
            try:
                text = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                text = bytes(value).decode("latin-1")
            headers.add(bytes(name).decode("latin-1"), text)
    except (HTTPInputError, TypeError, ValueError) as e:
        raise ProtocolViolation(f"invalid response header: {e}") from None
    return headers
