"""Generator-based coroutines and helpers for awaiting many things at once.

New code should use ``async def``; ``@gen.coroutine`` keeps generator code
written for Tornado working, and the helpers here (``multi``,
``with_timeout``, ``WaitIterator``, ``sleep``) serve both styles.

Errors raised by this module::

    BadYieldError        a coroutine yielded something that is not awaitable
    KeyReuseError        (kept for compatibility; raised by nothing now)
    UnknownKeyError      (kept for compatibility; raised by nothing now)
    LeakedCallbackError  (kept for compatibility; raised by nothing now)
    ReturnValueIgnoredError
    TimeoutError         squall.util.TimeoutError, the builtin
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import datetime
import functools
import inspect
import os
import types
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any, TypeVar, Union

from squall.concurrent import (
    Future,
    ReturnValueIgnoredError,
    chain_future,
    future_add_done_callback,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
    is_future,
)
from squall.ioloop import IOLoop
from squall.log import app_log
from squall.util import TimeoutError

__all__ = [
    "BadYieldError",
    "Future",
    "KeyReuseError",
    "LeakedCallbackError",
    "Multi",
    "Return",
    "ReturnValueIgnoredError",
    "Task",
    "TimeoutError",
    "UnknownKeyError",
    "WaitIterator",
    "convert_yielded",
    "coroutine",
    "is_coroutine_function",
    "maybe_future",
    "moment",
    "multi",
    "multi_future",
    "sleep",
    "with_timeout",
]

_T = TypeVar("_T")

_Yieldable = Union[
    None, Awaitable[Any], list[Awaitable[Any]], dict[Any, Awaitable[Any]], "asyncio.Future[Any]"
]


class KeyReuseError(Exception):
    """Kept for compatibility; the callback-key API it belonged to is gone."""


class UnknownKeyError(Exception):
    """Kept for compatibility; the callback-key API it belonged to is gone."""


class LeakedCallbackError(Exception):
    """Kept for compatibility; the callback-key API it belonged to is gone."""


class BadYieldError(Exception):
    """A generator coroutine yielded something that cannot be awaited."""


class Return(Exception):
    """Raise ``Return(value)`` to return a value from a generator coroutine.

    Plain ``return value`` works as well in Python 3; this spelling remains
    for code written before that.
    """

    def __init__(self, value: Any = None) -> None:
        # ``args`` is ``(value,)`` even for a bare ``Return()``: (None,).
        Exception.__init__(self, value)
        self.value = value


# ``yield gen.moment`` (or a bare ``yield``) lets the loop run other
# callbacks for one iteration before the coroutine resumes. It is a marker
# object; the runner recognises it and never awaits it directly.
moment: asyncio.Future[None] = types.SimpleNamespace()  # type: ignore[assignment]

# Attribute set on functions made by @coroutine, checked by
# is_coroutine_function; the Tornado name is honoured too.
_COROUTINE_MARKERS = ("__squall_coroutine__", "__tornado_coroutine__")


def is_coroutine_function(func: Any) -> bool:
    """Whether ``func`` is an ``async def`` or ``@gen.coroutine`` function."""
    return any(getattr(func, m, False) for m in _COROUTINE_MARKERS) or (
        inspect.iscoroutinefunction(func)
    )


def _value_from_stop(e: BaseException) -> Any:
    return getattr(e, "value", None)


def coroutine(func: Callable[..., Any]) -> Callable[..., asyncio.Future[Any]]:
    """Turn a generator function into a coroutine that returns a Future.

    The generator runs at once, up to its first ``yield`` of something not yet
    done; each yielded value is anything ``convert_yielded`` accepts, and the
    coroutine resumes with its result (or with its exception raised at the
    ``yield``). The whole body runs in a copy of the caller's context
    variables, as an asyncio Task would.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = _create_future()
        _blame_caller(future)
        try:
            _start(func, args, kwargs, future)
            return future
        finally:
            # See _start: this frame too is in the traceback of what the
            # body raises, so it must not keep naming the future.
            del future

    wrapper.__wrapped__ = func
    wrapper.__squall_coroutine__ = True  # type: ignore[attr-defined]
    wrapper.__tornado_coroutine__ = True  # type: ignore[attr-defined]
    return wrapper


def _start(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    future: asyncio.Future[Any],
) -> None:
    """Run a ``@coroutine`` body up to its first wait; settle ``future``
    if it ends before that, else hand the generator to a ``_Runner``.

    An exception from the body keeps this frame alive through its
    traceback. Every local that could lead back to the exception (the
    future holding it, the runner, what was yielded) is dropped before
    returning, so the coroutine's frames and their locals are freed as
    soon as nothing else needs them, without waiting for the garbage
    collector (as Tornado does).
    """
    ctx_run = contextvars.copy_context().run
    result: Any = None
    yielded: Any = None
    runner: Any = None
    try:
        try:
            result = ctx_run(func, *args, **kwargs)
        except (Return, StopIteration) as e:
            result = _value_from_stop(e)
        except asyncio.CancelledError:
            # Raised by the body itself: the coroutine ends cancelled.
            future.cancel()
            return
        except Exception as e:
            future.set_exception(e)
            return
        if isinstance(result, Generator):
            try:
                yielded = ctx_run(next, result)
            except (Exception, asyncio.CancelledError) as e:
                # The generator finished (or failed) before its first wait.
                _settle_early(future, e)
                return
            runner = _Runner(ctx_run, result, future, yielded)
            # Keep the runner alive as long as its result is wanted.
            future.add_done_callback(functools.partial(_keep, runner))
            return
        if inspect.isawaitable(result):
            chain_future(convert_yielded(result), future)
            return
        future.set_result(result)
    finally:
        del future
        result = yielded = runner = None


def _settle_early(future: asyncio.Future[Any], raised: BaseException) -> None:
    """Settle ``future`` from what a generator's first step raised: its
    return value (``Return``/``StopIteration``), a cancellation or an error."""
    if isinstance(raised, asyncio.CancelledError):
        future.cancel()
    elif isinstance(raised, (Return, StopIteration)):
        future_set_result_unless_cancelled(future, _value_from_stop(raised))
    else:
        future_set_exception_unless_cancelled(future, raised)


def _keep(runner: _Runner, future: asyncio.Future[Any]) -> None:
    """A done callback whose only job is to hold ``runner`` until then."""


def _as_tuple(types_: type[BaseException] | tuple[type[BaseException], ...]) -> tuple[Any, ...]:
    return types_ if isinstance(types_, tuple) else (types_,)


def _blame_caller(future: asyncio.Future[Any]) -> None:
    """In asyncio debug mode, make the future's "created at" the coroutine's
    caller rather than this module (the frames asyncio recorded from here)."""
    trace = getattr(future, "_source_traceback", None)
    if trace:
        while len(trace) > 1 and (
            trace[-1].filename == __file__ or trace[-1].filename.startswith(_ASYNCIO_DIR)
        ):
            del trace[-1]


# asyncio's own frames (create_future) are no place to blame either.
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


def _create_future() -> asyncio.Future[Any]:
    loop = asyncio.events._get_running_loop()
    if loop is None:
        io_loop = IOLoop.current()
        assert io_loop is not None
        loop = io_loop.asyncio_loop
    return loop.create_future()


class _Runner:
    """Drives one generator coroutine: await what it yields, send it back."""

    def __init__(
        self,
        ctx_run: Callable[..., Any],
        gen: Generator[Any, Any, Any],
        result_future: asyncio.Future[Any],
        first_yielded: Any,
    ) -> None:
        self.ctx_run = ctx_run
        self.gen = gen
        # Dropped (None) once settled: see _take_result_future.
        self.result_future: asyncio.Future[Any] | None = result_future
        self.future: asyncio.Future[Any] | None = None
        self.running = False
        # The locals go before run(): its frames may end up in a traceback.
        del gen, result_future
        if self.handle_yield(first_yielded):
            del first_yielded
            self.run()

    def _take_result_future(self) -> asyncio.Future[Any]:
        """The coroutine's Future, which the runner then stops holding.

        Settling it with an exception puts run()'s frame (whose ``self`` is
        this runner) in the exception's traceback: holding the Future after
        that would make a cycle back to the exception.
        """
        future = self.result_future
        assert future is not None
        self.result_future = None
        return future

    def run(self) -> None:
        """Step the generator until it yields something not yet done."""
        if self.running:
            return
        self.running = True
        try:
            while True:
                future = self.future
                assert future is not None
                if not future.done():
                    return
                self.future = None
                error: BaseException | None = None
                value: Any = None
                try:
                    value = future.result()
                except (Exception, asyncio.CancelledError) as e:
                    error = e
                # The error's traceback holds this frame: a local still
                # naming the error (or the future holding it) would make a
                # reference cycle, keeping the coroutine's frames and their
                # locals alive until the garbage collector runs.
                future = None
                try:
                    # Thrown from outside any except block: otherwise what the
                    # coroutine raises next would carry this error as its
                    # __context__, and keep it (and its frames) alive.
                    if error is not None:
                        try:
                            yielded = self.ctx_run(self.gen.throw, error)
                        finally:
                            error = None
                    else:
                        yielded = self.ctx_run(self.gen.send, value)
                        value = None
                except (StopIteration, Return) as e:
                    future_set_result_unless_cancelled(
                        self._take_result_future(), _value_from_stop(e)
                    )
                    self.gen.close()
                    return
                except asyncio.CancelledError:
                    self._take_result_future().cancel()
                    self.gen.close()
                    return
                except Exception as e:
                    future_set_exception_unless_cancelled(self._take_result_future(), e)
                    self.gen.close()
                    return
                if not self.handle_yield(yielded):
                    return
        finally:
            self.running = False

    def handle_yield(self, yielded: Any) -> bool:
        """Set ``self.future`` for ``yielded``; True if it is done already."""
        if yielded is None or yielded is moment:
            # Resume on the next loop iteration, after other callbacks.
            future: asyncio.Future[Any] = _create_future()
            future.get_loop().call_soon(future_set_result_unless_cancelled, future, None)
            self.future = future
            future.add_done_callback(self._resume)
            return False
        try:
            # Inside the coroutine's context: a native coroutine yielded here
            # becomes a Task, which copies the context current at creation.
            self.future = self.ctx_run(convert_yielded, yielded)
        except BadYieldError as e:
            self.future = _create_future()
            self.future.set_exception(e)
            return True
        if self.future.done():
            return True
        self.future.add_done_callback(self._resume)
        return False

    def _resume(self, future: asyncio.Future[Any]) -> None:
        # This frame is run()'s caller, and so reachable from the traceback
        # of an error run() hands on: it must not keep naming the future
        # that may hold that error.
        del future
        self.run()


@functools.singledispatch
def convert_yielded(yielded: _Yieldable) -> asyncio.Future[Any]:
    """Turn anything a coroutine may yield or await into a Future.

    Accepted: None and ``moment`` (done on the next iteration), a Future
    (returned as is; a ``concurrent.futures`` one is chained), a list or dict
    of yieldables (``multi``), any awaitable (scheduled as a Task).
    Extend it for other types with ``convert_yielded.register``.
    """
    if yielded is None or yielded is moment:
        future: asyncio.Future[Any] = _create_future()
        future.get_loop().call_soon(future_set_result_unless_cancelled, future, None)
        return future
    if isinstance(yielded, (list, dict)):
        return multi(yielded)
    if isinstance(yielded, asyncio.Future):
        return yielded
    if is_future(yielded):
        future = _create_future()
        chain_future(yielded, future)  # type: ignore[arg-type]
        return future
    if inspect.isawaitable(yielded):
        return asyncio.ensure_future(yielded)
    raise BadYieldError(f"yielded unknown object {yielded!r}")


def maybe_future(x: Any) -> asyncio.Future[Any]:
    """``x`` if it is a Future already, else a Future resolved to ``x``."""
    if is_future(x):
        return convert_yielded(x)
    future = _create_future()
    future.set_result(x)
    return future


def multi(
    children: list[Any] | Mapping[Any, Any],
    quiet_exceptions: type[Exception] | tuple[type[Exception], ...] = (),
) -> asyncio.Future[Any]:
    """Wait for many yieldables at once; a Future of their results.

    ``children`` is a list (results in a list, in order) or a dict (results
    under the same keys). If several fail, the first failure is raised and
    the others are logged, except those of a ``quiet_exceptions`` type.
    """
    return multi_future(children, quiet_exceptions=quiet_exceptions)


# The name multi() had when it was a yieldable class; kept for old code.
Multi = multi


def multi_future(
    children: list[Any] | Mapping[Any, Any],
    quiet_exceptions: type[Exception] | tuple[type[Exception], ...] = (),
) -> asyncio.Future[Any]:
    """``multi`` under its older name."""
    if isinstance(children, Mapping):
        keys: list[Any] | None = list(children.keys())
        values: Iterable[Any] = children.values()
    else:
        keys = None
        values = children
    futures = [convert_yielded(v) for v in values]
    unfinished = set(futures)
    result_future = _create_future()
    if not futures:
        result_future.set_result({} if keys is not None else [])
        return result_future

    def on_child_done(done: asyncio.Future[Any]) -> None:
        unfinished.discard(done)
        if unfinished:
            return
        results = []
        for f in futures:
            try:
                results.append(f.result())
            except (Exception, asyncio.CancelledError) as e:
                # A cancelled child fails the whole with CancelledError, as
                # an exception (Tornado's behaviour), not as a cancellation.
                if result_future.done():
                    # A cancellation is no error worth a log line.
                    if not isinstance(e, (asyncio.CancelledError, *_as_tuple(quiet_exceptions))):
                        app_log.error("Multiple exceptions in yield list", exc_info=True)
                else:
                    future_set_exception_unless_cancelled(result_future, e)
        if not result_future.done():
            if keys is not None:
                future_set_result_unless_cancelled(
                    result_future, dict(zip(keys, results, strict=True))
                )
            else:
                future_set_result_unless_cancelled(result_future, results)

    seen: set[asyncio.Future[Any]] = set()
    for f in futures:
        if f not in seen:  # the same future listed twice needs one callback
            seen.add(f)
            future_add_done_callback(f, on_child_done)
    return result_future


def sleep(duration: float) -> asyncio.Future[None]:
    """A Future that resolves after ``duration`` seconds."""
    future: asyncio.Future[None] = _create_future()
    future.get_loop().call_later(duration, future_set_result_unless_cancelled, future, None)
    return future


def with_timeout(
    timeout: float | datetime.timedelta,
    future: _Yieldable,
    quiet_exceptions: type[Exception] | tuple[type[Exception], ...] = (),
    *,
    message: str | Callable[[], str] | None = None,
) -> asyncio.Future[Any]:
    """Wrap ``future`` so that it fails with ``TimeoutError`` at ``timeout``.

    ``timeout`` is an absolute ``IOLoop.time()`` deadline or a timedelta.
    ``message`` is the error's text (default "Timeout"); a callable is asked
    for it only when the timeout fires.
    The wrapped work is not cancelled (it may be shared); if it fails after
    the timeout its exception is logged unless of a ``quiet_exceptions`` type.
    """
    inner = convert_yielded(future)
    result = _create_future()
    chain_future(inner, result)
    io_loop = IOLoop.current()
    assert io_loop is not None

    def error_callback(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            return
        exc = f.exception()
        if exc is not None and not isinstance(exc, quiet_exceptions):
            app_log.error("Exception in Future %r after timeout", f, exc_info=exc)

    def on_timeout() -> None:
        if not result.done():
            text = message() if callable(message) else message
            result.set_exception(TimeoutError("Timeout" if text is None else text))
        future_add_done_callback(inner, error_callback)

    handle = io_loop.add_timeout(timeout, on_timeout)
    inner.add_done_callback(lambda _: io_loop.remove_timeout(handle))
    return result


class WaitIterator:
    """Yields futures in the order they finish.

    Give futures positionally or as keywords; ``current_index`` says which
    one (its position or its key) the last ``next()`` produced::

        wait = WaitIterator(a, b)
        while not wait.done():
            result = yield wait.next()     # or: async for result in wait
    """

    # Each input future with its keys (positions or names) still to hand
    # out, in order: the same future may be given more than once.
    _unfinished: dict[asyncio.Future[Any], collections.deque[Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("You must provide args or kwargs, not both")
        keyed = kwargs.items() if kwargs else enumerate(args)
        self._unfinished = {}
        futures: list[asyncio.Future[Any]] = []
        for key, value in keyed:
            future = convert_yielded(value)
            self._unfinished.setdefault(future, collections.deque()).append(key)
            futures.append(future)
        self._finished: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.current_index: Any = None
        self.current_future: asyncio.Future[Any] | None = None
        self._running_future: asyncio.Future[Any] | None = None
        for f in futures:
            future_add_done_callback(f, self._done_callback)

    def done(self) -> bool:
        """True once every future has been handed out by ``next()``."""
        exhausted = not (self._finished or self._unfinished)
        if exhausted:
            # Nothing is current any more once the iteration is over.
            self.current_index = self.current_future = None
        return exhausted

    def next(self) -> asyncio.Future[Any]:
        """A Future for the result of the next input to finish."""
        self._running_future = _create_future()
        if self._finished:
            self._return_result(self._finished.popleft())
        return self._running_future

    def _done_callback(self, done: asyncio.Future[Any]) -> None:
        if self._running_future is not None and not self._running_future.done():
            self._return_result(done)
        else:
            self._finished.append(done)

    def _return_result(self, done: asyncio.Future[Any]) -> None:
        assert self._running_future is not None
        chain_future(done, self._running_future)
        self.current_future = done
        keys = self._unfinished[done]
        self.current_index = keys.popleft()
        if not keys:
            del self._unfinished[done]

    def __aiter__(self) -> WaitIterator:
        return self

    def __anext__(self) -> asyncio.Future[Any]:
        if self.done():
            raise StopAsyncIteration()
        return self.next()


def Task(func: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
    """Adapt a callback-style function for ``yield`` (the Tornado 2 idiom).

    ``func`` is called with an extra ``callback=`` argument; the Future
    resolves with what the callback receives (a tuple if several values).
    """
    future = _create_future()

    def set_result(*values: Any) -> None:
        if future.done():
            return
        future.set_result(values[0] if len(values) == 1 else (values or None))

    try:
        func(*args, callback=set_result, **kwargs)
    except Exception as e:
        future_set_exception_unless_cancelled(future, e)
    return future
