"""PostgreSQL's pool: squall's idle list in front of psycopg_pool's ``AsyncConnectionPool``.

Statements borrow from ``Pool``'s idle list, as on every backend, so a busy
pool costs what squall's pool costs (psycopg_pool's ``getconn`` and
``putconn`` together cost more client CPU than the rest of a primary-key
read's overhead, measured in ``bench/database.py``). psycopg_pool is where
connections come from and go back to: it opens them (in its background
workers, retrying a server that is down with its backoff), keeps ``min_size``
of them, and applies its ``max_idle`` and ``max_lifetime`` to those it holds.

A connection goes back to psycopg_pool when it has sat unused in the idle
list for ``HAND_BACK_AFTER``, when it is dead, too old or unusable (closed
first, so psycopg_pool replaces it), and when the pool closes.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ._base import AsyncSession
from ._errors import PoolTimeoutError
from ._pool import Pool
from ._postgres import PostgresAsyncSession, connect_kwargs, open_async

__all__ = ["HAND_BACK_AFTER", "PsycopgPool"]

# A connection unused this long in squall's idle list goes back to
# psycopg_pool, whose min_size/max_idle/max_lifetime then govern it. Long
# enough that a steady stream of requests never pays for psycopg_pool's
# bookkeeping, short next to psycopg_pool's max_idle (10 minutes).
HAND_BACK_AFTER = 5.0

# How long close() gives psycopg_pool to close its connections; they are
# idle by then, so this is one goodbye message each.
CLOSE_TIMEOUT = 5.0


class PsycopgPool(Pool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Typed loosely: psycopg_pool's generics assume tuple rows, ours are Row.
        self._driver: AsyncConnectionPool[Any] = AsyncConnectionPool(
            kwargs=connect_kwargs(self.url),
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            name="squall",
        )
        # One session per driver connection, made the first time we get it:
        # it holds the liveness poller.
        self._sessions: weakref.WeakKeyDictionary[
            psycopg.AsyncConnection[Any], PostgresAsyncSession
        ] = weakref.WeakKeyDictionary()

    @property
    def idle(self) -> int:
        """Idle connections: in squall's list and in psycopg_pool's."""
        return len(self._idle) + int(self._driver.get_stats().get("pool_available", 0))

    async def start(self) -> None:
        # One connection of our own first: a wrong password or host fails
        # here with the server's message, where psycopg_pool would retry in
        # the background until its timeout and then say only "timed out".
        probe = await open_async(self.url)
        await probe.close()
        await self._driver.open(wait=True, timeout=self.acquire_timeout)

    async def _open_session(self) -> AsyncSession:
        while True:
            try:
                raw = await self._driver.getconn(self.acquire_timeout)
            except PoolTimeout as exc:
                raise PoolTimeoutError(
                    f"no database connection within {self.acquire_timeout} s "
                    f"(the server may be unreachable): {exc}"
                ) from exc
            session = self._sessions.get(raw)
            if session is None:
                session = self._sessions[raw] = PostgresAsyncSession(raw)
            # It may have waited in psycopg_pool since before a server restart.
            if not session.looks_dead():
                return session
            session.abort()
            await self._driver.putconn(raw)  # closed: psycopg_pool replaces it

    def _put_back(self, session: AsyncSession) -> None:
        super()._put_back(session)
        # The list is oldest first: hand back what a quieter load no longer uses.
        oldest, since = self._idle[0]
        if time.monotonic() - since > HAND_BACK_AFTER:
            self._idle.popleft()
            self._close_later_task(self._hand_back(oldest))

    async def _hand_back(self, session: AsyncSession) -> None:
        assert isinstance(session, PostgresAsyncSession)
        await self._driver.putconn(session.raw)

    async def _close_quietly(self, session: AsyncSession) -> None:
        # Closed on our side, then returned so that psycopg_pool counts it
        # gone and opens a replacement when it needs one.
        await super()._close_quietly(session)
        await self._hand_back(session)

    async def _close_idle(self) -> None:
        while self._idle:
            await self._hand_back(self._idle.pop()[0])
        await self._driver.close(timeout=CLOSE_TIMEOUT)
