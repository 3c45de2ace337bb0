"""PostgreSQL's pool: psycopg_pool's ``AsyncConnectionPool`` under squall's pool rules.

psycopg_pool opens, stores and recycles the connections (in its background
workers, with its reconnection backoff and ``max_lifetime``); ``Pool``'s
rules stay ours, the same as for the other backends: the ``acquire_timeout``
wait and its error, ``close()`` waiting for borrowed connections (psycopg_pool's
own close does not wait for them), a cancelled borrower that strands nothing,
and a dead or too-long-idle connection replaced before anyone uses it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ._base import AsyncSession
from ._errors import PoolTimeoutError
from ._pool import LIVENESS_CHECK_AFTER, Pool
from ._postgres import PostgresAsyncSession, connect_kwargs, open_async

__all__ = ["PsycopgPool"]

# How long close() gives psycopg_pool to close its idle connections; they
# are idle, so this is one goodbye message each.
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
        # One session per driver connection, made on first borrow: it holds
        # the liveness poller and the time the connection last came back.
        self._sessions: weakref.WeakKeyDictionary[
            psycopg.AsyncConnection[Any], PostgresAsyncSession
        ] = weakref.WeakKeyDictionary()

    @property
    def idle(self) -> int:
        return int(self._driver.get_stats().get("pool_available", 0))

    async def start(self) -> None:
        # One connection of our own first: a wrong password or host fails
        # here with the server's message, where psycopg_pool would retry in
        # the background until its timeout and then say only "timed out".
        probe = await open_async(self.url)
        await probe.close()
        await self._driver.open(wait=True, timeout=self.acquire_timeout)

    async def _take_or_open(self) -> AsyncSession:
        while True:
            raw = await self._get_connection()
            session = self._sessions.get(raw)
            fresh = session is None
            if session is None:
                session = self._sessions[raw] = PostgresAsyncSession(raw)
            idle_for = time.monotonic() - session.returned_at
            # A connection never borrowed was opened by psycopg_pool, maybe
            # long ago (its max_idle and max_lifetime govern those): checked
            # for life, but not replaced for its age, which could loop.
            if (not fresh and idle_for > self.max_idle_time) or (
                (fresh or idle_for > LIVENESS_CHECK_AFTER) and session.looks_dead()
            ):
                # Closed before it goes back: psycopg_pool then discards it
                # and opens a replacement in the background.
                await raw.close()
                await self._driver.putconn(raw)
                continue
            return session

    async def _get_connection(self) -> psycopg.AsyncConnection[Any]:
        getting = asyncio.ensure_future(self._driver.getconn(self.acquire_timeout))
        try:
            return await asyncio.shield(getting)
        except asyncio.CancelledError:
            # The borrower left; the connection it was about to get goes back.
            getting.add_done_callback(self._return_orphan)
            raise
        except PoolTimeout as exc:
            raise PoolTimeoutError(
                f"no database connection within {self.acquire_timeout} s "
                f"(the server may be unreachable): {exc}"
            ) from exc

    def _return_orphan(self, getting: asyncio.Future[psycopg.AsyncConnection[Any]]) -> None:
        if getting.cancelled() or getting.exception() is not None:
            return
        self._close_later_task(self._driver.putconn(getting.result()))

    async def _put_back(self, session: AsyncSession, reusable: bool) -> None:
        assert isinstance(session, PostgresAsyncSession)
        raw = session.raw
        if not reusable:
            session.abort()  # psycopg_pool drops a closed connection
        session.returned_at = time.monotonic()
        await self._driver.putconn(raw)

    async def _close_idle(self) -> None:
        await self._driver.close(timeout=CLOSE_TIMEOUT)
