"""``AsyncTestCase`` and ``gen_test``: unittest on a fresh IOLoop per test."""

from __future__ import annotations

import asyncio
import functools
import inspect
import linecache
import os
import unittest
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar, overload

from squall import gen
from squall.ioloop import IOLoop
from squall.util import TimeoutError

_F = TypeVar("_F", bound=Callable[..., Any])

# How long gen_test and wait() allow by default, in seconds. Tornado uses 5;
# ASYNC_TEST_TIMEOUT in the environment raises it on slow machines.
DEFAULT_ASYNC_TEST_TIMEOUT = 5.0


def get_async_test_timeout() -> float:
    """The default timeout for async tests: ``ASYNC_TEST_TIMEOUT`` or 5 s."""
    env = os.environ.get("ASYNC_TEST_TIMEOUT")
    if env:
        try:
            return float(env)
        except ValueError:
            pass
    return DEFAULT_ASYNC_TEST_TIMEOUT


class _TestMethodWrapper:
    """Refuses test methods that return a coroutine nobody will run.

    Without this, an ``async def test_x`` lacking ``@gen_test`` would "pass"
    without executing a line of its body.
    """

    def __init__(self, orig_method: Callable[..., Any]) -> None:
        self.orig_method = orig_method
        self.__wrapped__ = orig_method

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        result = self.orig_method(*args, **kwargs)
        if isinstance(result, Generator) or inspect.iscoroutine(result):
            result.close()
            raise TypeError(
                "Generator and coroutine test methods should be decorated with "
                "squall.testing.gen_test"
            )
        if result is not None:
            raise ValueError(f"Return value from test method ignored: {result!r}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.orig_method, name)


class AsyncTestCase(unittest.TestCase):
    """A ``TestCase`` with its own ``self.io_loop``, new for every test.

    Write tests as ``@gen_test`` coroutines, or in the older style: start
    something with a callback that calls ``self.stop(value)`` and get
    ``value`` back from ``self.wait()``.
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self.__stopped = False
        self.__running = False
        self.__failure: BaseException | None = None
        self.__stop_args: Any = None
        self.__timeout: object | None = None
        try:
            method = getattr(self, methodName)
        except AttributeError:
            pass  # unittest reports the missing method itself
        else:
            setattr(self, methodName, _TestMethodWrapper(method))
        self._test_generator: Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None = None

    def setUp(self) -> None:
        super().setUp()
        self.io_loop = self.get_new_ioloop()
        asyncio.set_event_loop(self.io_loop.asyncio_loop)
        IOLoop._current.instance = self.io_loop

    def tearDown(self) -> None:
        loop = self.io_loop.asyncio_loop
        if not loop.is_closed():
            # Cancel what the test left running, and let it unwind, so that
            # no task outlives its loop (asyncio would complain at exit).
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        self.io_loop.close(all_fds=True)
        IOLoop.clear_current()
        asyncio.set_event_loop(None)
        super().tearDown()
        self.__rethrow()

    def get_new_ioloop(self) -> IOLoop:
        """The loop for one test; override to supply another."""
        io_loop = IOLoop(make_current=False)
        assert isinstance(io_loop, IOLoop)
        return io_loop

    def __rethrow(self) -> None:
        if self.__failure is not None:
            failure = self.__failure
            self.__failure = None
            raise failure

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """End a ``wait()``; it returns ``_arg`` or the keyword arguments."""
        if _arg is not None and kwargs:
            raise ValueError("stop() takes a positional argument or keywords, not both")
        self.__stop_args = kwargs if kwargs else _arg
        self.__stopped = True
        if not self.__running:
            # stop() came before wait(): wait() will return at once.
            return
        self.__running = False
        self.io_loop.stop()

    def wait(
        self,
        condition: Callable[[], bool] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Run the loop until ``stop()`` is called (and ``condition()`` holds).

        Fails the test with ``failureException`` after ``timeout`` seconds
        (default ``get_async_test_timeout()``).
        """
        if not self.__stopped:
            limit = get_async_test_timeout() if timeout is None else timeout
            self.__spin(condition, limit)
        assert self.__stopped
        self.__stopped = False
        self.__rethrow()
        outcome, self.__stop_args = self.__stop_args, None
        return outcome

    def __spin(self, condition: Callable[[], bool] | None, limit: float) -> None:
        """Run the loop, restarting it after each ``stop()`` until the wait is over."""
        if limit:
            self.__timeout = self.io_loop.call_later(limit, self.__give_up, limit)
        finished = False
        while not finished:
            self.__running = True
            self.io_loop.start()
            # A recorded failure (e.g. the timeout) ends the wait regardless.
            finished = self.__failure is not None or condition is None or condition()
        pending, self.__timeout = self.__timeout, None
        if pending is not None:
            self.io_loop.remove_timeout(pending)

    def __give_up(self, limit: float) -> None:
        self.__failure = self.failureException(f"Async operation timed out after {limit} seconds")
        self.stop()


@overload
def gen_test(*, timeout: float | None = None) -> Callable[[_F], _F]: ...


@overload
def gen_test(func: _F) -> _F: ...


def gen_test(func: Any = None, timeout: float | None = None) -> Any:
    """Run an ``AsyncTestCase`` method as a coroutine, with a timeout.

    Use bare (``@gen_test``) or with a timeout in seconds
    (``@gen_test(timeout=30)``); the default is ``get_async_test_timeout()``.
    Both ``async def`` and generator methods work.
    """
    if timeout is None:
        timeout = get_async_test_timeout()

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def remember(self: AsyncTestCase, *args: Any, **kwargs: Any) -> Any:
            produced = f(self, *args, **kwargs)
            # Kept so that a timeout can report where the test was suspended.
            suspendable = isinstance(produced, Generator) or inspect.iscoroutine(produced)
            self._test_generator = produced if suspendable else None
            return produced

        coro = remember if inspect.iscoroutinefunction(f) else gen.coroutine(remember)

        @functools.wraps(f)
        def run(self: AsyncTestCase, *args: Any, **kwargs: Any) -> None:
            try:
                self.io_loop.run_sync(functools.partial(coro, self, *args, **kwargs), timeout)
            except TimeoutError:
                where = _where_suspended(self._test_generator)
                raise TimeoutError(
                    f"Async operation timed out after {timeout} seconds{where}"
                ) from None
            finally:
                self._test_generator = None

        # Lets the test runner see the original function for collection.
        run.__wrapped__ = f
        return run

    if func is not None:
        return wrap(func)
    return wrap


def _where_suspended(
    coro: Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None,
) -> str:
    """Where a timed-out test was waiting, to put in the error message."""
    frame = None
    if coro is not None:
        frame = getattr(coro, "gi_frame", None) or getattr(coro, "cr_frame", None)
    if frame is None:
        return ""
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, lineno).strip()
    # The source line too, as a traceback through the coroutine would show.
    return (
        f" (waiting at {filename}:{lineno}: {source})"
        if source
        else (f" (waiting at {filename}:{lineno})")
    )
