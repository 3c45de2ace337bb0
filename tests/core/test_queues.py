"""squall.queues: Queue, PriorityQueue, LifoQueue."""

from __future__ import annotations

import asyncio
import collections
import datetime
import re

import pytest

from squall import gen, queues
from squall.queues import LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull
from squall.testing import AsyncTestCase, gen_test
from squall.util import TimeoutError

pytestmark = pytest.mark.gen_test(timeout=10)

# Long enough for the loop to run a few iterations, short enough to keep
# the suite fast; nothing asserts on how long anything actually took.
SHORT = datetime.timedelta(milliseconds=10)


async def spin(iterations: int = 3) -> None:
    """Let the loop run pending callbacks (done-callbacks run one step late)."""
    for _ in range(iterations):
        await asyncio.sleep(0)


def timeout_of(kind: str, io_loop) -> float | datetime.timedelta:
    if kind == "timedelta":
        return SHORT
    return io_loop.time() + SHORT.total_seconds()


def test_public_names():
    assert sorted(queues.__all__) == [
        "LifoQueue",
        "PriorityQueue",
        "Queue",
        "QueueEmpty",
        "QueueFull",
    ]
    for name in queues.__all__:
        assert getattr(queues, name).__module__ == "squall.queues"
    assert issubclass(QueueEmpty, Exception)
    assert issubclass(QueueFull, Exception)
    assert issubclass(PriorityQueue, Queue)
    assert issubclass(LifoQueue, Queue)


# -- construction and inspection ----------------------------------------------------


def test_maxsize_validation():
    with pytest.raises(TypeError, match="maxsize can't be None"):
        Queue(None)
    with pytest.raises(ValueError, match="maxsize can't be negative"):
        Queue(-1)
    with pytest.raises(ValueError, match="maxsize can't be negative"):
        PriorityQueue(maxsize=-5)


def test_size_queries():
    q: Queue[int] = Queue[int](maxsize=2)
    assert q.maxsize == 2
    assert (q.qsize(), q.empty(), q.full()) == (0, True, False)
    q.put_nowait(1)
    assert (q.qsize(), q.empty(), q.full()) == (1, False, False)
    q.put_nowait(2)
    assert (q.qsize(), q.empty(), q.full()) == (2, False, True)
    with pytest.raises(AttributeError):
        q.maxsize = 3  # type: ignore[misc]


def test_unbounded_queue_is_never_full():
    q = Queue()
    assert q.maxsize == 0
    for i in range(1000):
        q.put_nowait(i)
    assert not q.full()
    assert q.qsize() == 1000


def test_nowait_errors():
    q = Queue(1)
    with pytest.raises(QueueEmpty):
        q.get_nowait()
    q.put_nowait("a")
    with pytest.raises(QueueFull):
        q.put_nowait("b")
    assert q.get_nowait() == "a"
    with pytest.raises(QueueEmpty):
        q.get_nowait()


async def test_repr_and_str(io_loop):
    q = Queue(maxsize=1)
    assert re.fullmatch(r"<Queue at 0x[0-9a-f]+ maxsize=1>", repr(q))
    assert str(q) == "<Queue maxsize=1>"
    getter = q.get()
    assert str(q) == "<Queue maxsize=1 getters[1]>"
    q.put_nowait("x")
    assert await getter == "x"
    assert str(q) == "<Queue maxsize=1 tasks=1>"
    q.put_nowait("y")
    putter = q.put("z")
    assert str(q) == "<Queue maxsize=1 queue=deque(['y']) putters[1] tasks=2>"
    assert re.fullmatch(
        r"<Queue at 0x[0-9a-f]+ maxsize=1 queue=deque\(\['y'\]\) putters\[1\] tasks=2>",
        repr(q),
    )
    putter.cancel()
    await spin()
    assert str(q) == "<Queue maxsize=1 queue=deque(['y']) tasks=2>"
    assert str(PriorityQueue()) == "<PriorityQueue maxsize=0>"
    assert re.fullmatch(r"<LifoQueue at 0x[0-9a-f]+ maxsize=0>", repr(LifoQueue()))


# -- get and put -------------------------------------------------------------------


async def test_fifo_order(io_loop):
    q = Queue()
    for i in range(5):
        q.put_nowait(i)
    assert [q.get_nowait() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_put_and_get_futures_done_when_possible(io_loop):
    q = Queue(1)
    put = q.put("item")
    assert isinstance(put, asyncio.Future)
    assert put.done()
    assert put.result() is None
    get = q.get()
    assert isinstance(get, asyncio.Future)
    assert get.done()
    assert get.result() == "item"


async def test_getters_wait_and_are_served_in_order(io_loop):
    q = Queue()
    getters = [q.get() for _ in range(3)]
    assert not any(g.done() for g in getters)
    q.put_nowait("a")
    # The item went straight to the first getter, not into the queue.
    assert q.empty()
    assert getters[0].done()
    q.put_nowait("b")
    await q.put("c")
    assert await asyncio.gather(*getters) == ["a", "b", "c"]


async def test_putters_wait_and_are_served_in_order(io_loop):
    q = Queue(maxsize=1)
    q.put_nowait(0)
    putters = [q.put(i) for i in (1, 2, 3)]
    assert not any(p.done() for p in putters)
    # Each item taken lets the longest-waiting putter in.
    assert q.get_nowait() == 0
    assert q.full()
    assert putters[0].done()
    assert not putters[1].done()
    assert await q.get() == 1
    assert q.get_nowait() == 2
    assert q.get_nowait() == 3
    await asyncio.gather(*putters)
    assert q.empty()


async def test_get_waits_for_put_from_another_coroutine(io_loop):
    q = Queue()

    async def later():
        await spin()
        await q.put("late")

    task = asyncio.ensure_future(later())
    assert await q.get() == "late"
    await task


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_get_timeout_does_not_swallow_later_item(io_loop, kind):
    q = Queue()
    with pytest.raises(TimeoutError, match="Timeout"):
        await q.get(timeout_of(kind, io_loop))
    assert str(q) == "<Queue maxsize=0>"
    q.put_nowait("kept")
    assert q.qsize() == 1
    assert q.get_nowait() == "kept"


async def test_get_timeout_passes_item_to_next_getter(io_loop):
    q = Queue()
    expiring = q.get(SHORT)
    patient = q.get()
    with pytest.raises(TimeoutError):
        await expiring
    q.put_nowait("for the patient one")
    assert await patient == "for the patient one"


async def test_get_with_item_ready_ignores_timeout(io_loop):
    q = Queue()
    q.put_nowait(1)
    fut = q.get(io_loop.time() - 1)
    assert fut.done()
    assert fut.result() == 1


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_put_timeout_does_not_insert(io_loop, kind):
    q = Queue(maxsize=1)
    q.put_nowait("a")
    with pytest.raises(TimeoutError, match="Timeout"):
        await q.put("b", timeout_of(kind, io_loop))
    assert q.get_nowait() == "a"
    assert q.empty()
    with pytest.raises(QueueEmpty):
        q.get_nowait()
    # Only "a" counts as a task.
    q.task_done()
    with pytest.raises(ValueError):
        q.task_done()


async def test_put_before_timeout_stays_put(io_loop):
    q = Queue(maxsize=1)
    q.put_nowait("a")
    fut = q.put("b", SHORT)
    assert q.get_nowait() == "a"
    await fut
    await asyncio.sleep(SHORT.total_seconds() * 2)
    assert fut.exception() is None
    assert q.get_nowait() == "b"


async def test_cancelled_getter_does_not_take_item(io_loop):
    q = Queue()
    cancelled = q.get()
    cancelled.cancel()
    q.put_nowait("item")  # same iteration: the cancelled getter is still queued
    assert q.qsize() == 1
    assert q.get_nowait() == "item"


async def test_cancelled_getter_task(io_loop):
    q = Queue()
    task = asyncio.ensure_future(q.get())
    await spin()
    assert str(q) == "<Queue maxsize=0 getters[1]>"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await spin()
    assert str(q) == "<Queue maxsize=0>"
    q.put_nowait(1)
    assert q.qsize() == 1


async def test_cancelled_putter_does_not_insert(io_loop):
    q = Queue(maxsize=1)
    q.put_nowait("a")
    cancelled = q.put("b")
    cancelled.cancel()
    assert q.get_nowait() == "a"
    assert q.empty()


async def test_bad_timeout_changes_nothing(io_loop):
    q = Queue(maxsize=1)
    with pytest.raises(TypeError, match="timeout must be"):
        q.put("a", timeout="1s")
    assert q.empty()
    with pytest.raises(TypeError, match="timeout must be"):
        q.get(timeout=[1])
    assert str(q) == "<Queue maxsize=1>"
    with pytest.raises(TypeError, match="timeout must be"):
        q.join(timeout="never")


# -- task_done and join ---------------------------------------------------------------


async def test_task_done_too_many(io_loop):
    q = Queue()
    with pytest.raises(ValueError, match=r"task_done\(\) called too many times"):
        q.task_done()
    q.put_nowait(1)
    q.get_nowait()
    q.task_done()
    with pytest.raises(ValueError, match=r"task_done\(\) called too many times"):
        q.task_done()


async def test_join_with_no_tasks_is_done(io_loop):
    q = Queue()
    assert q.join().done()
    q.put_nowait(1)
    q.get_nowait()
    q.task_done()
    await q.join()


async def test_join_waits_for_every_task_done(io_loop):
    q = Queue()
    for i in range(3):
        q.put_nowait(i)
    join = q.join()
    for _ in range(3):
        q.get_nowait()
    await spin()
    assert not join.done()  # taken is not done
    q.task_done()
    q.task_done()
    await spin()
    assert not join.done()
    q.task_done()
    await join
    # A new item makes join wait again.
    q.put_nowait("again")
    assert not q.join().done()


async def test_items_handed_to_getters_count_as_tasks(io_loop):
    q = Queue()
    getter = q.get()
    q.put_nowait("direct")
    assert await getter == "direct"
    assert not q.join().done()
    q.task_done()
    await q.join()


@pytest.mark.parametrize("kind", ["timedelta", "deadline"])
async def test_join_timeout(io_loop, kind):
    q = Queue()
    q.put_nowait(1)
    with pytest.raises(TimeoutError):
        await q.join(timeout_of(kind, io_loop))
    q.get_nowait()
    q.task_done()
    await q.join(SHORT)


# -- async for -------------------------------------------------------------------------


async def test_async_for_gets_items_forever(io_loop):
    q = Queue()
    for i in range(3):
        q.put_nowait(i)
    iterator = q.__aiter__()
    assert iterator.__aiter__() is iterator
    seen = []

    async def consume():
        async for item in q:
            seen.append(item)
            q.task_done()
            if item == "stop":
                break

    task = asyncio.ensure_future(consume())
    await spin()
    assert seen == [0, 1, 2]
    assert not task.done()  # still waiting on the empty queue
    q.put_nowait("stop")
    await task
    assert seen == [0, 1, 2, "stop"]
    await q.join()


# -- producers and consumers ------------------------------------------------------------


async def test_producers_consumers_join(io_loop):
    q = Queue(maxsize=2)
    consumed = []
    producers_n, consumers_n, per_producer = 3, 4, 10

    async def producer(p):
        for i in range(per_producer):
            await q.put((p, i))
            if i % 3 == 0:
                await asyncio.sleep(0)

    async def consumer(c):
        async for item in q:
            try:
                consumed.append((c, item))
                await asyncio.sleep(0)  # "work" that lets the others run
            finally:
                q.task_done()

    consumers = [asyncio.ensure_future(consumer(c)) for c in range(consumers_n)]
    await asyncio.gather(*(producer(p) for p in range(producers_n)))
    await q.join(datetime.timedelta(seconds=5))
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)

    items = [item for _, item in consumed]
    expected = [(p, i) for p in range(producers_n) for i in range(per_producer)]
    assert sorted(items) == expected  # each exactly once
    # FIFO: what one consumer got from one producer came in the order put.
    # (Across consumers, a getter handed an item resumes a step later, so
    # the global order of `consumed` is not the order items left the queue.)
    for c in range(consumers_n):
        for p in range(producers_n):
            got = [i for (cc, (pp, i)) in consumed if cc == c and pp == p]
            assert got == sorted(got)
    # The work was shared out.
    assert len({c for c, _ in consumed}) > 1
    assert q.empty()


# -- other orders ------------------------------------------------------------------------


async def test_priority_queue(io_loop):
    q = PriorityQueue()
    for item in [(3, "c"), (1, "a"), (2, "b"), (0, "z")]:
        q.put_nowait(item)
    assert q.qsize() == 4
    assert [q.get_nowait() for _ in range(4)] == [(0, "z"), (1, "a"), (2, "b"), (3, "c")]
    getter = q.get()
    q.put_nowait((5, "direct"))
    assert await getter == (5, "direct")


async def test_priority_queue_waiting_putter_competes(io_loop):
    q = PriorityQueue(maxsize=2)
    q.put_nowait(5)
    q.put_nowait(3)
    putter = q.put(1)
    # The waiting item enters as one leaves; the smallest of all comes out.
    assert q.get_nowait() == 1
    await putter
    assert [q.get_nowait(), q.get_nowait()] == [3, 5]


async def test_lifo_queue(io_loop):
    q = LifoQueue(maxsize=3)
    for i in range(3):
        await q.put(i)
    assert q.full()
    assert [q.get_nowait() for _ in range(3)] == [2, 1, 0]
    assert str(q) == "<LifoQueue maxsize=3 tasks=3>"


async def test_storage_hooks_can_be_overridden(io_loop):
    class UniqueQueue(Queue):
        """Drops an item equal to one already waiting in the queue."""

        def _init(self):
            self._queue = collections.OrderedDict()

        def _put(self, item):
            self._queue[item] = None

        def _get(self):
            return self._queue.popitem(last=False)[0]

    q = UniqueQueue()
    for item in ["a", "b", "a", "c", "b"]:
        q.put_nowait(item)
    assert q.qsize() == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]
    getter = q.get()
    q.put_nowait("d")  # the direct handover goes through the hooks too
    assert await getter == "d"


# -- the generator style ---------------------------------------------------------------


class GeneratorStyleTest(AsyncTestCase):
    @gen_test
    def test_yield_put_and_get(self):
        q = Queue(maxsize=1)
        results = []

        @gen.coroutine
        def consumer():
            for _ in range(3):
                item = yield q.get()
                results.append(item)
                q.task_done()

        fut = consumer()
        for i in range(3):
            yield q.put(i)
        yield q.join()
        yield fut
        self.assertEqual(results, [0, 1, 2])
