"""Queue's waiting lines (``_getters``/``_putters``), kept as Tornado keeps
them: finished waiters are skipped at once and leave when they reach the
front; a long line is swept throughout."""

from __future__ import annotations

import asyncio
import datetime

import pytest

import squall.queues as queues_module
from squall.queues import Queue, QueueFull

SHORT = datetime.timedelta(seconds=0.01)


async def wait_done(futures):
    for future in futures:
        while not future.done():
            await asyncio.sleep(0.005)


def consume(futures):
    """Retrieve every timeout, as a caller awaiting them would."""
    for future in futures:
        with pytest.raises(TimeoutError, match="Timeout"):
            future.result()


async def test_timed_out_getters_leave_from_the_front(io_loop):
    q: Queue[int] = Queue()
    expired = [q.get(SHORT) for _ in range(4)]
    live = q.get()
    await wait_done(expired)
    # Still in line, but not waiting (the repr counts only those waiting).
    assert len(q._getters) == 5
    assert str(q) == "<Queue maxsize=0 getters[1]>"
    # Any get or put clears the finished waiters off the front.
    another = q.get()
    assert len(q._getters) == 2
    q.put_nowait(1)
    q.put_nowait(2)
    assert (live.result(), another.result()) == (1, 2)
    assert len(q._getters) == 0
    consume(expired)


async def test_getter_that_timed_out_behind_a_live_one_is_skipped(io_loop):
    q: Queue[str] = Queue()
    first = q.get()
    expired = q.get(SHORT)
    last = q.get()
    await wait_done([expired])
    q.put_nowait("a")
    # The expired getter is now at the front, with one waiting behind it.
    assert len(q._getters) == 2
    q.put_nowait("b")
    assert (first.result(), last.result()) == ("a", "b")
    assert q.qsize() == 0 and len(q._getters) == 0
    consume([expired])


async def test_timed_out_putters_never_insert(io_loop):
    q: Queue[int] = Queue(maxsize=1)
    q.put_nowait(0)
    live = q.put(1)
    expired = [q.put(n, SHORT) for n in (2, 3, 4)]
    await wait_done(expired)
    assert len(q._putters) == 4
    assert str(q) == "<Queue maxsize=1 queue=deque([0]) putters[1] tasks=1>"
    assert q.get_nowait() == 0  # the live putter's item moves in
    assert live.done() and list(q._queue) == [1]
    assert q.get_nowait() == 1
    assert q.empty() and len(q._putters) == 0
    with pytest.raises(QueueFull):
        q.put_nowait(5)
        q.put_nowait(6)
    consume(expired)


async def test_cancelled_getter_is_skipped(io_loop):
    q: Queue[int] = Queue()
    cancelled = q.get()
    live = q.get()
    cancelled.cancel()
    q.put_nowait(7)
    assert live.result() == 7
    assert len(q._getters) == 0


async def test_zero_timeout_fails_on_the_next_iteration(io_loop):
    q: Queue[int] = Queue()
    late = q.get(timeout=datetime.timedelta(0))
    assert not late.done()
    with pytest.raises(TimeoutError):
        await late
    # An item put before the loop turns reaches a zero-timeout getter.
    served = q.get(timeout=datetime.timedelta(0))
    q.put_nowait(3)
    assert await served == 3


async def test_long_lines_are_swept(io_loop, monkeypatch):
    monkeypatch.setattr(queues_module, "SWEEP_MIN_WAITERS", 8)
    q: Queue[int] = Queue()
    stuck = q.get()  # waits for good, holding the front
    expired = [q.get(SHORT) for _ in range(7)]
    await wait_done(expired)
    assert len(q._getters) == 8
    newer = q.get()
    # Past the bound: every finished waiter went, not only the front ones.
    assert list(q._getters) == [stuck, newer]
    q.put_nowait(1)
    q.put_nowait(2)
    assert (stuck.result(), newer.result()) == (1, 2)
    consume(expired)


async def test_bad_timeouts_leave_nothing_in_line(io_loop):
    q: Queue[int] = Queue(maxsize=1)
    with pytest.raises(TypeError):
        q.get(timeout="soon")  # type: ignore[arg-type]
    assert len(q._getters) == 0
    q.put_nowait(1)
    with pytest.raises(TypeError):
        q.put(2, timeout=[1])  # type: ignore[arg-type]
    assert len(q._putters) == 0
