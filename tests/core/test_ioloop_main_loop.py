"""Which IOLoop class ``IOLoop.current()`` makes, and what ``close()`` does
with tasks left pending (Tornado's observable behaviour)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from squall.ioloop import AsyncIOLoop, AsyncIOMainLoop, IOLoop

WORKTREE = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_current_in_a_fresh_process_is_a_main_loop():
    code = (
        "import asyncio; from squall.ioloop import IOLoop; io_loop = IOLoop.current(); "
        "print(type(io_loop).__name__, io_loop is IOLoop.current(), "
        "io_loop.asyncio_loop is asyncio.get_event_loop())"
    )
    assert run_python(code) == "AsyncIOMainLoop True True"


def test_configure_does_not_change_what_current_makes():
    code = (
        "from squall.ioloop import IOLoop; IOLoop.configure('squall.ioloop.AsyncIOLoop'); "
        "print(type(IOLoop.current()).__name__, type(IOLoop(make_current=False)).__name__)"
    )
    assert run_python(code) == "AsyncIOMainLoop AsyncIOLoop"


def test_main_loop_without_a_loop_makes_the_threads_loop():
    code = (
        "import asyncio; from squall.ioloop import IOLoop, AsyncIOMainLoop; "
        "io_loop = AsyncIOMainLoop(); io_loop.install(); "
        "print(type(IOLoop.current()).__name__, IOLoop.current() is io_loop, "
        "asyncio.get_event_loop() is io_loop.asyncio_loop)"
    )
    assert run_python(code) == "AsyncIOMainLoop True True"


def test_new_ioloop_is_still_an_asyncio_loop_of_its_own():
    io_loop = IOLoop(make_current=False)
    try:
        assert type(io_loop) is AsyncIOLoop
        assert not isinstance(io_loop, AsyncIOMainLoop)
    finally:
        io_loop.close()


def test_run_sync_task_left_pending_is_held_not_reported(caplog):
    io_loop = IOLoop(make_current=False)
    started: list[asyncio.Task[None]] = []

    async def stops_then_waits() -> None:
        started.append(asyncio.current_task())  # type: ignore[arg-type]
        IOLoop.current().stop()
        await asyncio.sleep(3600)

    with pytest.raises(RuntimeError, match="stopped before"):
        io_loop.run_sync(stops_then_waits)
    task = started.pop()
    assert not task.done()
    io_loop.close()
    # Not cancelled (none of its code runs after the loop is gone), and
    # garbage collection does not report it at some later moment.
    assert not task.done()
    assert task not in IOLoop._pending_tasks  # released with its loop
    del task
    gc.collect()
    assert not [r for r in caplog.records if "destroyed" in r.getMessage()]


async def test_callback_coroutines_are_held_until_done(io_loop):
    release = asyncio.get_running_loop().create_future()
    finished: list[str] = []

    async def background() -> None:
        await release
        finished.append("done")

    before = len(IOLoop._pending_tasks)
    io_loop.add_callback(background)
    await asyncio.sleep(0)
    assert len(IOLoop._pending_tasks) == before + 1
    gc.collect()
    release.set_result(None)
    for _ in range(3):
        await asyncio.sleep(0)
    assert finished == ["done"]
    assert len(IOLoop._pending_tasks) == before
