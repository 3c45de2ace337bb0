"""SelectorThread's lifecycle: the task that starts its thread, close()
before that task ran, and the exit hook that stops selectors never closed."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

import squall.platform.asyncio as platform_asyncio
from squall.platform.asyncio import SelectorThread


async def test_open_selectors_are_tracked_until_closed() -> None:
    selector = SelectorThread(asyncio.get_running_loop())
    assert selector in platform_asyncio._selector_loops
    assert selector._thread_manager_task is None  # started on the next turn
    await asyncio.sleep(0)
    task = selector._thread_manager_task
    assert task is not None
    await task
    thread = selector._thread
    assert thread is not None and thread.is_alive()
    selector.close()
    assert selector not in platform_asyncio._selector_loops
    assert not thread.is_alive()
    assert selector._waker_r.fileno() == -1 and selector._waker_w.fileno() == -1
    selector.close()  # twice is fine


async def test_close_before_the_thread_manager_was_made() -> None:
    selector = SelectorThread(asyncio.get_running_loop())
    selector.close()
    assert selector not in platform_asyncio._selector_loops
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # Closed first: no task, no thread.
    assert selector._thread_manager_task is None and selector._thread is None


def test_close_before_the_thread_manager_ran_leaves_nothing_pending() -> None:
    loop = asyncio.new_event_loop()
    try:
        selector = SelectorThread(loop)
        # One loop iteration: the manager task is made, not yet run.
        loop.call_soon(loop.stop)
        loop.run_forever()
        task = selector._thread_manager_task
        assert task is not None and not task.done()
        selector.close()
    finally:
        loop.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del task
        gc.collect()
    # Neither "coroutine ... was never awaited" nor a pending-task report.
    assert not [w for w in caught if "never awaited" in str(w.message)]
    assert selector._thread is None


async def test_exit_hook_stops_selectors_never_closed() -> None:
    loop = asyncio.get_running_loop()
    selector = SelectorThread(loop)
    left, right = socket.socketpair()
    try:
        seen = loop.create_future()
        selector.add_reader(left, lambda: seen.done() or seen.set_result(left.recv(1)))
        right.send(b"x")
        assert await seen == b"x"
        thread = selector._thread
        assert thread is not None
        platform_asyncio._atexit_callback()
        assert not thread.is_alive()
        assert selector._waker_r.fileno() == -1
        assert selector not in platform_asyncio._selector_loops
        selector.close()  # still safe afterwards
    finally:
        left.close()
        right.close()
