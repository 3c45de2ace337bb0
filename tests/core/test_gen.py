"""squall.gen: generator coroutines and the wait helpers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime

import pytest

from squall import gen
from squall.ioloop import IOLoop
from squall.testing import ExpectLog

pytestmark = pytest.mark.gen_test(timeout=10)


async def test_coroutine_returns_future_and_value(io_loop):
    @gen.coroutine
    def add(a, b):
        yield gen.moment
        return a + b

    fut = add(1, 2)
    assert isinstance(fut, asyncio.Future)
    assert await fut == 3


async def test_return_exception_and_plain_function(io_loop):
    @gen.coroutine
    def old_style():
        yield gen.sleep(0)
        raise gen.Return("old")

    @gen.coroutine
    def not_a_generator():
        return "plain"

    @gen.coroutine
    def raises_return_immediately():
        raise gen.Return(5)

    assert await old_style() == "old"
    assert await not_a_generator() == "plain"
    assert await raises_return_immediately() == 5
    assert gen.Return(1).args == (1,)


async def test_runs_synchronously_until_first_pending_yield(io_loop):
    steps = []

    @gen.coroutine
    def f():
        steps.append("start")
        yield gen.maybe_future(None)  # already done: no suspension
        steps.append("after done future")
        yield gen.sleep(0)
        steps.append("after sleep")

    fut = f()
    assert steps == ["start", "after done future"]
    await fut
    assert steps == ["start", "after done future", "after sleep"]


async def test_exceptions_are_thrown_into_the_generator(io_loop):
    async def fail():
        raise KeyError("inner")

    @gen.coroutine
    def catcher():
        try:
            yield fail()
        except KeyError as e:
            return f"caught {e.args[0]}"

    @gen.coroutine
    def propagates():
        yield fail()

    assert await catcher() == "caught inner"
    with pytest.raises(KeyError):
        await propagates()


async def test_synchronous_exception_in_coroutine_function(io_loop):
    @gen.coroutine
    def bad():
        raise ValueError("at once")

    @gen.coroutine
    def bad_before_yield():
        raise ValueError("before yield")
        yield  # pragma: no cover

    with pytest.raises(ValueError, match="at once"):
        await bad()
    with pytest.raises(ValueError, match="before yield"):
        await bad_before_yield()


async def test_yield_none_list_and_dict(io_loop):
    @gen.coroutine
    def f():
        yield None
        results = yield [gen.sleep(0), gen.maybe_future(2)]
        mapping = yield {"a": gen.maybe_future(1), "b": gen.sleep(0)}
        return results, mapping

    assert await f() == ([None, 2], {"a": 1, "b": None})


async def test_bad_yield(io_loop):
    @gen.coroutine
    def f():
        yield 42

    with pytest.raises(gen.BadYieldError):
        await f()
    with pytest.raises(gen.BadYieldError):
        gen.convert_yielded("nope")


async def test_yield_concurrent_future_and_native_coroutine(io_loop):
    executor = concurrent.futures.ThreadPoolExecutor(1)
    try:

        async def native():
            return "native"

        @gen.coroutine
        def f():
            a = yield executor.submit(lambda: "thread")
            b = yield native()
            return a + b

        assert await f() == "threadnative"
    finally:
        executor.shutdown()


async def test_coroutine_wrapping_async_def(io_loop):
    @gen.coroutine
    async def f():
        await asyncio.sleep(0)
        return "wrapped"

    assert await f() == "wrapped"
    assert gen.is_coroutine_function(f)


def test_is_coroutine_function():
    @gen.coroutine
    def g():
        yield

    async def n():
        pass

    def plain():
        pass

    assert gen.is_coroutine_function(g)
    assert gen.is_coroutine_function(n)
    assert not gen.is_coroutine_function(plain)


async def test_context_vars_follow_the_coroutine(io_loop):
    var = contextvars.ContextVar("var", default="unset")

    @gen.coroutine
    def reader():
        yield gen.sleep(0)
        return var.get()

    @gen.coroutine
    def setter():
        var.set("inside")
        yield gen.sleep(0)
        return var.get()

    var.set("outer")
    assert await reader() == "outer"
    assert await setter() == "inside"
    assert var.get() == "outer"  # the coroutine's set did not leak out


async def test_multi_results_and_errors(io_loop):
    async def ok(v):
        await asyncio.sleep(0)
        return v

    async def fail(exc):
        await asyncio.sleep(0)
        raise exc

    assert await gen.multi([ok(1), ok(2)]) == [1, 2]
    assert await gen.multi({"x": ok(1)}) == {"x": 1}
    assert await gen.multi([]) == []
    assert await gen.multi({}) == {}
    same = gen.maybe_future(9)
    assert await gen.multi([same, same]) == [9, 9]
    with pytest.raises(ValueError), ExpectLog("squall.application", "Multiple exceptions"):
        await gen.multi([fail(ValueError()), fail(KeyError())])
    # Quiet exceptions are not logged (no ExpectLog: an ERROR would fail the test).
    with pytest.raises(ValueError):
        await gen.multi_future([fail(ValueError()), fail(KeyError())], quiet_exceptions=KeyError)


async def test_sleep(io_loop):
    start = io_loop.time()
    await gen.sleep(0.03)
    assert io_loop.time() - start >= 0.025


async def test_with_timeout_times_out_without_cancelling(io_loop):
    inner = io_loop.asyncio_loop.create_future()
    with pytest.raises(gen.TimeoutError):
        await gen.with_timeout(datetime.timedelta(seconds=0.02), inner)
    assert not inner.cancelled()
    inner.set_result("late")  # fine: nobody was waiting any more
    assert gen.TimeoutError is TimeoutError


async def test_with_timeout_passes_result_and_deadline_form(io_loop):
    assert await gen.with_timeout(io_loop.time() + 5, gen.maybe_future(1)) == 1

    async def slowish():
        await asyncio.sleep(0.01)
        return "done"

    assert await gen.with_timeout(io_loop.time() + 5, slowish()) == "done"


async def test_with_timeout_logs_late_failure_unless_quiet(io_loop):
    inner = io_loop.asyncio_loop.create_future()
    with pytest.raises(TimeoutError):
        await gen.with_timeout(datetime.timedelta(seconds=0.01), inner)
    with ExpectLog("squall.application", "Exception in Future"):
        inner.set_exception(OSError("late failure"))
        await gen.sleep(0.01)
    quiet = io_loop.asyncio_loop.create_future()
    with pytest.raises(TimeoutError):
        await gen.with_timeout(datetime.timedelta(seconds=0.01), quiet, quiet_exceptions=(OSError,))
    quiet.set_exception(OSError("quiet"))
    await gen.sleep(0.01)


async def test_wait_iterator_positional_order(io_loop):
    loop = io_loop.asyncio_loop
    futures = [loop.create_future() for _ in range(3)]
    wait = gen.WaitIterator(*futures)
    loop.call_soon(futures[2].set_result, "c")
    loop.call_later(0.01, futures[0].set_result, "a")
    loop.call_later(0.02, futures[1].set_exception, KeyError("b"))
    seen = []
    while not wait.done():
        try:
            result = await wait.next()
        except KeyError:
            seen.append((wait.current_index, "error"))
        else:
            seen.append((wait.current_index, result))
    assert seen == [(2, "c"), (0, "a"), (1, "error")]
    assert wait.current_index is None


async def test_wait_iterator_keywords_and_async_for(io_loop):
    wait = gen.WaitIterator(x=gen.maybe_future(1), y=gen.sleep(0.01))
    seen = {}
    async for result in wait:
        seen[wait.current_index] = result
    assert seen == {"x": 1, "y": None}
    with pytest.raises(ValueError):
        gen.WaitIterator(gen.maybe_future(1), y=gen.maybe_future(2))


async def test_maybe_future(io_loop):
    fut = io_loop.asyncio_loop.create_future()
    assert gen.maybe_future(fut) is fut
    assert await gen.maybe_future(3) == 3


async def test_task_adapts_callback_functions(io_loop):
    def one_value(x, callback):
        io_loop.add_callback(callback, x * 2)

    def two_values(callback):
        callback("a", "b")

    def raises(callback):
        raise RuntimeError("sync failure")

    assert await gen.Task(one_value, 21) == 42
    assert await gen.Task(two_values) == ("a", "b")
    with pytest.raises(RuntimeError):
        await gen.Task(raises)


async def test_cancelled_future_is_thrown_into_generator(io_loop):
    inner = io_loop.asyncio_loop.create_future()
    seen = []

    @gen.coroutine
    def waits():
        try:
            yield inner
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    fut = waits()
    inner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fut
    assert seen == ["cancelled"]


def test_coroutine_outside_running_loop_uses_current_ioloop():
    io_loop = IOLoop(make_current=True)
    try:

        @gen.coroutine
        def f():
            yield gen.moment
            return "ok"

        assert io_loop.run_sync(f) == "ok"
    finally:
        io_loop.close()
        IOLoop.clear_current()


def test_error_classes_exist():
    for name in (
        "KeyReuseError",
        "UnknownKeyError",
        "LeakedCallbackError",
        "ReturnValueIgnoredError",
    ):
        assert issubclass(getattr(gen, name), Exception)
