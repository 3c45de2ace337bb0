"""What both directions of the ASGI bridge share: the ASGI types, the error
tree, an ordered sender, and scope <-> squall request conversions."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import squall
from squall.httputil import HTTPHeaders, HTTPOutputError
from squall.iostream import StreamClosedError
from squall.log import app_log

# ASGI 3 (https://asgi.readthedocs.io/en/latest/specs/main.html).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The ASGI versions we speak: ASGI 3, HTTP/WebSocket spec 2.4 (websocket
# close reasons, websocket.http.response).
ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}


# The Server header squall's RequestHandler sends by default.
SQUALL_SERVER_HEADER = "SquallServer/" + squall.version


class ASGIError(Exception):
    """Base of squall.asgi's errors."""


class ProtocolViolation(ASGIError, RuntimeError):
    """An ASGI message out of order or malformed (the spec's RuntimeError)."""


class ClientDisconnected(ASGIError, OSError):
    """``send`` after the client went away (ASGI 2.4: an OSError subclass)."""


class LifespanFailure(ASGIError):
    """The application reported ``lifespan.startup.failed`` (or shutdown)."""


class Outbox:
    """Messages to ``send``, sent one at a time in order.

    ``put`` is synchronous (squall's HTTPConnection methods are) and returns
    a Future resolved once ``send`` has taken the message: awaiting it is
    back-pressure, since an ASGI server's ``send`` waits while the client is
    not reading. Whoever owns the outbox either drains it itself (``drain``)
    or lets ``put`` start a task to do so.
    """

    __slots__ = (
        "_failed",
        "_loop",
        "_pumping",
        "_queue",
        "_send",
        "_task",
        "error_type",
        "hold",
        "on_failure",
    )

    def __init__(self, send: Send) -> None:
        self._send = send
        # What the Futures of unsent messages fail with once send has failed.
        self.error_type: type[Exception] = StreamClosedError
        self._loop = asyncio.get_running_loop()
        self._queue: deque[list[Any]] = deque()  # [message or None, Future or None]
        self._pumping = False
        self._task: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
        self._failed: BaseException | None = None
        # While true, put() starts no task: the owner drains right after.
        self.hold = False
        self.on_failure: Callable[[BaseException], None] | None = None

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def put(self, message: Message | None) -> asyncio.Future[None]:
        """Queue ``message`` (None: a marker resolved once all before it are sent)."""
        future: asyncio.Future[None] = self._loop.create_future()
        if self._failed is not None:
            _fail(future, self.error_type)
            return future
        if message is None and not self._queue and not self._pumping:
            future.set_result(None)
            return future
        self._queue.append([message, future])
        self._start()
        return future

    def put_untracked(self, message: Message) -> None:
        """Queue ``message`` when nobody waits for it alone (a response head
        with its first body chunk right behind): no Future to make."""
        if self._failed is None:
            self._queue.append([message, None])
            self._start()

    def last_future(self) -> asyncio.Future[None]:
        """Resolved once everything queued so far is sent."""
        queue = self._queue
        if not queue:
            return self.put(None)
        last = queue[-1]
        if last[1] is None:
            last[1] = self._loop.create_future()
        future: asyncio.Future[None] = last[1]
        return future

    def _start(self) -> None:
        if not self._pumping and not self.hold:
            self._pumping = True
            self._task = self._loop.create_task(self._pump())

    def cancel(self) -> None:
        """Stop a send in progress (the server is cancelling us), and all after it."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        self.close()

    def close(self) -> None:
        """Nothing more may be sent (the client left): drop what is queued."""
        if self._failed is None:
            self._failed = StreamClosedError()
            while self._queue:
                _fail(self._queue.popleft()[1], self.error_type)

    def last_unsent(self) -> Message | None:
        """The newest message not yet handed to ``send`` (to amend it)."""
        return self._queue[-1][0] if self._queue else None

    def idle(self) -> bool:
        return not self._queue and not self._pumping

    async def drain(self) -> None:
        """Send what is queued, unless a task already is."""
        if self._pumping or not self._queue:
            return
        self._pumping = True
        await self._pump()

    async def _pump(self) -> None:
        queue = self._queue
        try:
            while queue:
                message, future = queue.popleft()
                if message is not None:
                    try:
                        await self._send(message)
                    except Exception as e:
                        self._fail_all(future, e)
                        return
                    except asyncio.CancelledError as e:
                        # The server is cancelling us: nobody may be left
                        # waiting on a write that will never happen.
                        self._fail_all(future, e)
                        raise
                if future is not None and not future.done():
                    future.set_result(None)
        finally:
            self._pumping = False

    def _fail_all(self, first: asyncio.Future[None] | None, error: BaseException) -> None:
        self._failed = error
        _fail(first, self.error_type)
        while self._queue:
            _fail(self._queue.popleft()[1], self.error_type)
        callback = self.on_failure
        if callback is not None:
            callback(error)


def _fail(future: asyncio.Future[None] | None, error_type: type[Exception]) -> None:
    if future is not None and not future.done():
        future.set_exception(error_type())
        # Callers often drop write futures (a finish() after the client
        # left): mark the failure seen; awaiting it still raises.
        future.exception()


def response_header_list(headers: HTTPHeaders, skip: frozenset[str]) -> list[tuple[bytes, bytes]]:
    """``headers`` as ASGI's ``[(lowercase name, value)]`` byte pairs.

    Values are encoded as squall's own server writes them (UTF-8); a CR or
    LF anywhere is refused, as squall's server refuses it (header injection).
    RequestHandler's default ``Server`` header is left out: the ASGI server
    names itself (RFC 9110 section 10.2.4 allows one Server field), while
    one the application chose is kept.
    """
    fields = [
        (name, value)
        for name, value in headers.get_all()
        if name not in skip and not (name == "Server" and value == SQUALL_SERVER_HEADER)
    ]
    # One scan of everything joined is far cheaper than two per field.
    flat = "".join([name + value for name, value in fields])
    if "\n" in flat or "\r" in flat:
        raise HTTPOutputError("newline in header name or value")
    return [(_wire_name(name), value.encode("utf-8")) for name, value in fields]


# Lowercased, encoded response header names (bounded: names can be app-chosen).
_WIRE_NAMES_MAX = 1000
_wire_names: dict[str, bytes] = {}


def _wire_name(name: str) -> bytes:
    wire = _wire_names.get(name)
    if wire is None:
        wire = name.lower().encode("latin-1")
        if len(_wire_names) < _WIRE_NAMES_MAX:
            _wire_names[name] = wire
    return wire


def request_headers(raw: Any) -> HTTPHeaders:
    """An ASGI scope's ``headers`` (byte pairs) as ``HTTPHeaders``.

    The server has parsed them already; a name that repeats (Cookie, say)
    keeps all its values.
    """
    fields: dict[str, str] = {}
    repeated: list[tuple[str, str]] = []
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in fields:
            repeated.append((key, value.decode("latin-1")))
        else:
            fields[key] = value.decode("latin-1")
    headers = HTTPHeaders(fields)
    for key, text in repeated:
        headers.add(key, text)
    return headers


def scope_headers(headers: HTTPHeaders) -> list[tuple[bytes, bytes]]:
    """squall's request headers as an ASGI scope's ``headers``."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
        for name, value in headers.get_all()
    ]


def split_target(scope: Scope) -> tuple[str, str]:
    """(path relative to ``root_path``, still percent-encoded; the query).

    ASGI's ``path`` includes ``root_path`` (spec 2.x); squall routes on the
    part after it, the way an application mounted below a prefix expects.
    ``raw_path`` (the bytes the client sent) is preferred: squall handlers
    decode their path arguments themselves, so ``%2F`` must survive.
    """
    root_path: str = scope.get("root_path") or ""
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("latin-1")
        if root_path:
            for prefix in (root_path, urllib.parse.quote(root_path)):
                if path.startswith(prefix):
                    path = path[len(prefix) :]
                    break
    else:
        path = scope.get("path") or "/"
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        path = urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")
    if not path.startswith("/"):
        path = "/" + path
    query = scope.get("query_string") or b""
    return path, query.decode("latin-1")


class ScopeContext:
    """``request.connection.context`` under an ASGI server: the client and
    scheme the scope reports (feeding ``request.remote_ip``/``protocol``)."""

    __slots__ = ("address", "protocol", "remote_ip")

    def __init__(self, scope: Scope) -> None:
        client = scope.get("client")
        self.address = client
        # Some servers (granian) report the port as a string; only the host
        # matters here. No client (a Unix socket): like squall's own server.
        self.remote_ip: str = str(client[0]) if client else "0.0.0.0"
        scheme = scope.get("scheme") or "http"
        self.protocol: str = "https" if scheme in ("https", "wss") else "http"

    def __str__(self) -> str:
        return self.remote_ip


def log_task_failure(what: str) -> Callable[[asyncio.Future[Any]], None]:
    """A done-callback that logs a task's unexpected exception."""

    def check(future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, StreamClosedError):
            app_log.error("Uncaught exception in %s", what, exc_info=error)

    return check
