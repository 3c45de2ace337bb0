"""Futures and executors.

squall's ``Future`` *is* ``asyncio.Future``: there is no second future type to
convert to and from. This module adds the helpers Tornado code expects around
it: copying outcomes between futures (including ``concurrent.futures`` ones
that complete on other threads), setting results that tolerate cancellation,
and ``run_on_executor`` for methods that block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from squall.log import app_log

__all__ = [
    "FUTURES",
    "DummyExecutor",
    "Future",
    "ReturnValueIgnoredError",
    "chain_future",
    "dummy_executor",
    "future_add_done_callback",
    "future_set_exc_info",
    "future_set_exception_unless_cancelled",
    "future_set_result_unless_cancelled",
    "is_future",
    "run_on_executor",
]

_T = TypeVar("_T")

Future = asyncio.Future


class ReturnValueIgnoredError(Exception):
    """Kept for compatibility (``gen`` exports it too); never raised by squall."""


# Both kinds of future squall accepts wherever "a future" is expected.
FUTURES = (asyncio.Future, concurrent.futures.Future)


def is_future(x: Any) -> bool:
    return isinstance(x, FUTURES)


class DummyExecutor(concurrent.futures.Executor):
    """An executor that runs each function at once, on the caller's thread.

    Useful in tests and for code written against an executor that has
    nothing worth moving off the loop.
    """

    def submit(  # type: ignore[override]
        self, fn: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:
            future.set_exception(e)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


dummy_executor = DummyExecutor()


@overload
def run_on_executor(fn: Callable[..., Any]) -> Callable[..., asyncio.Future[Any]]: ...


@overload
def run_on_executor(
    *, executor: str = ...
) -> Callable[[Callable[..., Any]], Callable[..., asyncio.Future[Any]]]: ...


def run_on_executor(*args: Any, **kwargs: Any) -> Any:
    """Run a blocking method on ``self.executor`` and return a Future.

    Used bare (``@run_on_executor``) it looks for ``self.executor``; with
    ``@run_on_executor(executor="_pool")`` it uses that attribute instead.
    The returned Future belongs to the calling thread's event loop, so the
    decorated method must be called from a running loop.
    """

    if args and kwargs:
        raise ValueError("cannot combine positional and keyword args")
    if len(args) > 1:
        raise ValueError(f"expected 1 argument, got {len(args)}")
    pool_name = kwargs.pop("executor", "executor")
    if kwargs:
        raise ValueError(f"unexpected keyword arguments: {sorted(kwargs)}")
    if args:
        return _offload_to(pool_name, args[0])
    return functools.partial(_offload_to, pool_name)


def _offload_to(pool_name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``method`` so each call is submitted to ``self.<pool_name>``."""

    @functools.wraps(method)
    def submit_to_pool(self: Any, *call_args: Any, **call_kwargs: Any) -> asyncio.Future[Any]:
        # Created before submitting: without a running loop, nothing is queued.
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pool = getattr(self, pool_name)
        chain_future(pool.submit(method, self, *call_args, **call_kwargs), outcome)
        return outcome

    return submit_to_pool


def chain_future(
    a: asyncio.Future[_T] | concurrent.futures.Future[_T],
    b: asyncio.Future[_T] | concurrent.futures.Future[_T],
) -> None:
    """When ``a`` completes, give ``b`` the same result or exception.

    ``b`` keeps its outcome if it was already done (cancelled, say) by then.
    A ``concurrent.futures`` source may complete on another thread; the copy
    then hops onto ``b``'s loop so that asyncio futures are only touched on
    their own thread.
    """

    def copy(a: Any) -> None:
        if b.done():
            return
        if a.cancelled():
            b.cancel()
        elif a.exception() is not None:
            b.set_exception(a.exception())
        else:
            b.set_result(a.result())

    if isinstance(a, asyncio.Future):
        future_add_done_callback(a, copy)
    elif isinstance(b, asyncio.Future):
        loop = b.get_loop()

        def on_other_thread(a: Any) -> None:
            try:
                loop.call_soon_threadsafe(copy, a)
            except RuntimeError:
                pass  # the loop closed meanwhile; nobody can await b any more

        a.add_done_callback(on_other_thread)
    else:
        a.add_done_callback(copy)


def future_set_result_unless_cancelled(
    future: asyncio.Future[_T] | concurrent.futures.Future[_T], value: _T
) -> None:
    """Set a result unless the future was cancelled (which asyncio forbids)."""
    if not future.cancelled():
        future.set_result(value)


def future_set_exception_unless_cancelled(
    future: asyncio.Future[Any] | concurrent.futures.Future[Any], exc: BaseException
) -> None:
    """Set an exception, or log it if the future was already cancelled.

    Logging keeps the error visible: with nobody left to receive it, it
    would otherwise vanish.
    """
    if not future.cancelled():
        future.set_exception(exc)
    else:
        app_log.error("Exception after Future was cancelled", exc_info=exc)


def future_set_exc_info(
    future: asyncio.Future[Any] | concurrent.futures.Future[Any],
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> None:
    """Set the exception described by a ``sys.exc_info()`` triple."""
    if exc_info[1] is None:
        raise Exception("future_set_exc_info called with no exception")
    future_set_exception_unless_cancelled(future, exc_info[1])


@overload
def future_add_done_callback(
    future: concurrent.futures.Future[_T],
    callback: Callable[[concurrent.futures.Future[_T]], None],
) -> None: ...


@overload
def future_add_done_callback(
    future: asyncio.Future[_T], callback: Callable[[asyncio.Future[_T]], None]
) -> None: ...


def future_add_done_callback(future: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(future)`` when it completes; at once if it already has."""
    if future.done():
        callback(future)
    else:
        future.add_done_callback(callback)
