"""``WSGIContainer``: WSGI applications served by squall's HTTP server.

The container is an ``HTTPServerConnectionDelegate``: given to
``HTTPServer`` directly it sees each request as its head arrives, starts
the application on a worker thread at once and streams the body to it
through ``wsgi.input``. Called as ``container(request)`` (by
``web.FallbackHandler`` or a plain request callback) it runs a request
whose body has already been read. Either way the event loop only moves
bytes; the application runs on ``WorkerPool``'s threads.

The exception is Tornado 6's documented default: ``executor=None`` (given
explicitly) or a ``DummyExecutor`` runs the application on the event
loop's own thread, one request at a time, after the whole body is read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from squall.concurrent import DummyExecutor
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import access_log, app_log
from squall.wsgi._environ import build_environ
from squall.wsgi._errors import ClientDisconnected
from squall.wsgi._input import WSGIInput
from squall.wsgi._pool import WorkerPool
from squall.wsgi._response import FileWrapper, run_application

__all__ = ["DRAIN_LIMIT", "RETRY_AFTER_SECONDS", "WSGIContainer"]

# Retry-After sent with a 503 when the pool and its queue are full
# (RFC 9110 §10.2.3, delay-seconds): long enough for a burst to pass.
RETRY_AFTER_SECONDS = 1

# Unread request body read and dropped after an early answer so that the
# connection can stay open (above it the connection closes instead): as
# much as a few of the HTTP server's 64 KiB reads, cheap next to a new
# connection.
DRAIN_LIMIT = 1024 * 1024

_BUSY_BODY = b"503: Service Unavailable (all WSGI worker threads are busy)\n"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OwnPool:
    """The ``executor`` argument left out: squall's own bounded pool."""

    def __repr__(self) -> str:
        return "OWN_POOL"


# Distinct from None, which Tornado 6 documents as "run on the loop thread".
OWN_POOL = _OwnPool()


class WSGIContainer(HTTPServerConnectionDelegate):
    """Serves a WSGI application from squall's ``HTTPServer``::

        container = WSGIContainer(flask_app)
        HTTPServer(container).listen(8888)
        # or next to squall handlers:
        Application([(r"/api/.*", ApiHandler),
                     (r".*", FallbackHandler, {"fallback": container})])

    The application runs on ``executor`` when given, else on a thread pool
    of ``max_workers`` threads (``DEFAULT_MAX_WORKERS``) holding at most
    ``max_queued`` more requests; beyond that clients get 503 with
    ``Retry-After``. ``close()`` stops the pool.

    ``executor=None`` given explicitly, or Tornado's ``dummy_executor``,
    means what it means to Tornado 6: the application runs on the event
    loop's thread (``inline``), which serves nothing else meanwhile.
    """

    def __init__(
        self,
        wsgi_application: WSGIApp,
        executor: Executor | _OwnPool | None = OWN_POOL,
        *,
        max_workers: int | None = None,
        max_queued: int | None = None,
    ) -> None:
        self.wsgi_application = wsgi_application
        self.inline = executor is None or isinstance(executor, DummyExecutor)
        self.executor = executor if isinstance(executor, Executor) else None
        pool_executor = None if self.inline else self.executor
        self.pool = WorkerPool(pool_executor, max_workers=max_workers, max_queued=max_queued)

    def close(self) -> None:
        """Stop admitting requests (later ones get 503).

        Requests already admitted still run; the pool's threads end when
        they are done. This does not wait for them: they may need the
        event loop, on whose thread close() is usually called.
        """
        self.pool.close(wait=False)

    # -- Tornado's plain-callable interface ---------------------------------------

    def __call__(self, request: HTTPServerRequest) -> None:
        """Answer ``request`` (its body already read) through ``request.connection``."""
        assert request.connection is not None
        exchange = _Exchange(self, request.connection, asyncio.get_running_loop())
        exchange.start(request, WSGIInput.from_bytes(request.body))

    def environ(self, request: HTTPServerRequest) -> dict[str, Any]:
        """The WSGI environ for a complete ``request`` (Tornado's method)."""
        return build_environ(request, WSGIInput.from_bytes(request.body), FileWrapper)

    # -- HTTPServerConnectionDelegate ---------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _StreamingRequest(self, server_conn, request_conn)

    # -- shared --------------------------------------------------------------------

    def _log(self, status: int, request: HTTPServerRequest) -> None:
        # One access line per response, worded and levelled as Tornado's
        # WSGIContainer words it (tests compare the two).
        level = _access_level(status)
        if not access_log.isEnabledFor(level):
            return
        elapsed_ms = request.request_time() * 1000.0
        who = f"{request.method} {request.uri} ({request.remote_ip})"
        access_log.log(level, "%d %s %.2fms", status, who, elapsed_ms)


def _access_level(status: int) -> int:
    """Server errors (5xx and above) at ERROR, client errors (4xx) at
    WARNING, everything else at INFO."""
    status_class = status // 100
    if status_class >= 5:
        return logging.ERROR
    return logging.WARNING if status_class == 4 else logging.INFO


class _StreamingRequest(HTTPMessageDelegate):
    """One request read by HTTPServer, its body streamed to the application."""

    def __init__(
        self, container: WSGIContainer, server_conn: object, connection: HTTPConnection
    ) -> None:
        self.container = container
        self.server_conn = server_conn
        self.connection = connection
        self.body: WSGIInput | None = None
        self.exchange: _Exchange | None = None
        # Inline containers read the whole body before the application runs.
        self.request: HTTPServerRequest | None = None
        self.chunks: list[bytes] = []

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        request = HTTPServerRequest(
            connection=self.connection,
            start_line=start_line,
            headers=headers,
            server_connection=self.server_conn,
        )
        loop = asyncio.get_running_loop()
        if self.container.inline:
            self.request = request
            return None
        # RFC 9112 §6.3: a request has a body only when it says so.
        has_body = "Content-Length" in headers or "Transfer-Encoding" in headers
        self.body = WSGIInput(loop, complete=not has_body)
        self.exchange = _Exchange(self.container, self.connection, loop)
        if not self.exchange.start(request, self.body):
            self.body.discard()  # refused: the rest of the body is dropped
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.request is not None:
            self.chunks.append(chunk)
            return None
        assert self.body is not None
        return self.body.feed(chunk)

    def finish(self) -> None:
        request = self.request
        if request is not None:
            body = b"".join(self.chunks)
            self.chunks = []
            request.body = body
            self.exchange = _Exchange(self.container, self.connection, asyncio.get_running_loop())
            self.exchange.start(request, WSGIInput.from_bytes(body))
            return
        assert self.body is not None
        self.body.finish()
        if self.exchange is not None:
            self.exchange.body_complete()

    def on_connection_close(self) -> None:
        if self.exchange is not None:
            self.exchange.connection_closed()


class _Exchange:
    """One request and its response, between the loop and a worker thread.

    Methods called by the worker (``send``, ``send_file``, ``abort``) hand
    work to the loop with ``call_soon_threadsafe``; everything that touches
    the connection runs on the loop.
    """

    def __init__(
        self,
        container: WSGIContainer,
        connection: HTTPConnection,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.container = container
        self.connection = connection
        self.loop = loop
        self.method = "GET"
        self.request: HTTPServerRequest | None = None
        self.body: WSGIInput | None = None
        self.gone = False
        self.status = 0
        self._finish_when_body_ends = False
        # Worker futures not yet resolved, failed if the client leaves.
        self._outstanding: set[concurrent.futures.Future[Any]] = set()

    def start(self, request: HTTPServerRequest, body: WSGIInput) -> bool:
        """Admit the request to the pool, or answer 503; False if refused."""
        self.request = request
        self.method = request.method
        self.body = body
        set_close_callback = getattr(self.connection, "set_close_callback", None)
        if set_close_callback is not None:
            set_close_callback(self.connection_closed)
        environ = build_environ(request, body, FileWrapper)
        if self.container.inline:
            self._run(environ)
            return True
        if self.container.pool.try_submit(self._run, environ):
            return True
        headers = HTTPHeaders(
            {
                "Content-Type": "text/plain; charset=UTF-8",
                "Content-Length": str(len(_BUSY_BODY)),
                "Retry-After": str(RETRY_AFTER_SECONDS),
            }
        )
        busy = ResponseStartLine("HTTP/1.1", 503, "Service Unavailable")
        self._deliver((busy, headers), _BUSY_BODY, True, None)
        return False

    # -- worker thread -----------------------------------------------------------

    def _run(self, environ: dict[str, Any]) -> None:
        try:
            if self.gone:
                return  # the client left while the request was queued
            run_application(self.container.wsgi_application, environ, self)
        finally:
            assert self.body is not None
            self.body.discard()

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the server is gone
            future = args[-1] if args else None
            if isinstance(future, concurrent.futures.Future) and not future.done():
                future.set_exception(ClientDisconnected("the server stopped"))

    def send(
        self,
        head: tuple[ResponseStartLine, HTTPHeaders] | None,
        chunk: bytes,
        finish: bool,
    ) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self.container.inline:
            # On the loop's thread already: written now, never waited for
            # (the loop could not resolve a wait while the application runs).
            self._deliver(head, chunk, finish, None)
            if self.gone:
                future.set_exception(ClientDisconnected("the client disconnected"))
            else:
                future.set_result(None)
            return future
        self._post(self._deliver, head, chunk, finish, future)
        return future

    def send_file(
        self, head: tuple[ResponseStartLine, HTTPHeaders], file: Any, offset: int, count: int
    ) -> concurrent.futures.Future[int | None] | None:
        if self.container.inline or getattr(self.connection, "sendfile", None) is None:
            return None
        future: concurrent.futures.Future[int | None] = concurrent.futures.Future()
        self._post(self._deliver_file, head, file, offset, count, future)
        return future

    def abort(self) -> None:
        if self.container.inline:
            self._abort_on_loop()
        else:
            self._post(self._abort_on_loop)

    def loop_closed(self) -> bool:
        return self.loop.is_closed()

    # -- event loop ----------------------------------------------------------------

    def _deliver(
        self,
        head: tuple[ResponseStartLine, HTTPHeaders] | None,
        chunk: bytes,
        finish: bool,
        future: concurrent.futures.Future[None] | None,
    ) -> None:
        if self.gone:
            if future is not None:
                future.set_exception(ClientDisconnected("the client disconnected"))
            return
        conn = self.connection
        try:
            if head is not None:
                self.status = head[0].code
                written = conn.write_headers(head[0], head[1], chunk or None)
            else:
                written = conn.write(chunk)
            if finish:
                self._finish_response()
        except Exception as e:
            app_log.error("Error writing the WSGI response: %s", e)
            self._abort_on_loop()
            if future is not None:
                future.set_exception(ClientDisconnected(str(e)))
            return
        if future is not None:
            self._outstanding.add(future)
            written.add_done_callback(lambda w: self._relay(w, future))

    def _finish_response(self) -> None:
        """End the response, once the request body is in if it soon will be.

        An application may answer without reading the body. The connection
        then closes unless the body is read to its end, so a short rest is
        read and dropped first (as nginx's lingering close does) and the
        connection stays alive for the client's next request.
        """
        body = self.body
        request = self.request
        assert request is not None
        if body is not None and not body.complete:
            declared = request.headers.get("Content-Length", "")
            unread = int(declared) - body.bytes_received if declared.isdigit() else None
            if unread is not None and unread <= DRAIN_LIMIT:
                self._finish_when_body_ends = True
                return
        self._finish_when_body_ends = False
        self.connection.finish()
        self.container._log(self.status, request)

    def body_complete(self) -> None:
        """The request body has all arrived (loop side)."""
        if self._finish_when_body_ends and not self.gone:
            self._finish_when_body_ends = False
            try:
                self._finish_response()
            except Exception as e:
                app_log.error("Error writing the WSGI response: %s", e)
                self._abort_on_loop()

    def _relay(self, written: asyncio.Future[Any], future: concurrent.futures.Future[Any]) -> None:
        self._outstanding.discard(future)
        if future.done():
            return
        if written.cancelled() or written.exception() is not None:
            future.set_exception(ClientDisconnected("the client disconnected"))
        else:
            future.set_result(None)

    def _deliver_file(
        self,
        head: tuple[ResponseStartLine, HTTPHeaders],
        file: Any,
        offset: int,
        count: int,
        future: concurrent.futures.Future[int | None],
    ) -> None:
        self._outstanding.add(future)
        task = self.loop.create_task(self._sendfile(head, file, offset, count, future))
        task.add_done_callback(_retrieve)

    async def _sendfile(
        self,
        head: tuple[ResponseStartLine, HTTPHeaders],
        file: Any,
        offset: int,
        count: int,
        future: concurrent.futures.Future[int | None],
    ) -> None:
        try:
            if self.gone:
                raise ClientDisconnected("the client disconnected")
            self.status = head[0].code
            await self.connection.write_headers(head[0], head[1])
            sent = await self.connection.sendfile(file, offset, count)  # type: ignore[attr-defined]
            if sent is not None:
                self._finish_response()
        except Exception as e:
            self._outstanding.discard(future)
            if not future.done():
                future.set_exception(ClientDisconnected(str(e)))
            self._abort_on_loop()
            return
        self._outstanding.discard(future)
        if not future.done():
            future.set_result(sent)

    def _abort_on_loop(self) -> None:
        if self.gone:
            return
        self.gone = True
        # Taking the connection over and closing it is how a response that
        # cannot be completed ends: the client sees it cut short (no final
        # chunk, or fewer bytes than Content-Length), never as complete.
        detach = getattr(self.connection, "detach", None)
        if detach is None:
            return
        try:
            detach().close()
        except Exception:  # already closed by the client
            pass

    def connection_closed(self) -> None:
        """The client went away: unblock the worker wherever it waits."""
        self.gone = True
        if self.body is not None:
            self.body.abort()
        outstanding, self._outstanding = self._outstanding, set()
        for future in outstanding:
            if not future.done():
                future.set_exception(ClientDisconnected("the client disconnected"))


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
