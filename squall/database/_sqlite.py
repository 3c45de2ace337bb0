"""SQLite through the standard library's sqlite3.

sqlite3 blocks, so each asynchronous session owns one thread that runs all
of its connection's calls in order (what aiosqlite does too): the event loop
only waits on futures. ``Connection.interrupt()`` is safe from any thread,
which is how a timed-out statement is stopped.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ._base import AsyncSession, AsyncStream, Backend, Result, SyncSession
from ._errors import ConfigurationError
from ._rows import Params, Row
from ._urls import DatabaseURL

T = TypeVar("T")

# sqlite3.connect's own default: seconds to wait on another writer's lock.
DEFAULT_BUSY_TIMEOUT = 5.0


def _connect(url: DatabaseURL) -> sqlite3.Connection:
    options = dict(url.options)
    try:
        busy_timeout = float(options.pop("timeout", DEFAULT_BUSY_TIMEOUT))
    except ValueError as exc:
        raise ConfigurationError(f"sqlite timeout must be a number of seconds: {exc}") from exc
    if options:
        raise ConfigurationError(f"unknown sqlite URL options: {sorted(options)}")
    # isolation_level=None: autocommit; transactions are explicit BEGINs, so
    # the same code drives all backends. check_same_thread=False: the async
    # session opens it on its thread and the loop thread only interrupts it.
    return sqlite3.connect(
        url.path or ":memory:",
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
    )


def _rows_of(cursor: sqlite3.Cursor, rows: list[Any]) -> list[Row]:
    names = [column[0] for column in cursor.description]
    return [Row(zip(names, values, strict=True)) for values in rows]


def _run(raw: sqlite3.Connection, sql: str, params: Params) -> Result:
    # The cursor is fully read (or had no rows), so it holds no lock and is
    # left to the garbage collector: closing it costs a call per statement.
    cursor = raw.execute(sql, params)
    description = cursor.description
    if description is None:
        return Result(None, cursor.lastrowid, cursor.rowcount)
    names = [column[0] for column in description]
    rows = [Row(zip(names, values)) for values in cursor.fetchall()]  # noqa: B905
    return Result(rows, cursor.lastrowid, cursor.rowcount)


def _run_many(raw: sqlite3.Connection, sql: str, seq: Sequence[Params]) -> Result:
    cursor = raw.executemany(sql, seq)
    try:
        lastrowid = cursor.lastrowid
        if lastrowid is None:  # sqlite3 leaves it unset after executemany
            lastrowid = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
        return Result(None, lastrowid, cursor.rowcount)
    finally:
        cursor.close()


class SQLiteSyncSession(SyncSession):
    def __init__(self, url: DatabaseURL) -> None:
        self.raw = _connect(url)

    def run(self, sql: str, params: Params) -> Result:
        return _run(self.raw, sql, params)

    def fetch(self, sql: str, params: Params) -> list[Row]:
        # The hot path of blocking reads: SQLite answers in microseconds, so
        # every Python call on top shows (issue 18 allows 10% over sqlite3).
        cursor = self.raw.execute(sql, params)
        fetched = cursor.fetchall()
        if not fetched:  # no rows, or a statement without a result set
            return []
        # Names and values come from the same statement: their lengths match.
        names = next(zip(*cursor.description))  # noqa: B905
        if len(fetched) == 1:  # get()'s case: no comprehension to set up
            return [Row(zip(names, fetched[0]))]  # noqa: B905
        return [Row(zip(names, values)) for values in fetched]  # noqa: B905

    def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        return _run_many(self.raw, sql, seq)

    def stream(self, sql: str, params: Params) -> Iterator[Row]:
        cursor = self.raw.execute(sql, params)
        try:
            if cursor.description is None:
                return
            names = [column[0] for column in cursor.description]
            for values in cursor:
                yield Row(zip(names, values, strict=True))
        finally:
            cursor.close()

    def close(self) -> None:
        self.raw.close()

    def broken(self) -> bool:
        return False  # a file has no connection to lose


class _Worker:
    """One thread running one connection's calls in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name="squall-sqlite", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((fn, future))
        return future

    def stop(self) -> None:
        """The thread ends after the jobs already queued."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting task, not lost
                self._settle(future, None, exc)
            else:
                self._settle(future, result, None)

    def _settle(self, future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
        def settle() -> None:
            if future.done():  # its awaiter gave up
                return
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)

        try:
            self._loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting
            pass


class _SQLiteStream(AsyncStream):
    def __init__(self, worker: _Worker, cursor: sqlite3.Cursor) -> None:
        self._worker = worker
        self._cursor = cursor

    async def fetch(self, count: int) -> list[Row]:
        cursor = self._cursor
        if cursor.description is None:
            return []
        return await self._worker.call(lambda: _rows_of(cursor, cursor.fetchmany(count)))

    async def close(self) -> None:
        await self._worker.call(self._cursor.close)


class SQLiteAsyncSession(AsyncSession):
    def __init__(self, worker: _Worker, raw: sqlite3.Connection) -> None:
        self._worker = worker
        self.raw = raw
        self._closed = False

    @classmethod
    async def open(cls, url: DatabaseURL) -> SQLiteAsyncSession:
        worker = _Worker(asyncio.get_running_loop())
        try:
            raw = await worker.call(lambda: _connect(url))
        except BaseException:
            worker.stop()
            raise
        return cls(worker, raw)

    async def run(self, sql: str, params: Params) -> Result:
        return await self._worker.call(lambda: _run(self.raw, sql, params))

    async def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        return await self._worker.call(lambda: _run_many(self.raw, sql, seq))

    async def open_stream(self, sql: str, params: Params) -> AsyncStream:
        cursor = await self._worker.call(lambda: self.raw.execute(sql, params))
        return _SQLiteStream(self._worker, cursor)

    async def cancel_running(self) -> None:
        self.raw.interrupt()

    async def settle_after_cancel(self) -> bool:
        # The thread is still running the statement: interrupt it, then wait
        # until the thread has nothing of ours left to run.
        self.raw.interrupt()
        await self._worker.call(lambda: None)
        return not self._closed

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._worker.call(self.raw.close)
        finally:
            self._worker.stop()

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._worker.call(self.raw.close)
        self._worker.stop()

    def looks_dead(self) -> bool:
        return self._closed  # no server to hang up on us

    def is_lost(self, exc: BaseException) -> bool:
        return self._closed


class SQLiteBackend(Backend):
    name = "sqlite"
    placeholder = "?"

    def open_sync(self, url: DatabaseURL, **options: Any) -> SyncSession:
        return SQLiteSyncSession(url)

    async def open_async(self, url: DatabaseURL) -> AsyncSession:
        return await SQLiteAsyncSession.open(url)


BACKEND = SQLiteBackend()
