"""Queues for handing items between coroutines on one event loop.

``Queue`` (first in, first out), ``PriorityQueue`` (smallest first) and
``LifoQueue`` (last in, first out) keep Tornado's API: ``put`` and ``get``
return Futures that wait while the queue is full or empty, ``task_done`` and
``join`` track the work consumers finish, and ``async for item in queue``
gets items forever. Like ``squall.locks``, nothing here is thread-safe, and
every ``timeout`` is an ``IOLoop.time()`` deadline or a ``datetime.timedelta``.

Waiting getters and putters are served in the order they arrived, from two
deques (``_getters``: Futures; ``_putters``: ``(item, Future)`` pairs) kept
as Tornado keeps them: a get or put that times out or is cancelled is
skipped from then on (a timed-out getter never swallows an item put later,
and a timed-out put never inserts its item), and leaves its deque when it
reaches the front, which every ``put_nowait``/``get_nowait`` (so every
``put``/``get``) clears of finished waiters. So that waiters stuck behind a
long wait cannot pile up, a deque that grows past ``SWEEP_MIN_WAITERS``
(and twice its size after the last sweep) is swept of finished waiters
throughout.

Subclasses choose the storage by overriding ``_init`` (create
``self._queue``), ``_put`` and ``_get``, as PriorityQueue and LifoQueue do.

Errors raised by this module::

    QueueEmpty     get_nowait() on an empty queue
    QueueFull      put_nowait() on a full queue
    TimeoutError   squall.util.TimeoutError (the builtin): get, put or join
                   passed its timeout
    ValueError     a negative maxsize; task_done() called more often than
                   items were put
    TypeError      maxsize None; a timeout that is neither a number nor a
                   timedelta
"""

from __future__ import annotations

import asyncio
import collections
import heapq
from collections.abc import Sized
from typing import Any, Generic, TypeVar

from squall.ioloop import IOLoop
from squall.locks import Event, _check_timeout, _fail_with_timeout, _new_future, _Timeout

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"]

_T = TypeVar("_T")

# Waiters a deque may hold before finished ones are swept from its middle
# too (the front is cleared on every operation). Far above what a queue
# normally has waiting; it only bounds the memory of waiters that time out
# behind one that waits for good.
SWEEP_MIN_WAITERS = 1024


class QueueEmpty(Exception):
    """``get_nowait()`` found nothing in the queue."""


class QueueFull(Exception):
    """``put_nowait()`` found the queue at its ``maxsize``."""


def _checked_maxsize(maxsize: int | None) -> int:
    """Reject a missing or negative bound; 0 stands for unbounded."""
    if maxsize is None:
        raise TypeError("maxsize can't be None")
    if maxsize < 0:
        raise ValueError("maxsize can't be negative")
    return maxsize


class Queue(Generic[_T]):
    """A first-in, first-out queue of at most ``maxsize`` items (0: unbounded).

    A producer awaits ``put(item)``, which waits while the queue is full; a
    consumer awaits ``get()``, which waits while it is empty, and calls
    ``task_done()`` once it has dealt with the item. ``join()`` waits until
    every item put has been marked done.
    """

    # The storage made by _init; its type is up to the subclass.
    _queue: Any

    def __init__(self, maxsize: int = 0) -> None:
        self._maxsize = _checked_maxsize(maxsize)
        # join() bookkeeping: the count of items not yet marked done, and an
        # Event that is set exactly while that count is zero.
        self._unfinished_tasks = 0
        self._finished = Event()
        self._finished.set()
        self._getters: collections.deque[asyncio.Future[_T]] = collections.deque()
        # A waiting putter carries the item it will insert once there is room.
        self._putters: collections.deque[tuple[_T, asyncio.Future[None]]] = collections.deque()
        # Lengths past which the deques are swept throughout (see above).
        self._getters_sweep_at = SWEEP_MIN_WAITERS
        self._putters_sweep_at = SWEEP_MIN_WAITERS
        self._init()

    @property
    def maxsize(self) -> int:
        """The most items the queue holds; 0 means no limit."""
        return self._maxsize

    def qsize(self) -> int:
        """How many items are in the queue now."""
        stored: Sized = self._queue
        return len(stored)

    def empty(self) -> bool:
        return not self.qsize()

    def full(self) -> bool:
        # An unbounded queue (maxsize 0) is never full.
        return 0 < self._maxsize <= self.qsize()

    def put(self, item: _T, timeout: _Timeout | None = None) -> asyncio.Future[None]:
        """Put ``item`` in, waiting while the queue is full.

        The Future fails with ``TimeoutError`` if ``timeout`` passes first,
        and then the item was not put.
        """
        _check_timeout(timeout)
        waiter: asyncio.Future[None] = _new_future()
        try:
            self.put_nowait(item)
        except QueueFull:
            _expire_at(waiter, timeout)
            self._putters.append((item, waiter))
            if len(self._putters) > self._putters_sweep_at:
                self._putters = collections.deque(p for p in self._putters if not p[1].done())
                self._putters_sweep_at = max(SWEEP_MIN_WAITERS, 2 * len(self._putters))
        else:
            waiter.set_result(None)
        return waiter

    def put_nowait(self, item: _T) -> None:
        """Put ``item`` in without waiting; ``QueueFull`` if there is no room."""
        self._clear_finished_waiters()
        if self._getters:
            # Getters only wait on an empty queue: the item goes straight
            # to the longest-waiting one (through the hooks, which subclasses
            # may use to transform items).
            getter = self._getters.popleft()
            self._put_counted(item)
            getter.set_result(self._get())
        elif self.full():
            raise QueueFull
        else:
            self._put_counted(item)

    def get(self, timeout: _Timeout | None = None) -> asyncio.Future[_T]:
        """Take the next item, waiting while the queue is empty.

        The Future fails with ``TimeoutError`` if ``timeout`` passes first;
        an item put after that goes to the next getter, not to this one.
        """
        _check_timeout(timeout)
        waiter: asyncio.Future[_T] = _new_future()
        try:
            waiter.set_result(self.get_nowait())
        except QueueEmpty:
            _expire_at(waiter, timeout)
            self._getters.append(waiter)
            if len(self._getters) > self._getters_sweep_at:
                self._getters = collections.deque(g for g in self._getters if not g.done())
                self._getters_sweep_at = max(SWEEP_MIN_WAITERS, 2 * len(self._getters))
        return waiter

    def get_nowait(self) -> _T:
        """Take the next item without waiting; ``QueueEmpty`` if there is none."""
        self._clear_finished_waiters()
        if self._putters:
            # Putters only wait on a full queue: as an item leaves, the
            # longest-waiting putter's item takes its place.
            item, putter = self._putters.popleft()
            self._put_counted(item)
            putter.set_result(None)
            return self._get()
        if self.qsize():
            return self._get()
        raise QueueEmpty

    def _clear_finished_waiters(self) -> None:
        """Drop timed-out and cancelled waiters from the front of both lines,
        so that the first waiter of each, if any, is still waiting."""
        getters = self._getters
        while getters and getters[0].done():
            getters.popleft()
        putters = self._putters
        while putters and putters[0][1].done():
            putters.popleft()

    def task_done(self) -> None:
        """Mark one item taken from the queue as fully dealt with.

        Once every item put has been marked, ``join()`` returns. Marking more
        items than were put raises ValueError.
        """
        left = self._unfinished_tasks - 1
        if left < 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks = left
        if not left:
            self._finished.set()

    def join(self, timeout: _Timeout | None = None) -> asyncio.Future[None]:
        """Wait until every item put has been marked with ``task_done()``.

        The Future fails with ``TimeoutError`` if ``timeout`` passes first.
        """
        return self._finished.wait(timeout)

    def __aiter__(self) -> _QueueIterator[_T]:
        return _QueueIterator(self)

    # -- storage hooks: subclasses swap these three to pick the order -------

    def _put(self, item: _T) -> None:
        # FIFO: new items join the right end, _get takes from the left.
        store: collections.deque[_T] = self._queue
        store.append(item)

    def _init(self) -> None:
        self._queue = collections.deque()

    def _get(self) -> _T:
        store: collections.deque[_T] = self._queue
        oldest = store.popleft()
        return oldest

    def _put_counted(self, item: _T) -> None:
        # Store first, then record that one more item awaits task_done().
        self._put(item)
        self._unfinished_tasks = self._unfinished_tasks + 1
        if self._finished.is_set():
            self._finished.clear()

    # -- display -----------------------------------------------------------

    def __str__(self) -> str:
        return self._describe("")

    def __repr__(self) -> str:
        return self._describe(f" at {hex(id(self))}")

    def _describe(self, where: str) -> str:
        return f"<{type(self).__name__}{where} {self._format()}>"

    def _format(self) -> str:
        parts = [f"maxsize={self._maxsize!r}"]
        if self._queue:
            parts.append(f"queue={self._queue!r}")
        # Waiters still waiting: finished ones not yet cleared do not count.
        getters = sum(1 for g in self._getters if not g.done())
        if getters:
            parts.append(f"getters[{getters}]")
        putters = sum(1 for p in self._putters if not p[1].done())
        if putters:
            parts.append(f"putters[{putters}]")
        if self._unfinished_tasks:
            parts.append(f"tasks={self._unfinished_tasks}")
        return " ".join(parts)


def _expire_at(waiter: asyncio.Future[Any], timeout: _Timeout | None) -> None:
    """Fail ``waiter`` with ``TimeoutError`` at ``timeout`` unless it is done by then."""
    if timeout is None:
        return
    io_loop = IOLoop.current()
    assert io_loop is not None

    def on_timeout() -> None:
        if not waiter.done():
            _fail_with_timeout(waiter)

    handle = io_loop.add_timeout(timeout, on_timeout)
    waiter.add_done_callback(lambda _: io_loop.remove_timeout(handle))


class _QueueIterator(Generic[_T]):
    """``async for item in queue``: each step is a ``get()``; it never ends."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Queue[_T]) -> None:
        self._queue = queue

    def __aiter__(self) -> _QueueIterator[_T]:
        return self

    def __anext__(self) -> asyncio.Future[_T]:
        return self._queue.get()


class PriorityQueue(Queue[_T]):
    """A Queue that hands out its smallest item first.

    Items are usually ``(priority, data)`` tuples; they must be comparable
    with each other.
    """

    def _get(self) -> _T:
        heap: list[Any] = self._queue
        smallest: _T = heapq.heappop(heap)
        return smallest

    def _put(self, item: _T) -> None:
        heap: list[Any] = self._queue
        heapq.heappush(heap, item)

    def _init(self) -> None:
        self._queue = list()


class LifoQueue(Queue[_T]):
    """A Queue that hands out the most recently put item first."""

    def _get(self) -> _T:
        stack: list[_T] = self._queue
        newest = stack.pop()
        return newest

    def _init(self) -> None:
        self._queue = list()

    def _put(self, item: _T) -> None:
        stack: list[_T] = self._queue
        stack.append(item)
