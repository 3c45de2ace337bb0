"""PostgreSQL through psycopg 3 (``pip install 'squall[postgresql]'``).

Connections run in autocommit mode; ``Transaction`` sends BEGIN itself.
Rows come straight from psycopg's row factory as ``Row`` objects.
PostgreSQL has no implicit "last row id": ``execute()`` returns the first
column of the first row the statement returned, so ``INSERT ... RETURNING
id`` gives the new id.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import pq

from ._base import AsyncSession, AsyncStream, Backend, Result, SyncSession
from ._errors import ConfigurationError
from ._pool import Pool
from ._rows import Params, Row
from ._urls import DatabaseURL

# libpq's connect_timeout is "wait forever" when unset; 10 s is what
# PyMySQL uses and a sane bound for a handler's dependency.
DEFAULT_CONNECT_TIMEOUT = 10

_TUPLES_OK = pq.ExecStatus.TUPLES_OK


def _make_row_maker(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    """psycopg row factory: each row as a Row, built straight from the values
    (kwargs_row would build a dict and then a Row from it)."""
    result = cursor.pgresult
    if result is None:
        return Row  # never called: nothing was run
    # Any result with columns: a whole set, or one row at a time (stream()).
    encoding = cursor.connection.info.encoding
    names = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]

    def make(values: Sequence[Any]) -> Row:
        return Row(zip(names, values, strict=True))

    return make


_ROW_FACTORY: Any = _make_row_maker


def _conninfo(url: DatabaseURL, connect_timeout: float | None = None) -> dict[str, Any]:
    if not url.database:
        raise ConfigurationError("a PostgreSQL URL names its database: postgresql://host/dbname")
    info: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.user,
        "password": url.password,
        "dbname": url.database,
        "connect_timeout": int(connect_timeout or DEFAULT_CONNECT_TIMEOUT),
    }
    # The query string passes libpq settings through: ?sslmode=require...
    info.update(url.options)
    return {key: value for key, value in info.items() if value is not None}


def _driver_params(params: Params) -> Params | None:
    # No parameters: psycopg then leaves "%" in the SQL alone.
    return params if params else None


def _lastrowid(rows: list[Row] | None) -> int | None:
    if rows:
        first = next(iter(rows[0].values()), None)
        return first if isinstance(first, int) else None
    return None


def _has_rows(cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> bool:
    # Cheaper than cursor.description, which builds Column objects each time.
    result = cursor.pgresult
    return result is not None and result.status == _TUPLES_OK


def _is_lost(raw: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    return bool(raw.closed or raw.broken)


class PostgresSyncSession(SyncSession):
    def __init__(self, url: DatabaseURL, connect_timeout: float | None) -> None:
        self.raw = psycopg.connect(
            autocommit=True, row_factory=_ROW_FACTORY, **_conninfo(url, connect_timeout)
        )

    def run(self, sql: str, params: Params) -> Result:
        cursor = self.raw.execute(sql, _driver_params(params))
        rows = cursor.fetchall() if _has_rows(cursor) else None
        return Result(rows, _lastrowid(rows), cursor.rowcount)

    def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql, seq)
            return Result(None, None, cursor.rowcount)

    def stream(self, sql: str, params: Params) -> Iterator[Row]:
        with self.raw.cursor() as cursor:
            yield from cursor.stream(sql, _driver_params(params))

    def close(self) -> None:
        self.raw.close()

    def broken(self) -> bool:
        return _is_lost(self.raw)


class _PostgresStream(AsyncStream):
    def __init__(self, cursor: psycopg.AsyncCursor[Row], rows: AsyncIterator[Row]) -> None:
        self._cursor = cursor
        self._rows = rows

    async def fetch(self, count: int) -> list[Row]:
        batch: list[Row] = []
        async for row in self._rows:
            batch.append(row)
            if len(batch) >= count:
                break
        return batch

    async def close(self) -> None:
        # Closing psycopg's stream early makes it discard the rest.
        closer = getattr(self._rows, "aclose", None)
        if closer is not None:
            await closer()
        await self._cursor.close()


def connect_kwargs(url: DatabaseURL) -> dict[str, Any]:
    """Everything ``AsyncConnection.connect`` is given, for us and psycopg_pool alike."""
    return {"autocommit": True, "row_factory": _ROW_FACTORY, **_conninfo(url)}


async def open_async(url: DatabaseURL) -> psycopg.AsyncConnection[Row]:
    connection: psycopg.AsyncConnection[Row] = await psycopg.AsyncConnection.connect(
        **connect_kwargs(url)
    )
    return connection


class PostgresAsyncSession(AsyncSession):
    def __init__(self, raw: psycopg.AsyncConnection[Row]) -> None:
        self.raw = raw
        # For looks_dead(): the socket stays the same for the connection's life.
        self._poller = select.poll()
        self._poller.register(raw.pgconn.socket, select.POLLIN)

    async def run(self, sql: str, params: Params) -> Result:
        # connection.execute: a client-side cursor holds nothing on the
        # server, so it is left to the garbage collector like psycopg's own
        # shortcut does.
        cursor = await self.raw.execute(sql, _driver_params(params))
        rows = await cursor.fetchall() if _has_rows(cursor) else None
        return Result(rows, _lastrowid(rows), cursor.rowcount)

    async def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        async with self.raw.cursor() as cursor:
            await cursor.executemany(sql, seq)
            return Result(None, None, cursor.rowcount)

    async def open_stream(self, sql: str, params: Params) -> AsyncStream:
        cursor = self.raw.cursor()
        rows = cursor.stream(sql, _driver_params(params))
        return _PostgresStream(cursor, rows)

    async def cancel_running(self) -> None:
        # A separate cancel request on its own socket (the protocol's
        # CancelRequest), so it works while this connection is busy.
        await self.raw.cancel_safe()

    async def settle_after_cancel(self) -> bool:
        # psycopg itself answers a cancelled await by cancelling the statement
        # on the server and reading until the connection is idle again; check
        # it did (not broken, not still in a query).
        if _is_lost(self.raw):
            return False
        return self.raw.info.transaction_status != pq.TransactionStatus.ACTIVE

    async def close(self) -> None:
        await self.raw.close()

    def abort(self) -> None:
        self.raw.pgconn.finish()

    def looks_dead(self) -> bool:
        if _is_lost(self.raw):
            return True
        # An idle connection has nothing to read; a readable socket means the
        # server hung up (a restart, an admin's kill, idle_session_timeout).
        return bool(self._poller.poll(0))

    def is_lost(self, exc: BaseException) -> bool:
        return _is_lost(self.raw)


class PostgresBackend(Backend):
    name = "postgresql"
    placeholder = "%s"

    def open_sync(self, url: DatabaseURL, **options: Any) -> SyncSession:
        return PostgresSyncSession(url, options.get("connect_timeout"))

    async def open_async(self, url: DatabaseURL) -> AsyncSession:
        return PostgresAsyncSession(await open_async(url))

    def make_pool(self, url: DatabaseURL, **limits: Any) -> Pool:
        from ._postgres_pool import PsycopgPool  # needs psycopg_pool, our extra

        return PsycopgPool(self, url, **limits)


BACKEND = PostgresBackend()
