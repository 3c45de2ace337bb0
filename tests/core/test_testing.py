"""squall.testing: AsyncTestCase, gen_test, ExpectLog, bind_unused_port."""

from __future__ import annotations

import asyncio
import logging
import socket
import unittest

import pytest

from squall import gen
from squall.ioloop import IOLoop
from squall.testing import (
    AsyncTestCase,
    ExpectLog,
    bind_unused_port,
    gen_test,
    get_async_test_timeout,
)


def run_case(case_cls, name):
    result = unittest.TestResult()
    case_cls(name).run(result)
    return result


class Cases(AsyncTestCase):
    __test__ = False  # run by the tests below, which check its outcomes

    def test_stop_wait(self):
        self.io_loop.add_callback(self.stop, "value")
        assert self.wait() == "value"

    def test_stop_kwargs(self):
        self.io_loop.add_callback(lambda: self.stop(a=1))
        assert self.wait() == {"a": 1}

    def test_wait_condition(self):
        counter = []

        def tick():
            counter.append(1)
            self.stop()
            if len(counter) < 3:
                self.io_loop.add_callback(tick)

        self.io_loop.add_callback(tick)
        self.wait(condition=lambda: len(counter) >= 3)
        assert len(counter) >= 3

    def test_wait_times_out(self):
        self.wait(timeout=0.01)

    @gen_test
    def test_generator_gen_test(self):
        yield gen.sleep(0)
        self.generator_ran = True

    @gen_test
    async def test_async_gen_test(self):
        await asyncio.sleep(0)
        assert IOLoop.current() is self.io_loop

    @gen_test(timeout=0.05)
    async def test_gen_test_times_out(self):
        await asyncio.sleep(5)

    @gen_test(timeout=0.05)
    def test_generator_gen_test_times_out(self):
        yield gen.sleep(5)

    async def test_forgot_gen_test(self):
        pass  # pragma: no cover

    def test_returns_value(self):
        return 5

    def test_left_running_task_is_cancelled(self):
        async def forever():
            await asyncio.sleep(100)

        self.task = self.io_loop.asyncio_loop.create_task(forever())


def test_stop_wait_pass():
    for name in (
        "test_stop_wait",
        "test_stop_kwargs",
        "test_wait_condition",
        "test_generator_gen_test",
        "test_async_gen_test",
    ):
        result = run_case(Cases, name)
        assert result.wasSuccessful(), (name, result.errors, result.failures)


def test_wait_timeout_is_a_failure():
    result = run_case(Cases, "test_wait_times_out")
    assert len(result.failures) == 1
    assert "Async operation timed out after 0.01 seconds" in result.failures[0][1]


def test_gen_test_timeout_messages():
    result = run_case(Cases, "test_gen_test_times_out")
    assert len(result.errors) == 1
    assert "TimeoutError: Async operation timed out after 0.05 seconds" in result.errors[0][1]
    result = run_case(Cases, "test_generator_gen_test_times_out")
    assert "timed out after 0.05 seconds (waiting at" in result.errors[0][1]
    # The message quotes the line the test was suspended on.
    assert "yield gen.sleep(" in result.errors[0][1]


def test_coroutine_without_gen_test_is_an_error():
    result = run_case(Cases, "test_forgot_gen_test")
    assert "should be decorated with squall.testing.gen_test" in result.errors[0][1]
    result = run_case(Cases, "test_returns_value")
    assert "Return value from test method ignored" in result.errors[0][1]


def test_teardown_cancels_leftover_tasks():
    case = Cases("test_left_running_task_is_cancelled")
    result = unittest.TestResult()
    case.run(result)
    assert result.wasSuccessful()
    assert case.task.cancelled()
    assert case.io_loop.asyncio_loop.is_closed()


def test_stop_rejects_both_forms():
    case = Cases("test_stop_wait")
    with pytest.raises(ValueError):
        case.stop(1, a=2)


def test_get_async_test_timeout(monkeypatch):
    monkeypatch.delenv("ASYNC_TEST_TIMEOUT", raising=False)
    assert get_async_test_timeout() == 5
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "12.5")
    assert get_async_test_timeout() == 12.5
    monkeypatch.setenv("ASYNC_TEST_TIMEOUT", "soon")
    assert get_async_test_timeout() == 5


def test_expect_log_swallows_and_counts():
    logger = logging.getLogger("squall.test.expect")
    with ExpectLog(logger, "hello .*") as expect:
        logger.error("hello %s", "world")
        logger.warning("hello again")
    assert expect.matched
    assert expect.counts == {logging.ERROR: 1, logging.WARNING: 1}


def test_expect_log_required_and_level():
    logger = logging.getLogger("squall.test.expect")
    with (
        pytest.raises(Exception, match="did not get expected log message"),
        ExpectLog(logger, "never"),
    ):
        pass
    with ExpectLog("squall.test.expect", "never", required=False):
        pass
    with ExpectLog(logger, "x", level=logging.WARNING) as expect:
        logger.warning("x marks")
        logger.info("x is info and passes through")
    assert expect.counts == {logging.WARNING: 1}


def test_expect_log_notes_stack_traces():
    logger = logging.getLogger("squall.test.expect")
    with ExpectLog(logger, "failed") as expect:
        try:
            raise ValueError
        except ValueError:
            logger.exception("failed")
    assert expect.logged_stack


def test_bind_unused_port():
    sock, port = bind_unused_port()
    try:
        assert sock.getsockname()[1] == port > 0
        client = socket.create_connection(("127.0.0.1", port))
        client.close()
    finally:
        sock.close()
    sock, port = bind_unused_port(reuse_port=True)
    sock.close()


async def test_plugin_io_loop_fixture_is_current(io_loop):
    assert IOLoop.current() is io_loop
    await gen.sleep(0)


@pytest.mark.gen_test(timeout=0.5)
async def test_plugin_marker_timeout(io_loop):
    await gen.sleep(0.01)
