"""squall.concurrent: future helpers and run_on_executor."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading

import pytest

from squall.concurrent import (
    FUTURES,
    DummyExecutor,
    Future,
    chain_future,
    dummy_executor,
    future_add_done_callback,
    future_set_exc_info,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
    is_future,
    run_on_executor,
)
from squall.testing import ExpectLog


def test_future_is_asyncio_future():
    assert Future is asyncio.Future
    assert asyncio.Future in FUTURES and concurrent.futures.Future in FUTURES
    assert is_future(concurrent.futures.Future())
    assert not is_future(object())


def test_dummy_executor_runs_inline():
    fut = dummy_executor.submit(lambda a, b: a + b, 1, 2)
    assert fut.result() == 3
    failed = DummyExecutor().submit(lambda: 1 / 0)
    assert isinstance(failed.exception(), ZeroDivisionError)
    dummy_executor.shutdown()


class Worker:
    def __init__(self):
        self.executor = concurrent.futures.ThreadPoolExecutor(1)
        self._other = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="other")

    @run_on_executor
    def blocking(self, x):
        return x * 2, threading.current_thread().name

    @run_on_executor(executor="_other")
    def on_other(self):
        return threading.current_thread().name

    @run_on_executor
    def fails(self):
        raise LookupError("in thread")

    def close(self):
        self.executor.shutdown()
        self._other.shutdown()


async def test_run_on_executor(io_loop):
    w = Worker()
    try:
        fut = w.blocking(21)
        assert isinstance(fut, asyncio.Future)
        value, name = await fut
        assert value == 42 and name != threading.current_thread().name
        assert (await w.on_other()).startswith("other")
        with pytest.raises(LookupError):
            await w.fails()
    finally:
        w.close()


def test_run_on_executor_argument_errors():
    with pytest.raises(ValueError):
        run_on_executor(lambda: None, executor="x")
    with pytest.raises(ValueError):
        run_on_executor(lambda: None, lambda: None)
    with pytest.raises(ValueError):
        run_on_executor(bogus=1)


async def test_chain_future_asyncio_to_asyncio(io_loop):
    loop = io_loop.asyncio_loop
    a, b = loop.create_future(), loop.create_future()
    chain_future(a, b)
    a.set_result(1)
    assert await b == 1
    c, d = loop.create_future(), loop.create_future()
    chain_future(c, d)
    c.set_exception(KeyError("x"))
    with pytest.raises(KeyError):
        await d
    e, f = loop.create_future(), loop.create_future()
    chain_future(e, f)
    f.cancel()
    e.set_result(2)  # f keeps its cancellation
    await asyncio.sleep(0)
    assert f.cancelled()
    g, h = loop.create_future(), loop.create_future()
    chain_future(g, h)
    g.cancel()
    await asyncio.sleep(0)
    assert h.cancelled()


async def test_chain_future_from_another_thread(io_loop):
    executor = concurrent.futures.ThreadPoolExecutor(1)
    try:
        target = io_loop.asyncio_loop.create_future()
        chain_future(executor.submit(lambda: "from thread"), target)
        assert await target == "from thread"
    finally:
        executor.shutdown()


def test_chain_future_concurrent_to_concurrent():
    a, b = concurrent.futures.Future(), concurrent.futures.Future()
    chain_future(a, b)
    a.set_result(5)
    assert b.result(timeout=1) == 5


def test_chain_future_to_closed_loop_is_silent():
    loop = asyncio.new_event_loop()
    target = loop.create_future()
    source = concurrent.futures.Future()
    chain_future(source, target)
    loop.close()
    source.set_result(1)  # must not raise although the loop is gone


async def test_set_unless_cancelled(io_loop):
    loop = io_loop.asyncio_loop
    fut = loop.create_future()
    fut.cancel()
    future_set_result_unless_cancelled(fut, 1)  # no InvalidStateError
    with ExpectLog("squall.application", "Exception after Future was cancelled"):
        future_set_exception_unless_cancelled(fut, ValueError("lost"))
    ok = loop.create_future()
    future_set_result_unless_cancelled(ok, 2)
    assert ok.result() == 2
    err = loop.create_future()
    future_set_exception_unless_cancelled(err, ValueError("kept"))
    with pytest.raises(ValueError):
        err.result()


async def test_future_set_exc_info(io_loop):
    fut = io_loop.asyncio_loop.create_future()
    try:
        raise OSError("from exc_info")
    except OSError:
        future_set_exc_info(fut, sys.exc_info())
    with pytest.raises(OSError, match="from exc_info"):
        fut.result()
    with pytest.raises(Exception, match="no exception"):
        future_set_exc_info(io_loop.asyncio_loop.create_future(), (None, None, None))


async def test_future_add_done_callback_immediate_or_later(io_loop):
    seen = []
    done = io_loop.asyncio_loop.create_future()
    done.set_result(1)
    future_add_done_callback(done, lambda f: seen.append("now"))
    assert seen == ["now"]
    pending = io_loop.asyncio_loop.create_future()
    future_add_done_callback(pending, lambda f: seen.append("later"))
    assert seen == ["now"]
    pending.set_result(2)
    await asyncio.sleep(0)
    assert seen == ["now", "later"]
    cf = concurrent.futures.Future()
    future_add_done_callback(cf, lambda f: seen.append("concurrent"))
    cf.set_result(3)
    assert seen[-1] == "concurrent"
