"""``WSGIAdapter`` and ``WSGIApplication``: squall applications as WSGI callables.

Each WSGI call plays the HTTP server's part for one request: it drives the
application's ``start_request`` delegate (headers, body chunks read from
``wsgi.input``, finish) exactly as ``HTTPServer`` would, on a private event
loop of the calling thread, and collects the response through an
``HTTPConnection`` that records instead of sending. The response goes back
to the WSGI server once the handler has finished.

What needs a live event loop or the socket fails with
``WSGIUnsupportedError`` naming the feature: a coroutine still waiting after
``MAX_LOOP_PASSES`` passes of the private loop (I/O, timers, the async HTTP
client), an ``@asynchronous`` handler left open, ``flush()`` before the
handler finishes (the WSGI server sends nothing until the call returns) and
WebSocket (the connection cannot be taken over).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.web import Application, OutputTransform, StaticFileHandler
from squall.wsgi._errors import WSGIUnsupportedError

__all__ = ["MAX_BODY_SIZE", "MAX_LOOP_PASSES", "WSGIAdapter", "WSGIApplication"]

# Passes of the private loop a handler's awaitable may take to complete.
# Ready callbacks finish in a few passes; anything still pending after this
# many waits for I/O or a timer, which no WSGI call can wait for.
MAX_LOOP_PASSES = 100

# Largest request body read from wsgi.input: HTTPServer's default
# max_body_size (Tornado's, 100 MiB). Larger requests get 413.
MAX_BODY_SIZE = 100 * 1024 * 1024

# Bytes read from wsgi.input per data_received call (the HTTP server's
# read size), so stream_request_body handlers see it arrive in pieces.
BODY_CHUNK_SIZE = 64 * 1024

# Connection-level headers a WSGI application must not send (PEP 3333,
# RFC 9110 §7.6.1); the WSGI server frames the response itself.
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)

_WSGICallable = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _LoopHolder:
    """A thread's private event loop, closed when the thread ends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed():
            self.loop.close()


_thread_state = threading.local()


def _private_loop() -> asyncio.AbstractEventLoop:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise WSGIUnsupportedError(
            "a WSGI application cannot be called on a thread that runs an event loop; "
            "call it from a WSGI server (or WSGIContainer's worker threads)"
        )
    holder = getattr(_thread_state, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _thread_state.holder = _LoopHolder()
    return holder.loop


def _discard_private_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a thread's loop that a failed handler left work on (timers,
    tasks waiting on I/O), so none of it lingers into later requests."""
    if getattr(_thread_state, "holder", None) is not None:
        if _thread_state.holder.loop is loop:
            _thread_state.holder = None
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


class _RequestContext:
    """What HTTPServerRequest reads from ``connection.context``."""

    __slots__ = ("address", "protocol", "remote_ip")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.remote_ip = environ.get("REMOTE_ADDR") or "0.0.0.0"
        self.protocol = environ.get("wsgi.url_scheme", "http")
        self.address = (self.remote_ip, 0)


class _CollectingConnection(HTTPConnection):
    """The response side of a WSGI call: records what the handler writes."""

    def __init__(self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.context = _RequestContext(environ)
        self.loop = loop
        self.start_line: ResponseStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.finished = False
        self.finishing = False
        self.handler: Any = None
        self.unsupported: WSGIUnsupportedError | None = None

    def _done(self) -> asyncio.Future[None]:
        future = self.loop.create_future()
        future.set_result(None)
        return future

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        # A handler registers its on_connection_close when it starts and
        # clears it as finish() begins: the flush that follows is the final
        # one, which WSGI can deliver.
        if callback is None:
            self.finishing = True
        else:
            self.handler = getattr(callback, "__self__", None)

    def _check_flush(self) -> None:
        if self.finishing or isinstance(self.handler, StaticFileHandler):
            # Static files flush as they stream; buffering them is harmless.
            return
        # Recorded, not raised: the handler runs to its end undisturbed
        # and the WSGI call then fails with this one clear error.
        if self.unsupported is None:
            self.unsupported = WSGIUnsupportedError(
                "flush() cannot send output to the client before the handler finishes "
                "under WSGI: the WSGI server sends the response when the call returns"
            )

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        assert isinstance(start_line, ResponseStartLine)
        self._check_flush()
        self.start_line = start_line
        self.headers = headers
        if chunk:
            self.chunks.append(chunk)
        return self._done()

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        self._check_flush()
        if chunk:
            self.chunks.append(chunk)
        return self._done()

    def finish(self) -> None:
        self.finished = True

    def detach(self) -> Any:
        error = WSGIUnsupportedError(
            "WebSocket (or any other takeover of the connection) cannot work under WSGI: "
            "the WSGI server owns the socket"
        )
        self.unsupported = error
        raise error


def _request_headers(environ: dict[str, Any]) -> HTTPHeaders:
    headers = HTTPHeaders()
    for key, value in environ.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            name = key[5:].replace("_", "-").title()
            headers.add(name, value)
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        value = environ.get(key)
        if value:
            headers[name] = value
    if "Host" not in headers:
        # PEP 3333's URL reconstruction: SERVER_NAME and a non-default port.
        host = environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
        headers["Host"] = host if port in ("", default) else f"{host}:{port}"
    return headers


def _request_target(environ: dict[str, Any]) -> str:
    from urllib.parse import quote

    # PATH_INFO and SCRIPT_NAME are bytes carried in latin-1 strings.
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    path = quote(raw, safe="/:@!$&'()*+,;=~-._") or "/"
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


class _Refused(Exception):
    """A request answered without running the application (its body is bad)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _plain_response(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    body = message.encode("utf-8")
    start_response(
        status,
        [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


class WSGIAdapter:
    """Serves a squall ``Application`` from a WSGI server::

        application = squall.web.Application([(r"/", MainHandler)])
        wsgi_app = squall.wsgi.WSGIAdapter(application)
        # gunicorn mymodule:wsgi_app

    Synchronous handlers, templates, cookies, signed cookies, XSRF, static
    files and error pages work as under ``HTTPServer``. See the module
    notes for what fails with ``WSGIUnsupportedError``.
    """

    def __init__(self, application: Application) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        loop = _private_loop()
        connection = _CollectingConnection(environ, loop)
        try:
            length = self._body_length(environ)
            loop.run_until_complete(self._serve(environ, connection, length))
        except WSGIUnsupportedError:
            _discard_private_loop(loop)
            raise
        except _Refused as refused:
            return _plain_response(start_response, refused.status, refused.message)
        except HTTPInputError as e:
            # What HTTPServer answers 400 to (a malformed form body, too
            # many arguments...) gets the same answer here.
            return _plain_response(start_response, "400 Bad Request", f"400: {e}\n")
        if connection.unsupported is not None:
            _discard_private_loop(loop)
            raise connection.unsupported
        assert connection.start_line is not None and connection.headers is not None
        start_line = connection.start_line
        headers = connection.headers
        body = b"".join(connection.chunks)
        code = start_line.code
        response_headers = [
            (name, value) for name, value in headers.get_all() if name.lower() not in _HOP_BY_HOP
        ]
        if (
            "Content-Length" not in headers
            and not (code < 200 or code in (204, 304))
            and environ.get("REQUEST_METHOD") != "HEAD"
        ):
            response_headers.append(("Content-Length", str(len(body))))
        start_response(f"{code} {start_line.reason}", response_headers)
        return [body]

    @staticmethod
    def _body_length(environ: dict[str, Any]) -> int | None:
        """The declared body size; None for "read until EOF"; 0 for none."""
        declared = environ.get("CONTENT_LENGTH")
        if declared:
            if not declared.isdigit():  # RFC 9110 §8.6: 1*DIGIT
                raise _Refused("400 Bad Request", f"400: invalid Content-Length {declared!r}\n")
            length = int(declared)
            if length > MAX_BODY_SIZE:
                raise _Refused("413 Payload Too Large", "413: request body too large\n")
            return length
        return None if environ.get("wsgi.input_terminated") else 0

    async def _serve(
        self, environ: dict[str, Any], connection: _CollectingConnection, length: int | None
    ) -> None:
        version = environ.get("SERVER_PROTOCOL") or "HTTP/1.0"
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            version = "HTTP/1.1"  # e.g. HTTP/2 behind the WSGI server
        start_line = RequestStartLine(
            environ.get("REQUEST_METHOD", "GET"), _request_target(environ), version
        )
        delegate: HTTPMessageDelegate = self.application.start_request(None, connection)
        await self._settle(delegate.headers_received(start_line, _request_headers(environ)))
        body = environ.get("wsgi.input")
        remaining = length
        received = 0
        while body is not None and (remaining is None or remaining > 0):
            size = BODY_CHUNK_SIZE if remaining is None else min(BODY_CHUNK_SIZE, remaining)
            chunk = body.read(size)
            if not chunk:
                if remaining is not None:
                    raise _Refused("400 Bad Request", "400: the request body ended early\n")
                break
            received += len(chunk)
            if received > MAX_BODY_SIZE:
                raise _Refused("413 Payload Too Large", "413: request body too large\n")
            if remaining is not None:
                remaining -= len(chunk)
            await self._settle(delegate.data_received(chunk))
        # Application delegates return their handler's coroutine here.
        finished: Any = delegate.finish()  # type: ignore[func-returns-value]
        await self._settle(finished)
        # A stream_request_body handler goes on in a task of its own once
        # the body is complete: give it the same passes to finish in.
        for _ in range(MAX_LOOP_PASSES):
            if connection.finished:
                break
            await asyncio.sleep(0)
        if not connection.finished and connection.unsupported is None:
            handler = connection.handler
            if handler is not None and getattr(handler, "_auto_finish", True) is False:
                raise WSGIUnsupportedError(
                    "@asynchronous handlers cannot finish later under WSGI: "
                    f"{type(handler).__name__} returned without calling finish()"
                )
            raise WSGIUnsupportedError(
                "the handler returned without finishing its response, which a WSGI "
                "server cannot wait for"
            )

    async def _settle(self, pending: Awaitable[Any] | None) -> None:
        """Await a delegate's result, allowing only loop passes without I/O."""
        if pending is None:
            return
        task = asyncio.ensure_future(pending)
        for _ in range(MAX_LOOP_PASSES):
            if task.done():
                break
            await asyncio.sleep(0)
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass
            raise WSGIUnsupportedError(
                "a coroutine handler waited on I/O or a timer (the async HTTP client, "
                "sleeping, another server...), which cannot happen under WSGI: "
                "the call must produce its response without an event loop serving it"
            )
        task.result()


class WSGIApplication(Application):
    """A squall ``Application`` that is also a WSGI callable (Tornado 1.x)::

        application = squall.wsgi.WSGIApplication([(r"/", MainHandler)])
        wsgiref.handlers.CGIHandler().run(application)

    Called with ``(environ, start_response)`` it serves one WSGI request
    (see ``WSGIAdapter``); it still works as an ``HTTPServer`` delegate.
    """

    def __init__(
        self,
        handlers: Sequence[Any] | None = None,
        default_host: str | None = "",
        transforms: list[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(handlers, default_host, transforms, **settings)
        self._wsgi = WSGIAdapter(self)

    def __call__(self, environ: Any, start_response: Callable[..., Any] | None = None) -> Any:
        if start_response is None and isinstance(environ, HTTPServerRequest):
            return super().__call__(environ)  # the legacy callable(request) form
        assert start_response is not None
        return self._wsgi(environ, start_response)
