"""A squall application served by an ASGI server (``to_asgi``).

Each ASGI ``http`` call becomes one request on an ``ASGIRequestConnection``
(squall's ``HTTPConnection`` interface over ``receive``/``send``): the
application's delegate gets the headers, the body chunk by chunk as the
server delivers them (``more_body``), then ``finish``; its writes become
``http.response.*`` messages, sent in order, each write's Future resolving
once the server took it. A ``websocket`` call runs the routed
``WebSocketHandler`` over ASGI WebSocket events (see ``_websocket``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from squall.asgi._common import (
    Message,
    Outbox,
    Receive,
    Scope,
    ScopeContext,
    Send,
    log_task_failure,
    request_headers,
    response_header_list,
    split_target,
)
from squall.asgi._lifespan import serve_lifespan
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
    responses,
)
from squall.iostream import StreamClosedError
from squall.log import app_log, gen_log

# Request body limit: Tornado's max_body_size default (100 MiB), as squall's
# own server; a handler may change it with request.connection.set_max_body_size.
DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024

# Hop-by-hop framing is the ASGI server's business: it chooses chunked or
# not itself, and would otherwise frame the body twice.
_SERVER_OWNED_HEADERS = frozenset(("Transfer-Encoding",))


class ASGIRequestConnection(HTTPConnection):
    """One request from an ASGI server, and the response to it.

    ``scope`` is the ASGI scope (its ``state`` is the lifespan state the
    server copies into each request).
    """

    __slots__ = (
        "_close_callback",
        "_done",
        "_finished",
        "_listening",
        "_started",
        "_wake",
        "aborted",
        "context",
        "delegate",
        "disconnected",
        "early_messages",
        "max_body_size",
        "outbox",
        "scope",
    )

    # The response's message types (the WebSocket denial response differs).
    START = "http.response.start"
    BODY = "http.response.body"

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.context = ScopeContext(scope)
        self.outbox = Outbox(send)
        self.outbox.on_failure = self._send_failed
        self.delegate: HTTPMessageDelegate | None = None
        self.max_body_size = DEFAULT_MAX_BODY_SIZE
        self.disconnected = False
        self._close_callback: Callable[[], None] | None = None
        self._started = False
        self._finished = False
        self.aborted = False
        # Resolved once the last response message has been sent.
        self._done: asyncio.Future[None] | None = None
        # Resolved when finish() is called, for wait_response.
        self._wake: asyncio.Future[None] | None = None
        # A pending receive() watching for http.disconnect.
        self._listening: asyncio.Future[Message] | None = None
        # What that receive() got that was not a disconnect.
        self.early_messages: list[Message] = []

    # -- what RequestHandler calls besides HTTPConnection's methods ------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the client leaves before the response ends."""
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        self.max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """Accepted for compatibility: the ASGI server times bodies out."""

    # -- HTTPConnection ------------------------------------------------------

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        if self._started:
            raise HTTPOutputError("write_headers called twice")
        if not isinstance(start_line, ResponseStartLine):
            raise TypeError("a server writes a ResponseStartLine")
        pairs = response_header_list(headers, _SERVER_OWNED_HEADERS)
        self._started = True
        start = {"type": self.START, "status": start_line.code, "headers": pairs}
        if not chunk:
            return self.outbox.put(start)
        self.outbox.put_untracked(start)
        return self.outbox.put({"type": self.BODY, "body": chunk, "more_body": True})

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        if not self._started:
            raise HTTPOutputError("write called before write_headers")
        if self._finished:
            raise HTTPOutputError("write called after finish")
        if not chunk:
            # flush() with nothing new: resolves once what is queued is sent.
            return self.outbox.put(None)
        return self.outbox.put({"type": self.BODY, "body": chunk, "more_body": True})

    def finish(self) -> None:
        if self._finished:
            return
        if not self._started:
            raise HTTPOutputError("finish called before write_headers")
        self._finished = True
        self._close_callback = None
        last = self.outbox.last_unsent()
        if last is not None and last["type"] == self.BODY:
            # Head and body written together, then finish (the usual small
            # response): one body message that says it is the last.
            last["more_body"] = False
            final = self.outbox.last_future()
        else:
            final = self.outbox.put({"type": self.BODY, "body": b"", "more_body": False})
        self._set_done(final)

    def detach(self) -> Any:
        raise NotImplementedError("an ASGI server's connection cannot be detached")

    # -- the client going away -------------------------------------------------

    def _send_failed(self, error: BaseException) -> None:
        # The server refused a message: the client is gone.
        gen_log.debug("ASGI send failed: %r", error)
        self.lost()

    def lost(self) -> None:
        """The client disconnected: tell the delegate and the handler once."""
        if self.disconnected:
            return
        self.disconnected = True
        self.outbox.close()
        callback, self._close_callback = self._close_callback, None
        if self.delegate is not None and not self._finished:
            try:
                self.delegate.on_connection_close()
            except Exception:
                app_log.error("Uncaught exception in on_connection_close", exc_info=True)
        if callback is not None:
            try:
                callback()
            except Exception:
                app_log.error("Uncaught exception in close callback", exc_info=True)

    # -- running one request ---------------------------------------------------

    async def call(
        self, method: Callable[..., Any], *args: Any, receive: Receive | None = None
    ) -> bool:
        """Call a delegate method and await what it returns; False: stop here.

        With ``receive`` (the body is all in), a disconnect while the
        awaitable is pending is noticed (a long poll's handler must hear of
        it); the handler then goes on in its own task.
        """
        outbox = self.outbox
        outbox.hold = True
        try:
            result = method(*args)
        except HTTPInputError as e:
            self._bad_request(e)
            return False
        except Exception:
            app_log.error("Uncaught exception handling request", exc_info=True)
            self._fail()
            return False
        finally:
            outbox.hold = False
        if not outbox.idle():
            await outbox.drain()
        if result is None or not inspect.isawaitable(result):
            return not self.disconnected
        if receive is not None:
            task = asyncio.ensure_future(result)
            if not await self._until_disconnect(task, receive):
                task.add_done_callback(log_task_failure("request handler"))
                return False
            result = task
        try:
            await result
        except HTTPInputError as e:
            self._bad_request(e)
            return False
        except StreamClosedError:
            if self.disconnected:
                return False
            raise
        except Exception:
            app_log.error("Uncaught exception handling request", exc_info=True)
            self._fail()
            return False
        return not self.disconnected

    async def _until_disconnect(self, waiting: asyncio.Future[Any], receive: Receive) -> bool:
        """Wait for ``waiting``; False if the client left first."""
        while not waiting.done():
            listening = self._listening
            if listening is None:
                listening = self._listening = asyncio.ensure_future(_receive(receive))
            await asyncio.wait((waiting, listening), return_when=asyncio.FIRST_COMPLETED)
            if listening.done():
                self._listening = None
                message = listening.result()
                # Nothing but a disconnect may come after an HTTP body; a
                # WebSocket's first messages may (right after the accept):
                # keep them for its receive loop, the disconnect included.
                self.early_messages.append(message)
                if message.get("type") in _DISCONNECTS:
                    self.lost()
                    return False
        return True

    def stop_listening(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None and not listening.done():
            listening.cancel()

    def _bad_request(self, error: HTTPInputError) -> None:
        gen_log.info("Malformed HTTP request from %s: %s", self.context, error)
        self._answer_error(400, str(error) or "malformed request")

    def _fail(self) -> None:
        self._answer_error(500, "Internal Server Error")

    def _answer_error(self, status: int, message: str) -> None:
        if self._started:
            if not self._finished:
                # The response is cut short: an ASGI application says so
                # by raising, which makes the server drop the connection.
                self._finished = True
                self.aborted = True
                self._set_done(self.outbox.put(None))
            return
        reason = responses.get(status, "Error")
        body = f"{status} {reason}: {message}\n".encode()
        headers = HTTPHeaders(
            {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
        )
        self.write_headers(ResponseStartLine("HTTP/1.1", status, reason), headers, body)
        self.finish()

    def _set_done(self, final: asyncio.Future[None]) -> None:
        self._done = final
        waker, self._wake = self._wake, None
        if waker is not None:
            final.add_done_callback(lambda _: _set(waker))

    async def wait_response(self, receive: Receive, keep_listening: bool = False) -> None:
        """Until the response is sent (or a WebSocket accepted), or the
        client leaves first. ``keep_listening``: leave a pending receive()
        running for the caller (``take_listening``) instead of cancelling it."""
        try:
            await self.outbox.drain()
            while not self.disconnected:
                done = self._done
                if done is None:
                    done = self._wake = asyncio.get_running_loop().create_future()
                elif done.done():
                    return
                await self._until_disconnect(done, receive)
        finally:
            if not keep_listening:
                self.stop_listening()

    def take_listening(self) -> asyncio.Future[Message] | None:
        listening, self._listening = self._listening, None
        return listening


_DISCONNECTS = frozenset(("http.disconnect", "websocket.disconnect"))


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _receive(receive: Receive) -> Message:
    return await receive()


class ASGIAdapter:
    """The ASGI 3 application ``to_asgi`` returns."""

    def __init__(self, delegate: HTTPServerConnectionDelegate, lifespan: bool = True) -> None:
        self.delegate = delegate
        self.lifespan = lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await serve_http(self.delegate, scope, receive, send)
        elif kind == "websocket":
            from squall.asgi._websocket import serve_websocket

            await serve_websocket(self.delegate, scope, receive, send)
        elif kind == "lifespan":
            if not self.lifespan:
                # The spec's way to say "no lifespan here": raise; servers
                # then carry on without sending lifespan events.
                raise ValueError("lifespan events are turned off (to_asgi(lifespan=False))")
            await serve_lifespan(self.delegate, scope, receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")


def start_line_of(scope: Scope, method: str) -> RequestStartLine:
    path, query = split_target(scope)
    uri = f"{path}?{query}" if query else path
    version = scope.get("http_version") or "1.1"
    return RequestStartLine(method, uri, f"HTTP/{version}")


def headers_of(scope: Scope) -> HTTPHeaders:
    headers = request_headers(scope.get("headers") or ())
    if "Host" not in headers:
        # HTTP/2 and /3 carry :authority, which servers need not copy into
        # a Host header; squall's requests expect one.
        server = scope.get("server")
        if server:
            headers["Host"] = f"{server[0]}:{server[1]}" if server[1] is not None else server[0]
    return headers


async def serve_http(
    delegate: HTTPServerConnectionDelegate, scope: Scope, receive: Receive, send: Send
) -> None:
    connection = ASGIRequestConnection(scope, send)
    message_delegate = delegate.start_request(connection, connection)
    connection.delegate = message_delegate
    try:
        start_line = start_line_of(scope, scope["method"])
        headers = headers_of(scope)
    except HTTPInputError as e:
        connection._bad_request(e)
        await connection.wait_response(receive)
        return
    try:
        if await connection.call(message_delegate.headers_received, start_line, headers):
            if await _read_body(connection, message_delegate, receive):
                await connection.call(message_delegate.finish, receive=receive)
        await connection.wait_response(receive)
    except asyncio.CancelledError:
        # The server gave up on this request (it is shutting down): the
        # handler must not wait on writes that will never be sent.
        connection.outbox.cancel()
        connection.lost()
        raise
    finally:
        try:
            delegate.on_close(connection)
        except Exception:
            app_log.error("Uncaught exception in on_close", exc_info=True)
    if connection.aborted:
        raise ConnectionAbortedError("the response was cut short by an error in the application")


async def _read_body(
    connection: ASGIRequestConnection, delegate: HTTPMessageDelegate, receive: Receive
) -> bool:
    """Feed the body to the delegate; True once it is all in."""
    received = 0
    while True:
        if connection._finished:
            # Answered before the body was all in (a streaming handler's
            # prepare refused it): the rest is not for anyone, as on
            # squall's own server, which stops reading there.
            return False
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            connection.lost()
            return False
        if kind != "http.request":
            continue
        body = message.get("body") or b""
        if body:
            received += len(body)
            if received > connection.max_body_size:
                limit = connection.max_body_size
                gen_log.info("Request body over %d bytes from %s", limit, connection.context)
                connection._answer_error(413, "Payload Too Large")
                # As on squall's own server: the handler hears the request
                # is over (a streaming one stops waiting for its body).
                delegate.on_connection_close()
                return False
            if type(body) is not bytes:
                body = bytes(body)
            if not await connection.call(delegate.data_received, body):
                return False
        if not message.get("more_body", False):
            return True


def to_asgi(
    application: HTTPServerConnectionDelegate, *, lifespan: bool = True
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI 3 application serving ``application`` (a ``web.Application``
    or any ``HTTPServerConnectionDelegate``), for uvicorn, hypercorn,
    granian, gunicorn's ASGI workers...

    With ``lifespan`` the application's ``on_startup``/``on_shutdown``
    hooks run on the server's lifespan events.
    """
    if not isinstance(application, HTTPServerConnectionDelegate):
        raise TypeError(
            f"to_asgi serves an HTTPServerConnectionDelegate (a web.Application), "
            f"not {type(application).__name__}"
        )
    return ASGIAdapter(application, lifespan=lifespan)
