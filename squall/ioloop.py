"""The event loop: a thin facade over the thread's asyncio loop.

There is exactly one ``IOLoop`` per asyncio loop. ``IOLoop.current()`` finds
the one for the running loop (creating the wrapper on first use), so code
written for Tornado's IOLoop and code written for asyncio share one loop.
When squall itself creates a loop it prefers uvloop; ``SQUALL_LOOP=asyncio``
in the environment opts out.

Clock: ``IOLoop.time()`` is wall-clock time (``time.time()``), as in
Tornado 1.x, so that the old idiom ``add_timeout(time.time() + 5, cb)`` and
the modern ``add_timeout(io_loop.time() + 5, cb)`` both mean "in five
seconds". Deadlines are turned into delays at the moment they are scheduled,
and the waiting itself runs on asyncio's monotonic clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import datetime
import functools
import inspect
import math
import os
import random
import threading
import time
import weakref

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl (nor uvloop)
    fcntl = None  # type: ignore[assignment]
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, overload

from squall.log import app_log
from squall.util import Configurable, TimeoutError
from squall.util import import_object as import_object  # Tornado programs reach it here

__all__ = ["IOLoop", "PeriodicCallback"]

_T = TypeVar("_T")

# The environment variable that chooses the loop implementation squall
# creates: "uvloop" (the default when installed) or "asyncio".
LOOP_ENV_VAR = "SQUALL_LOOP"

# Where an exception escaping a callback goes, if not to the log. asyncio
# runs every callback in a copy of the context it was scheduled from, so a
# value set here (by an @asynchronous web handler) follows all the callbacks
# that code schedules: Tornado 1.x's stack contexts, without the machinery.
callback_error_route: contextvars.ContextVar[Callable[[Exception], None] | None] = (
    contextvars.ContextVar("squall_callback_error_route", default=None)
)


class _Selectable(Protocol):
    def fileno(self) -> int: ...

    def close(self) -> None: ...


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh asyncio loop of the kind squall prefers (uvloop if it can)."""
    if os.environ.get(LOOP_ENV_VAR, "").strip().lower() != "asyncio":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _policy_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set with ``asyncio.set_event_loop`` on this thread, if any.

    ``asyncio.get_event_loop()`` would create a loop (with a deprecation
    warning, or an error on newer Pythons) when none is set; we only want to
    know whether one is.
    """
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    if loop is None or loop.is_closed():
        return None
    return loop  # type: ignore[no-any-return]


# The transports squall's protocols opened, per asyncio loop, so that
# IOLoop.close() can abort those still open: closing uvloop with a transport
# that still holds unsent data can hang, and any transport left open warns
# (ResourceWarning) when collected.
# Keyed by the owning protocol (uvloop's TLS transports cannot be weakly
# referenced; protocols can, and live exactly as long as their transport).
_open_transports: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[object, asyncio.BaseTransport]
] = weakref.WeakKeyDictionary()


def track_transport(transport: asyncio.BaseTransport, protocol: object) -> None:
    """Remember ``protocol``'s ``transport`` (from ``connection_made``) for
    ``IOLoop.close``."""
    loop = asyncio.get_running_loop()
    transports = _open_transports.get(loop)
    if transports is None:
        transports = _open_transports[loop] = weakref.WeakKeyDictionary()
    transports[protocol] = transport


def untangle_transport(transport: asyncio.BaseTransport | None) -> None:
    """Break the reference cycle a closed asyncio selector transport keeps.

    CPython's selector socket transports hold their read callback as a bound
    method of themselves (``_read_ready_cb``), so each one, once closed, is
    garbage only the cycle collector frees. Protocols call this from
    ``connection_lost``, after which nothing reads from the transport any
    more. uvloop's transports have no such attribute: nothing happens.
    """
    if getattr(transport, "_read_ready_cb", None) is not None:
        transport._read_ready_cb = None  # type: ignore[union-attr]


# Listening servers (TCPServer's) per asyncio loop, closed by IOLoop.close()
# if their owner never stopped them: uvloop warns about each one while it
# closes, and with warnings turned into errors (as test runners do) that
# warning, raised inside its close walk, leaves ``loop.close()`` spinning.
_open_servers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakSet[asyncio.AbstractServer]
] = weakref.WeakKeyDictionary()


def track_server(server: asyncio.AbstractServer) -> None:
    """Remember a listening ``server`` of the running loop for ``IOLoop.close``."""
    loop = asyncio.get_running_loop()
    servers = _open_servers.get(loop)
    if servers is None:
        servers = _open_servers[loop] = weakref.WeakSet()
    servers.add(server)


def _close_open_servers(loop: asyncio.AbstractEventLoop) -> None:
    for server in list(_open_servers.pop(loop, ())):
        server.close()  # a no-op for one already closed


def _abort_open_transports(loop: asyncio.AbstractEventLoop) -> None:
    transports = _open_transports.pop(loop, None)
    if not transports:
        return
    aborted = False
    for transport in list(transports.values()):
        if not transport.is_closing():
            transport.abort()  # type: ignore[attr-defined]
            aborted = True
    if aborted and not loop.is_closed():
        # Aborting schedules connection_lost and the socket's close as
        # callbacks; let them run before the loop goes away.
        for _ in range(_CLOSE_DRAIN_ROUNDS):
            loop.run_until_complete(asyncio.sleep(0))


# Loop iterations given to aborted transports' close callbacks (one for
# connection_lost, one for the protocol's own follow-up callbacks).
_CLOSE_DRAIN_ROUNDS = 2


def _release_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Let go of the held tasks of a loop that is closing.

    They can never run again. Tornado holds them for good (so they are never
    reported); squall drops them without a leak, and without the "destroyed
    but pending" report their collection would print at some later moment.
    Tasks the application made itself are not held, and still reported.
    """
    for task in [t for t in IOLoop._pending_tasks if t.get_loop() is loop]:
        IOLoop._pending_tasks.discard(task)
        if not task.done():
            # The asyncio Task attribute that asks for that report.
            setattr(task, "_log_destroy_pending", False)  # noqa: B010


class IOLoop(Configurable):
    """The event loop of the current thread, as Tornado's IOLoop API.

    Construct one with ``IOLoop()`` (a new asyncio loop, made current unless
    ``make_current=False``) or find the current one with ``IOLoop.current()``.
    """

    # Event masks for add_handler; the values are the epoll constants, as in
    # Tornado, so that code comparing against raw numbers keeps working.
    NONE = 0
    READ = 0x001  # EPOLLIN
    WRITE = 0x004  # EPOLLOUT
    ERROR = 0x008 | 0x010  # EPOLLERR | EPOLLHUP

    # asyncio loop -> its IOLoop. Weak keys: a loop that asyncio.run() made
    # and closed must not be kept alive by our bookkeeping.
    _ioloop_for_asyncio: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IOLoop] = (
        weakref.WeakKeyDictionary()
    )
    _current = threading.local()
    # Tasks squall started for the application (run_sync's, coroutines
    # returned by callbacks), held until done: asyncio keeps only weak
    # references to tasks, and one waiting on something that never comes
    # would otherwise be collected mid-flight ("Task was destroyed but it is
    # pending"). Tornado keeps the same set under this name.
    _pending_tasks: set[asyncio.Future[Any]] = set()

    asyncio_loop: asyncio.AbstractEventLoop

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        # Every loop is asyncio-backed unless configure() says otherwise.
        return AsyncIOLoop

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        # configure() on any subclass records the choice here, on IOLoop.
        return IOLoop

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        super().configure(impl, **kwargs)

    def initialize(
        self,
        make_current: bool = True,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if asyncio_loop is None:
            asyncio_loop = new_event_loop()
        # Loops closed through asyncio (not IOLoop.close) leave their entry
        # behind, and uvloop's may live on in reference cycles: drop them.
        for closed in [loop for loop in IOLoop._ioloop_for_asyncio if loop.is_closed()]:
            IOLoop._ioloop_for_asyncio.pop(closed, None)
        if asyncio_loop in IOLoop._ioloop_for_asyncio:
            raise RuntimeError("An IOLoop already exists for this asyncio loop")
        self.asyncio_loop = asyncio_loop
        # The loop that serves add_handler: the same one, as squall's loops
        # all have readiness callbacks (Tornado names it for Windows).
        self.selector_loop = asyncio_loop
        # fileno -> (the object the caller registered, its handler)
        self._handlers: dict[int, tuple[Any, Callable[..., None]]] = {}
        self._readers: set[int] = set()
        self._writers: set[int] = set()
        self._closing = False
        IOLoop._ioloop_for_asyncio[asyncio_loop] = self
        if make_current:
            self.make_current()

    @staticmethod
    def _register_task(task: asyncio.Future[Any]) -> None:
        """Hold ``task`` until it is done (see ``_pending_tasks``)."""
        IOLoop._pending_tasks.add(task)
        task.add_done_callback(IOLoop._pending_tasks.discard)

    # -- finding the loop -----------------------------------------------------

    @staticmethod
    def instance() -> IOLoop:
        """The seeds' spelling of ``IOLoop.current()``: the same object."""
        return IOLoop.current()

    @overload
    @staticmethod
    def current() -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: bool = True) -> IOLoop | None: ...

    @staticmethod
    def current(instance: bool = True) -> IOLoop | None:
        """The IOLoop of the running loop, else of this thread.

        With nothing running and nothing current, a new asyncio loop is made
        this thread's, wrapped in an ``AsyncIOMainLoop`` made current (as
        Tornado wraps what ``asyncio.get_event_loop()`` gives it), unless
        ``instance=False`` (then None is returned).
        """
        loop = asyncio.events._get_running_loop()
        if loop is None:
            current: IOLoop | None = getattr(IOLoop._current, "instance", None)
            if current is not None and not current.asyncio_loop.is_closed():
                return current
            loop = _policy_loop()
            if loop is None:
                if not instance:
                    return None
                created: IOLoop = AsyncIOMainLoop(make_current=True, asyncio_loop=new_event_loop())
                return created
        try:
            return IOLoop._ioloop_for_asyncio[loop]
        except KeyError:
            if instance or asyncio.events._get_running_loop() is loop:
                return AsyncIOMainLoop(asyncio_loop=loop)  # type: ignore[no-any-return]
            return None

    def make_current(self) -> None:
        """Make this the loop that ``IOLoop.current()`` returns on this thread."""
        IOLoop._current.instance = self
        asyncio.set_event_loop(self.asyncio_loop)

    @staticmethod
    def clear_current() -> None:
        """Forget this thread's current IOLoop (a running one stays current)."""
        current: IOLoop | None = getattr(IOLoop._current, "instance", None)
        IOLoop._current.instance = None
        if current is not None and _policy_loop() is current.asyncio_loop:
            asyncio.set_event_loop(None)

    @staticmethod
    def clear_instance() -> None:
        IOLoop.clear_current()

    def install(self) -> None:
        self.make_current()

    # -- running ---------------------------------------------------------------

    def start(self) -> None:
        """Run until ``stop()`` is called."""
        if self.asyncio_loop.is_running():
            raise RuntimeError("IOLoop is already running")
        with _as_event_loop(self):
            self.asyncio_loop.run_forever()

    def stop(self) -> None:
        """Stop the loop after the current iteration; ``start()`` returns."""
        self.asyncio_loop.stop()

    def close(self, all_fds: bool = False) -> None:
        """Close the loop; with ``all_fds``, also close every registered fd."""
        if self._closing:
            return
        if self.asyncio_loop.is_running():
            raise RuntimeError("Cannot close a running IOLoop")
        self._closing = True
        for fd in list(self._handlers):
            obj = self._handlers[fd][0]
            self.remove_handler(fd)
            if all_fds:
                self.close_fd(obj)
        _close_open_servers(self.asyncio_loop)
        _abort_open_transports(self.asyncio_loop)
        _release_pending_tasks(self.asyncio_loop)
        self.asyncio_loop.close()
        IOLoop._ioloop_for_asyncio.pop(self.asyncio_loop, None)
        if getattr(IOLoop._current, "instance", None) is self:
            IOLoop._current.instance = None

    def run_sync(self, func: Callable[[], Any], timeout: float | None = None) -> Any:
        """Start the loop, run ``func``, stop the loop, return its result.

        ``func`` may return an awaitable (a coroutine, a Future, a list of
        them...), whose result is returned, or a plain value. With a
        ``timeout`` in seconds, ``TimeoutError`` is raised if it takes longer
        and the work is cancelled.
        """
        if self.asyncio_loop.is_running():
            raise RuntimeError("IOLoop is already running")

        async def run() -> Any:
            # Held even if the loop is stopped before it ends (as Tornado).
            task = asyncio.current_task()
            if task is not None:
                IOLoop._register_task(task)
            result = func()
            if result is None:
                return None
            from squall.gen import convert_yielded

            try:
                awaitable = convert_yielded(result)
            except Exception:
                if inspect.isawaitable(result):
                    raise
                return result  # a plain value
            if not awaitable.done():
                IOLoop._register_task(awaitable)
            if timeout is None:
                return await awaitable
            try:
                return await asyncio.wait_for(awaitable, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"Operation timed out after {timeout} seconds") from None

        with _as_event_loop(self):
            return self.asyncio_loop.run_until_complete(run())

    # -- callbacks -------------------------------------------------------------

    def time(self) -> float:
        """Wall-clock seconds: the clock deadlines are expressed in."""
        return time.time()

    def add_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``callback`` on the next loop iteration. Safe from any thread.

        After the loop is closed the call is dropped silently, as there is no
        loop left to run it.
        """
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)
        loop = self.asyncio_loop
        try:
            if asyncio.events._get_running_loop() is loop:
                loop.call_soon(self._run_callback, callback)
            else:
                loop.call_soon_threadsafe(self._run_callback, callback)
        except RuntimeError:
            if not loop.is_closed():
                raise

    def add_callback_from_signal(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """``add_callback`` for signal handlers (it is signal-safe already)."""
        self.add_callback(callback, *args, **kwargs)

    def spawn_callback(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Like ``add_callback``: the callback runs on its own next iteration."""
        self.add_callback(callback, *args, **kwargs)

    def add_future(
        self,
        future: asyncio.Future[_T] | concurrent.futures.Future[_T],
        callback: Callable[[Any], Any],
    ) -> None:
        """Call ``callback(future)`` on this loop once ``future`` is done."""
        if isinstance(future, asyncio.Future):
            future.add_done_callback(lambda f: self._run_callback(functools.partial(callback, f)))
        elif isinstance(future, concurrent.futures.Future):
            # Done-callbacks of these run on the executor's thread.
            future.add_done_callback(lambda f: self.add_callback(callback, f))
        else:
            raise TypeError(f"add_future expects a future, not {type(future).__name__}")

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        """Run ``func(*args)`` on an executor (the default thread pool if None)."""
        return self.asyncio_loop.run_in_executor(executor, func, *args)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        self.asyncio_loop.set_default_executor(executor)

    def _run_callback(self, callback: Callable[[], Any]) -> None:
        """Run a callback, logging what it raises instead of killing the loop.

        A callback that returns an awaitable (an ``async def`` function, say)
        is run to completion in the background, and its exception logged too.
        """
        try:
            ret = callback()
            if ret is not None and inspect.isawaitable(ret):
                future = asyncio.ensure_future(ret, loop=self.asyncio_loop)
                IOLoop._register_task(future)
                future.add_done_callback(self._log_future_exception)
        except asyncio.CancelledError:
            pass
        except Exception as e:
            route = callback_error_route.get()
            if route is not None:
                route(e)
            else:
                app_log.error("Exception in callback %r", callback, exc_info=True)

    @staticmethod
    def _log_future_exception(future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            app_log.error("Exception in callback %r", future, exc_info=exc)

    # -- timeouts --------------------------------------------------------------

    def add_timeout(
        self,
        deadline: float | datetime.timedelta,
        callback: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> object:
        """Call ``callback`` at ``deadline`` (an ``IOLoop.time()`` value) or
        after a ``timedelta``. Returns a handle for ``remove_timeout``."""
        if isinstance(deadline, datetime.timedelta):
            return self.call_later(deadline.total_seconds(), callback, *args, **kwargs)
        if isinstance(deadline, (int, float)):
            return self.call_at(deadline, callback, *args, **kwargs)
        raise TypeError(f"Unsupported deadline {deadline!r}")

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> object:
        """Call ``callback`` after ``delay`` seconds; returns a handle."""
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)
        return self.asyncio_loop.call_later(max(0.0, delay), self._run_callback, callback)

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> object:
        """Call ``callback`` at ``when``, on the ``IOLoop.time()`` clock."""
        return self.call_later(when - self.time(), callback, *args, **kwargs)

    def remove_timeout(self, timeout: object) -> None:
        """Cancel a pending timeout; harmless if it already ran."""
        # uvloop's timer handles are not asyncio.Handle subclasses.
        cancel = getattr(timeout, "cancel", None)
        if cancel is not None:
            cancel()

    # -- file descriptors ------------------------------------------------------

    def split_fd(self, fd: int | _Selectable) -> tuple[int, int | _Selectable]:
        """``(fileno, original object)`` for an fd or a socket-like object."""
        number = fd if isinstance(fd, int) else fd.fileno()
        return number, fd

    def close_fd(self, fd: int | _Selectable) -> None:
        """Close an fd or socket-like object, ignoring errors."""
        closer = functools.partial(os.close, fd) if isinstance(fd, int) else fd.close
        with contextlib.suppress(OSError):
            closer()

    def add_handler(self, fd: int | _Selectable, handler: Callable[..., None], events: int) -> None:
        """Call ``handler(fd, events)`` whenever ``fd`` is ready for ``events``.

        ``fd`` is an integer or any object with ``fileno()`` (a socket); the
        handler receives whatever was passed in. ``ERROR`` is accepted for
        compatibility; errors show up as readiness to read or write.
        """
        fileno, obj = self.split_fd(fd)
        if fileno in self._handlers:
            raise ValueError(f"fd {fileno} added twice")
        self._handlers[fileno] = (obj, handler)
        self._set_events(fileno, events)

    def update_handler(self, fd: int | _Selectable, events: int) -> None:
        """Change which events the handler of ``fd`` is called for."""
        fileno, _ = self.split_fd(fd)
        if fileno not in self._handlers:
            raise KeyError(f"fd {fileno} has no handler")
        self._set_events(fileno, events)

    def remove_handler(self, fd: int | _Selectable) -> None:
        """Stop watching ``fd``; harmless if it was not watched."""
        fileno, _ = self.split_fd(fd)
        if self._handlers.pop(fileno, None) is None:
            return
        self._set_events(fileno, IOLoop.NONE)

    def _set_events(self, fileno: int, events: int) -> None:
        # uvloop switches a watched fd to non-blocking mode; the fd belongs
        # to the caller, who may also use it blocking (a pipe written from a
        # thread would then raise BlockingIOError), so its mode is put back.
        flags: int | None = None
        if fcntl is not None:
            try:
                flags = fcntl.fcntl(fileno, fcntl.F_GETFL)
            except OSError:
                pass
        try:
            self._set_loop_events(fileno, events)
        finally:
            if fcntl is not None and flags is not None and not flags & os.O_NONBLOCK:
                try:
                    fcntl.fcntl(fileno, fcntl.F_SETFL, flags)
                except OSError:
                    pass  # closed meanwhile: nothing to restore

    def _set_loop_events(self, fileno: int, events: int) -> None:
        loop = self.asyncio_loop
        if events & IOLoop.READ:
            if fileno not in self._readers:
                loop.add_reader(fileno, self._handle_events, fileno, IOLoop.READ)
                self._readers.add(fileno)
        elif fileno in self._readers:
            loop.remove_reader(fileno)
            self._readers.discard(fileno)
        if events & IOLoop.WRITE:
            if fileno not in self._writers:
                loop.add_writer(fileno, self._handle_events, fileno, IOLoop.WRITE)
                self._writers.add(fileno)
        elif fileno in self._writers:
            loop.remove_writer(fileno)
            self._writers.discard(fileno)

    def _handle_events(self, fileno: int, events: int) -> None:
        entry = self._handlers.get(fileno)
        if entry is None:
            return
        obj, handler = entry
        try:
            handler(obj, events)
        except Exception:
            app_log.error("Exception in I/O handler for fd %s", fileno, exc_info=True)


class AsyncIOLoop(IOLoop):
    """An IOLoop with a new asyncio loop of its own (what ``IOLoop()`` makes)."""


class AsyncIOMainLoop(IOLoop):
    """An IOLoop wrapping an existing asyncio loop (by default this thread's)."""

    def initialize(
        self,
        make_current: bool = False,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if asyncio_loop is None:
            asyncio_loop = asyncio.events._get_running_loop() or _policy_loop()
            if asyncio_loop is None:
                # Nothing to wrap yet: make this thread's loop, as
                # asyncio.get_event_loop() did (what Tornado wraps).
                asyncio_loop = new_event_loop()
                asyncio.set_event_loop(asyncio_loop)
        super().initialize(make_current=make_current, asyncio_loop=asyncio_loop)


class _as_event_loop:
    """While running, make the loop asyncio's and squall's current one."""

    def __init__(self, io_loop: IOLoop) -> None:
        self.io_loop = io_loop

    def __enter__(self) -> None:
        self.old_loop = _policy_loop()
        self.old_current = getattr(IOLoop._current, "instance", None)
        asyncio.set_event_loop(self.io_loop.asyncio_loop)
        IOLoop._current.instance = self.io_loop

    def __exit__(self, *exc_info: object) -> None:
        old_loop = self.old_loop
        if old_loop is not None and old_loop.is_closed():
            old_loop = None
        # As Tornado: once stopped the loop is no longer current, unless it
        # was before it started.
        asyncio.set_event_loop(old_loop)
        IOLoop._current.instance = self.old_current


def _as_milliseconds(interval: datetime.timedelta | float) -> float:
    if isinstance(interval, datetime.timedelta):
        return interval / datetime.timedelta(milliseconds=1)
    return float(interval)


class PeriodicCallback:
    """Call ``callback`` every ``callback_time`` (milliseconds, or a timedelta).

    If the callback returns an awaitable, the next run waits for it: runs
    that fall due meanwhile are skipped, never stacked. ``jitter`` (0..1)
    spreads each interval by up to that fraction either way, so that many
    processes started together do not fire in lockstep.
    """

    def __init__(
        self,
        callback: Callable[[], Awaitable[Any] | None],
        callback_time: datetime.timedelta | float,
        jitter: float = 0,
    ) -> None:
        interval_ms = _as_milliseconds(callback_time)
        # NaN fails the first test, infinity the second.
        if not (interval_ms > 0 and math.isfinite(interval_ms)):
            raise ValueError("Periodic callback must have a positive callback_time")
        self.callback_time = interval_ms
        self.callback = callback
        self.jitter = jitter
        self._running = False
        self._timeout: asyncio.TimerHandle | None = None
        self._next_timeout = 0.0
        self.io_loop: IOLoop | None = None

    def start(self) -> None:
        """Start calling; the first call is one interval from now."""
        io_loop = IOLoop.current()
        assert io_loop is not None
        self.io_loop = io_loop
        self._running = True
        # The schedule runs on the loop's monotonic clock, immune to changes
        # of the wall clock.
        self._next_timeout = io_loop.asyncio_loop.time()
        self._schedule_next()

    def stop(self) -> None:
        self._running = False
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None

    def is_running(self) -> bool:
        return self._running

    def _interval(self) -> float:
        seconds = self.callback_time / 1000.0
        if self.jitter:
            seconds *= 1 + self.jitter * (random.random() - 0.5)
        return seconds

    def _schedule_next(self) -> None:
        if not self._running or self.io_loop is None:
            return
        loop = self.io_loop.asyncio_loop
        self._update_next(loop.time())
        self._timeout = loop.call_at(self._next_timeout, self._run)

    def _update_next(self, now: float) -> None:
        """Move ``_next_timeout`` to the next run after ``now`` on the grid."""
        interval = self._interval()
        self._next_timeout += interval
        if self._next_timeout <= now:
            # We fell behind (a slow callback or a paused loop): skip the
            # missed runs and stay on the original grid.
            missed = math.floor((now - self._next_timeout) / interval) + 1
            self._next_timeout += missed * interval

    def _run(self) -> None:
        if not self._running:
            return
        try:
            result = self.callback()
        except Exception:
            app_log.error("Exception in callback %r", self.callback, exc_info=True)
            result = None
        if result is not None and inspect.isawaitable(result):
            assert self.io_loop is not None
            future = asyncio.ensure_future(result, loop=self.io_loop.asyncio_loop)
            IOLoop._register_task(future)
            future.add_done_callback(self._on_awaitable_done)
        else:
            self._schedule_next()

    def _on_awaitable_done(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            app_log.error("Exception in callback %r", self.callback, exc_info=future.exception())
        self._schedule_next()
