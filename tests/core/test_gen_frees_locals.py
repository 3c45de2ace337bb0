"""A finished ``@gen.coroutine`` keeps none of its locals alive: they are
freed by reference counting alone, not left to the garbage collector (the
exception that ends a coroutine must not cycle back to its frames)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from squall import gen


class Payload:
    """Something a coroutine holds in a local; weakly referenceable."""


@pytest.fixture
def no_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def test_error_after_a_yield_frees_the_frame(io_loop, no_gc):
    refs: list[weakref.ref[Payload]] = []

    @gen.coroutine
    def fails_later():
        held = Payload()
        refs.append(weakref.ref(held))
        yield gen.moment
        yield gen.coroutine(lambda: None)()
        raise ValueError("late")

    @gen.coroutine
    def catches():
        try:
            yield fails_later()
        except ValueError:
            pass

    await catches()
    assert refs[0]() is None


async def test_error_before_any_yield_frees_the_frame(io_loop, no_gc):
    refs: list[weakref.ref[Payload]] = []

    @gen.coroutine
    def fails_at_once():
        held = Payload()
        refs.append(weakref.ref(held))
        if held:
            raise KeyError("early")
        yield gen.moment

    @gen.coroutine
    def catches():
        with pytest.raises(KeyError):
            yield fails_at_once()

    await catches()
    assert refs[0]() is None


async def test_result_and_cancellation_free_the_frame(io_loop, no_gc):
    refs: list[weakref.ref[Payload]] = []

    @gen.coroutine
    def returns():
        held = Payload()
        refs.append(weakref.ref(held))
        yield gen.moment
        return 42

    @gen.coroutine
    def cancelled():
        held = Payload()
        refs.append(weakref.ref(held))
        yield gen.moment
        raise asyncio.CancelledError()

    assert await returns() == 42
    future = cancelled()
    with pytest.raises(asyncio.CancelledError):
        await future
    del future
    assert [ref() for ref in refs] == [None, None]


async def test_errors_still_reach_the_caller_intact(io_loop):
    @gen.coroutine
    def fails():
        yield gen.moment
        raise ValueError("with traceback")

    with pytest.raises(ValueError, match="with traceback") as info:
        await fails()
    # The traceback still shows the coroutine's own frame.
    assert any(entry.name == "fails" for entry in info.traceback)
