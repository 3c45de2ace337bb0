"""Coordination primitives for coroutines sharing one event loop.

``Condition``, ``Event``, ``Semaphore``, ``BoundedSemaphore`` and ``Lock``
keep Tornado's API: every wait returns a Future on the current loop, and
every ``timeout`` is either an absolute deadline on the ``IOLoop.time()``
clock (wall-clock seconds) or a ``datetime.timedelta``. None of them is
thread-safe; they coordinate coroutines, not threads.

Waiters are served first come, first served. A waiter that times out or is
cancelled leaves the line at once, so it is never "woken" later and never
takes a semaphore unit or a notification meant for someone else.

Errors raised by this module::

    TimeoutError   squall.util.TimeoutError (the builtin): Event.wait or
                   Semaphore/Lock.acquire passed its timeout. (Condition.wait
                   resolves to False instead.)
    ValueError     a Semaphore built with a negative value; a BoundedSemaphore
                   released more often than acquired
    RuntimeError   a Lock released while unlocked; a plain ``with`` on a Lock or
                   Semaphore (they need ``async with``)
    TypeError      a timeout that is neither a number nor a timedelta
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeAlias, TypeVar

from squall.ioloop import IOLoop
from squall.util import TimeoutError

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

_R = TypeVar("_R")
_P = TypeVar("_P")

# What every wait accepts as its timeout: an IOLoop.time() deadline or a delay.
_Timeout: TypeAlias = float | datetime.timedelta


def _check_timeout(timeout: _Timeout | None) -> None:
    """Reject a bad timeout up front, before anything joins a waiting line."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, datetime.timedelta)):
        raise TypeError(
            "timeout must be an IOLoop.time() deadline or a datetime.timedelta, "
            f"not {type(timeout).__name__}"
        )


def _new_future() -> asyncio.Future[Any]:
    """A Future on the running loop, or on the current IOLoop's if none runs."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        io_loop = IOLoop.current()
        assert io_loop is not None
        loop = io_loop.asyncio_loop
    return loop.create_future()


def _fail_with_timeout(waiter: asyncio.Future[Any]) -> None:
    waiter.set_exception(TimeoutError("Timeout"))


class _Waiters(Generic[_R, _P]):
    """A first-come-first-served line of pending Futures, each with a payload.

    A waiter leaves the line as soon as it is done for any reason: given a
    turn (``pop_first``), timed out, or cancelled by its owner. Removal is
    O(1), so many waiters timing out in any order cost nothing extra.
    """

    __slots__ = ("_line",)

    def __init__(self) -> None:
        self._line: collections.OrderedDict[asyncio.Future[_R], _P] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._line)

    def add(
        self,
        waiter: asyncio.Future[_R],
        payload: _P,
        timeout: _Timeout | None,
        expire: Callable[[asyncio.Future[_R]], None],
    ) -> None:
        """Queue ``waiter``; at ``timeout`` it leaves the line and ``expire`` settles it."""
        handle: object | None = None
        io_loop: IOLoop | None = None
        if timeout is not None:
            io_loop = IOLoop.current()
            assert io_loop is not None

            def on_timeout() -> None:
                if not waiter.done():
                    self._line.pop(waiter, None)
                    expire(waiter)

            # Armed before the waiter joins the line, so that a bad timeout
            # leaves nothing behind.
            handle = io_loop.add_timeout(timeout, on_timeout)
        self._line[waiter] = payload

        def forget(done: asyncio.Future[_R]) -> None:
            # Done callbacks run one loop iteration late; pop_first skips a
            # waiter cancelled in that window.
            self._line.pop(done, None)
            if io_loop is not None:
                io_loop.remove_timeout(handle)

        waiter.add_done_callback(forget)

    def pop_first(self) -> tuple[asyncio.Future[_R], _P] | None:
        """Take the longest-waiting pending waiter out of the line, if any."""
        line = self._line
        while line:
            waiter, payload = line.popitem(last=False)
            if not waiter.done():
                return waiter, payload
        return None


class Condition:
    """Lets coroutines wait until another one tells them to go on.

    ``wait()`` returns a Future that resolves to True when ``notify`` picks
    it, or to False if its ``timeout`` passes first. ``notify(n)`` wakes the
    ``n`` longest-waiting coroutines; ``notify_all()`` wakes every one.
    """

    def __init__(self) -> None:
        self._waiters: _Waiters[bool, None] = _Waiters()

    def __repr__(self) -> str:
        waiting = len(self._waiters)
        if waiting:
            return f"<{type(self).__name__} waiters[{waiting}]>"
        return f"<{type(self).__name__}>"

    def wait(self, timeout: _Timeout | None = None) -> asyncio.Future[bool]:
        """Wait for a ``notify``: True if notified, False on timeout."""
        _check_timeout(timeout)
        waiter: asyncio.Future[bool] = _new_future()
        self._waiters.add(waiter, None, timeout, _resolve_false)
        return waiter

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters, longest-waiting first."""
        while n > 0:
            turn = self._waiters.pop_first()
            if turn is None:
                return
            turn[0].set_result(True)
            n -= 1

    def notify_all(self) -> None:
        """Wake every coroutine waiting now."""
        self.notify(len(self._waiters))


def _resolve_false(waiter: asyncio.Future[bool]) -> None:
    waiter.set_result(False)


class Event:
    """A flag coroutines can wait on: ``wait()`` returns once it is ``set()``.

    The flag starts clear. Setting it releases every waiter, and later waits
    return at once until ``clear()`` lowers it again.
    """

    def __init__(self) -> None:
        self._value = False
        self._waiters: _Waiters[None, None] = _Waiters()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {'set' if self._value else 'clear'}>"

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        """Raise the flag, releasing everyone waiting for it."""
        if self._value:
            return
        self._value = True
        while (turn := self._waiters.pop_first()) is not None:
            turn[0].set_result(None)

    def clear(self) -> None:
        """Lower the flag: later waits block until the next ``set()``."""
        self._value = False

    def wait(self, timeout: _Timeout | None = None) -> asyncio.Future[None]:
        """A Future that resolves once the flag is set.

        It fails with ``TimeoutError`` if ``timeout`` passes first.
        """
        _check_timeout(timeout)
        waiter: asyncio.Future[None] = _new_future()
        if self._value:
            waiter.set_result(None)
        else:
            self._waiters.add(waiter, None, timeout, _fail_with_timeout)
        return waiter


class _ReleasingContextManager:
    """What an acquire resolves to: leaving its ``with`` block releases.

    This is the Tornado idiom ``with (yield sem.acquire()):`` (or
    ``with (await lock.acquire()):``).
    """

    __slots__ = ("_obj",)

    def __init__(self, obj: Semaphore | Lock) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._obj.release()


class Semaphore:
    """A counter of available units that coroutines acquire and release.

    ``acquire()`` takes a unit, waiting while none is left; ``release()``
    gives one back, handing it straight to the longest-waiting acquirer if
    there is one. Use ``async with sem:`` to hold a unit for a block.
    """

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value
        self._waiters: _Waiters[_ReleasingContextManager, None] = _Waiters()
        # One releaser serves every acquire: it holds no state of its own.
        self._releaser = _ReleasingContextManager(self)

    def __repr__(self) -> str:
        # Tornado's shape: the default object repr with the state appended.
        if self._value > 0:
            state = f"unlocked,value:{self._value}"
        else:
            state = "locked"
            waiting = len(self._waiters)
            if waiting:
                state += f",waiters:{waiting}"
        return f"{object.__repr__(self)[:-1]} [{state}]>"

    def release(self) -> None:
        """Give a unit back, to the longest-waiting acquirer if any."""
        turn = self._waiters.pop_first()
        if turn is None:
            self._value += 1
        else:
            # The unit goes directly to the waiter: a newcomer arriving
            # before the waiter resumes finds the semaphore still locked.
            turn[0].set_result(self._releaser)

    def acquire(self, timeout: _Timeout | None = None) -> asyncio.Future[_ReleasingContextManager]:
        """Take a unit; the Future resolves once one is ours.

        It fails with ``TimeoutError`` if ``timeout`` passes first, and a
        timed-out or cancelled acquire takes nothing. Its result is a
        context manager that releases the unit on exit.

        If the awaiting task is cancelled after the unit was handed over but
        before it resumed, the unit stays taken: ``async with`` handles that
        case and gives it back; a bare ``await acquire()`` cannot.
        """
        _check_timeout(timeout)
        ticket: asyncio.Future[_ReleasingContextManager] = _new_future()
        if self._value <= 0:
            # Nothing free: queue up; release() or the deadline settles it.
            self._waiters.add(ticket, None, timeout, _fail_with_timeout)
            return ticket
        self._value -= 1
        ticket.set_result(self._releaser)
        return ticket

    def __enter__(self) -> None:
        raise RuntimeError("Use 'async with' instead of 'with' for Semaphore")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await _acquire_or_give_back(self.acquire(), self.release)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.release()


async def _acquire_or_give_back(
    waiter: asyncio.Future[_ReleasingContextManager], release: Callable[[], None]
) -> None:
    """Await an acquire; if cancelled once it had succeeded, release again.

    A task cancelled while its waiter is pending cancels the waiter, which
    leaves the line. But if the unit was handed over in the same loop
    iteration as the cancellation, the task never gets to use it, so it must
    go back or it would be lost for good.
    """
    try:
        await waiter
    except asyncio.CancelledError:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            release()
        raise


class BoundedSemaphore(Semaphore):
    """A Semaphore that refuses to be released above its initial value.

    An extra ``release()`` raises ValueError: it almost always means a
    release without a matching acquire.
    """

    def __init__(self, value: int = 1) -> None:
        self._ceiling = value
        super().__init__(value=value)

    def release(self) -> None:
        """Give a unit back; ValueError if none is out."""
        if self._value < self._ceiling:
            super().release()
            return
        raise ValueError("Semaphore released too many times")


class Lock:
    """A mutex for coroutines: one holder at a time, waiters served in order.

    Hold it for a block with ``async with lock:``. ``acquire()`` returns a
    Future (failing with ``TimeoutError`` after ``timeout``); ``release()``
    of an unlocked lock raises RuntimeError. A Lock is not reentrant.
    """

    def __init__(self) -> None:
        self._block = BoundedSemaphore(value=1)
        # What acquire resolves to releases the Lock, so that a misuse shows
        # the Lock's error rather than the semaphore's.
        self._block._releaser = _ReleasingContextManager(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} _block={self._block}>"

    def acquire(self, timeout: _Timeout | None = None) -> asyncio.Future[_ReleasingContextManager]:
        """Take the lock; the Future resolves once it is ours."""
        return self._block.acquire(timeout)

    def release(self) -> None:
        """Unlock, handing the lock to the longest waiter if any."""
        try:
            self._block.release()
        except ValueError:
            raise RuntimeError("release unlocked lock") from None

    def __enter__(self) -> None:
        raise RuntimeError("Use `async with` instead of `with` for Lock")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await _acquire_or_give_back(self.acquire(), self.release)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.release()
