"""The pool of asynchronous sessions, the same rules for every backend.

One set of rules everywhere: a borrower waits at most ``acquire_timeout``;
``close()`` waits for every borrowed connection to come back; a caller
cancelled while a connection is being opened or borrowed never strands it;
an idle connection the server hung up on is replaced before anyone uses it.

Statements borrow and return connections through the idle list here, for
every backend. Where they come from and go to when the list has none or
has too many: the driver directly (SQLite, MySQL), or psycopg_pool for
PostgreSQL (``_postgres_pool``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ._base import AsyncSession, Backend
from ._errors import ClosedError, ConnectionLostError, PoolTimeoutError, QueryTimeoutError
from ._urls import DatabaseURL

__all__ = ["CANCEL_GRACE", "LIVENESS_CHECK_AFTER", "Lease", "Pool"]

T = TypeVar("T")
log = logging.getLogger("squall.database")

# A connection returned to the pool less than this long ago is reused without
# the liveness check (a poll() system call): a server restart takes longer
# than this, and skipping the call keeps busy pools at the raw driver's speed.
LIVENESS_CHECK_AFTER = 0.1

# How long a statement cancelled on the server may take to stop before its
# connection is dropped instead of reused. Servers honour a cancel within
# milliseconds; the margin is for a loaded machine.
CANCEL_GRACE = 5.0


class Lease:
    """One borrowed session, and whether it can go back to the pool."""

    __slots__ = ("session", "usable")

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.usable = True

    async def call(
        self,
        op: Callable[[AsyncSession], Awaitable[T]],
        timeout: float | None,
        in_transaction: bool = False,
    ) -> T:
        """Run one driver call; whatever happens, leave the connection idle
        (or marked unusable), never in the middle of a statement."""
        session = self.session
        if timeout is not None:
            return await self._call_with_timeout(op, timeout, in_transaction)
        try:
            return await op(session)
        except asyncio.CancelledError:
            # The caller was cancelled mid-statement: stop it on the server
            # too, then keep the connection only if the driver left it idle.
            await self.settle_after_cancel()
            raise
        except BaseException as exc:
            raise self.lost_or(exc, in_transaction) from exc

    def lost_or(self, exc: BaseException, in_transaction: bool) -> BaseException:
        if self.usable and self.session.is_lost(exc):
            self.usable = False
            where = "inside a transaction" if in_transaction else "during a statement"
            lost = ConnectionLostError(f"the database connection was lost {where}: {exc}")
            lost.__cause__ = exc
            return lost
        return exc

    async def settle_after_cancel(self) -> None:
        try:
            reusable = await asyncio.wait_for(self.session.settle_after_cancel(), CANCEL_GRACE)
        except Exception as exc:
            log.debug("a cancelled statement did not settle: %r", exc)
            reusable = False
        if not reusable:
            self.usable = False

    async def _call_with_timeout(
        self, op: Callable[[AsyncSession], Awaitable[T]], timeout: float, in_transaction: bool
    ) -> T:
        # The statement runs in its own task so that, when time is up, the
        # connection can be asked to stop it and then awaited until idle:
        # it goes back to the pool instead of being thrown away.
        inner = asyncio.ensure_future(op(self.session))
        try:
            done, _ = await asyncio.wait((inner,), timeout=timeout)
        except asyncio.CancelledError:
            await self._stop(inner)
            raise
        if done:
            exc = inner.exception()
            if exc is not None:
                raise self.lost_or(exc, in_transaction) from exc
            return inner.result()
        await self._stop(inner)
        raise QueryTimeoutError(
            f"the statement ran longer than {timeout} s; cancelled on the server"
        )

    async def _stop(self, inner: asyncio.Future[Any]) -> None:
        try:
            await self.session.cancel_running()
        except Exception as exc:
            log.debug("could not cancel a statement on the server: %r", exc)
            self.usable = False
        done, _ = await asyncio.wait((inner,), timeout=CANCEL_GRACE)
        if not done:
            inner.cancel()
            self.usable = False
            return
        error = None if inner.cancelled() else inner.exception()
        if error is not None and self.session.is_lost(error):
            self.usable = False


class Slots:
    """How many more connections may be borrowed: a counting semaphore whose
    uncontended path is a plain call (``take_now``), not a coroutine, as
    asyncio.Semaphore's is. The pool's hot path is one statement's
    borrow-and-return, where every coroutine shows in the client's CPU."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_now(self) -> bool:
        if self.free > 0 and not self._waiters:  # waiters are served first
            self.free -= 1
            return True
        return False

    async def take(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a slot; TimeoutError if none came."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except BaseException:
            # Handed a slot just as the wait ended (timeout or cancellation):
            # pass it on, it must not be lost.
            if waiter.done() and not waiter.cancelled():
                self.give_back()
            else:
                self._forget(waiter)
            raise

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:  # already taken off by give_back
            pass

    def give_back(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to it
                return
        self.free += 1


class Pool:
    def __init__(
        self,
        backend: Backend,
        url: DatabaseURL,
        *,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        max_idle_time: float,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError(
                f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size}, {max_size}"
            )
        self.backend = backend
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.max_idle_time = max_idle_time
        # (session, monotonic time it came back), most recently used last.
        self._idle: collections.deque[tuple[AsyncSession, float]] = collections.deque()
        self._slots = Slots(max_size)
        self._borrowed: set[AsyncSession] = set()
        self._all_returned = asyncio.Event()
        self._all_returned.set()
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def borrowed(self) -> int:
        return len(self._borrowed)

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def start(self) -> None:
        """Open ``min_size`` connections now, so a bad URL or password fails here."""
        sessions = []
        try:
            for _ in range(self.min_size):
                sessions.append(await self._open_session())
        except BaseException:
            for session in sessions:
                session.abort()
            raise
        now = time.monotonic()
        self._idle.extend((session, now) for session in sessions)

    def acquire_now(self) -> Lease | None:
        """A lease without waiting (a free slot and an idle connection), or None."""
        if self.closed or not self._slots.take_now():
            return None
        session = self._take_idle()
        if session is None:
            self._slots.give_back()
            return None
        self._borrowed.add(session)
        self._all_returned.clear()
        return Lease(session)

    async def acquire(self) -> Lease:
        if self.closed:
            raise ClosedError("the database is closed")
        try:
            await self._slots.take(self.acquire_timeout)
        except TimeoutError:
            raise PoolTimeoutError(
                f"no database connection free within {self.acquire_timeout} s: "
                f"all {self.max_size} are borrowed (raise max_size, or hold them shorter)"
            ) from None
        try:
            if self.closed:
                raise ClosedError("the database is closed")
            session = self._take_idle() or await self._open_shielded()
        except BaseException:
            self._slots.give_back()
            raise
        self._borrowed.add(session)
        self._all_returned.clear()
        return Lease(session)

    def _take_idle(self) -> AsyncSession | None:
        """The most recently returned idle connection that is fit to use."""
        now = time.monotonic()
        while self._idle:
            session, since = self._idle.pop()
            idle_for = now - since
            if idle_for > self.max_idle_time or (
                idle_for > LIVENESS_CHECK_AFTER and session.looks_dead()
            ):
                self._close_later(session)
                continue
            return session
        return None

    async def _open_shielded(self) -> AsyncSession:
        opening = asyncio.ensure_future(self._open_session())
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The caller left; whatever the open produces must not leak.
            opening.add_done_callback(self._abort_orphan)
            raise

    async def _open_session(self) -> AsyncSession:
        """A connection not in the idle list: a new one from the driver."""
        return await self.backend.open_async(self.url)

    def _abort_orphan(self, opening: asyncio.Future[AsyncSession]) -> None:
        if opening.cancelled():
            return
        if opening.exception() is None:
            self._close_later(opening.result())

    def release(self, lease: Lease) -> None:
        session = lease.session
        if session not in self._borrowed:
            return  # released twice: the first one counted
        self._borrowed.discard(session)
        if lease.usable and not self.closed:
            self._put_back(session)
        else:
            self._close_later(session)
        self._slots.give_back()
        if not self._borrowed:
            self._all_returned.set()

    def _put_back(self, session: AsyncSession) -> None:
        self._idle.append((session, time.monotonic()))

    def _close_later(self, session: AsyncSession) -> None:
        self._close_later_task(self._close_quietly(session))

    def _close_later_task(self, work: Coroutine[Any, Any, None]) -> None:
        # Kept until done, and awaited by close(): the loop holds only weak
        # references to tasks.
        task = asyncio.ensure_future(work)
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    async def _close_quietly(self, session: AsyncSession) -> None:
        try:
            await session.close()
        except Exception as exc:  # the server may be gone already
            log.debug("closing a database connection failed: %r", exc)
            session.abort()

    async def close(self) -> None:
        """Refuse new borrowers, wait for borrowed connections, close them all."""
        self.closed = True
        await self._all_returned.wait()
        await self._close_idle()
        if self._closing_tasks:
            await asyncio.gather(*self._closing_tasks, return_exceptions=True)

    async def _close_idle(self) -> None:
        while self._idle:
            self._close_later(self._idle.pop()[0])
