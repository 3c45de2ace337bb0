"""MySQL and MariaDB through aiomysql, and PyMySQL for the blocking API
(``pip install 'squall[mysql]'``).

Sessions run in autocommit mode with 1.x's settings: the connection's
time zone is UTC (``+0:00``) and ``sql_mode`` TRADITIONAL, so bad values are
errors rather than silent truncations. A statement is cancelled with
``KILL QUERY <thread id>`` from a second, short-lived connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

# Neither driver ships type information.
import aiomysql  # type: ignore[import-untyped]
import aiomysql.cursors  # type: ignore[import-untyped]
import pymysql  # type: ignore[import-untyped]
import pymysql.cursors  # type: ignore[import-untyped]

from ._base import AsyncSession, AsyncStream, Backend, Result, SyncSession
from ._errors import ConfigurationError
from ._rows import Params, Row
from ._urls import DatabaseURL

# The 1.x defaults, shared by Connection() and mysql:// URLs.
DEFAULT_TIME_ZONE = "+0:00"
DEFAULT_CHARSET = "utf8mb4"  # 1.x said "utf8"; utf8mb4 also stores emoji
DEFAULT_SQL_MODE = "TRADITIONAL"
DEFAULT_PORT = 3306
# PyMySQL's own connect_timeout default; 1.x's 0 meant "the driver's default".
DEFAULT_CONNECT_TIMEOUT = 10
# Client error codes meaning the connection itself is gone: CR_SERVER_GONE_ERROR,
# CR_SERVER_LOST, CR_SERVER_LOST_EXTENDED (MySQL's errmsg.h).
LOST_CONNECTION_CODES = {2006, 2013, 2055}


class _RowCursor(pymysql.cursors.DictCursor):  # type: ignore[misc]
    dict_type = Row


class _RowStreamCursor(pymysql.cursors.SSDictCursor):  # type: ignore[misc]
    dict_type = Row


class _AsyncRowCursor(aiomysql.cursors.DictCursor):  # type: ignore[misc]
    dict_type = Row


class _AsyncRowStreamCursor(aiomysql.cursors.SSDictCursor):  # type: ignore[misc]
    dict_type = Row


def _settings(url: DatabaseURL, options: dict[str, Any]) -> dict[str, Any]:
    extra = dict(url.options)
    merged = {**extra, **{key: value for key, value in options.items() if value is not None}}
    time_zone = merged.pop("time_zone", DEFAULT_TIME_ZONE)
    charset = merged.pop("charset", DEFAULT_CHARSET)
    if charset == "utf8":
        charset = "utf8mb4"
    sql_mode = merged.pop("sql_mode", DEFAULT_SQL_MODE)
    connect_timeout = float(merged.pop("connect_timeout", 0) or DEFAULT_CONNECT_TIMEOUT)
    unix_socket = merged.pop("unix_socket", None)
    if merged:
        raise ConfigurationError(f"unknown MySQL options: {sorted(merged)}")
    if not url.database:
        raise ConfigurationError("a MySQL URL names its database: mysql://host/dbname")
    if "'" in time_zone or "\\" in time_zone:
        raise ConfigurationError(f"bad time zone {time_zone!r}")
    settings: dict[str, Any] = {
        "user": url.user,
        "password": url.password or "",
        "db": url.database,
        "charset": charset,
        "sql_mode": sql_mode,
        "init_command": f"SET time_zone = '{time_zone}'",
        "connect_timeout": connect_timeout,
        "autocommit": True,
    }
    if unix_socket:
        settings["unix_socket"] = unix_socket
    else:
        settings["host"] = url.host or "127.0.0.1"
        settings["port"] = url.port or DEFAULT_PORT
    return settings


def _driver_params(params: Params) -> Params | None:
    # No parameters: the driver then leaves "%" in the SQL alone.
    return params if params else None


class MySQLSyncSession(SyncSession):
    def __init__(self, url: DatabaseURL, options: dict[str, Any]) -> None:
        settings = _settings(url, options)
        settings["database"] = settings.pop("db")
        self.raw = pymysql.connect(cursorclass=_RowCursor, **settings)

    def run(self, sql: str, params: Params) -> Result:
        with self.raw.cursor() as cursor:
            cursor.execute(sql, _driver_params(params))
            rows = list(cursor.fetchall()) if cursor.description is not None else None
            return Result(rows, cursor.lastrowid, cursor.rowcount)

    def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql, seq)
            return Result(None, cursor.lastrowid, cursor.rowcount)

    def stream(self, sql: str, params: Params) -> Iterator[Row]:
        # Unbuffered: rows are read off the socket as the loop asks for them;
        # closing the cursor reads and drops the rest.
        with self.raw.cursor(_RowStreamCursor) as cursor:
            cursor.execute(sql, _driver_params(params))
            yield from cursor.fetchall_unbuffered()

    def close(self) -> None:
        if self.raw.open:
            self.raw.close()

    def broken(self) -> bool:
        # PyMySQL closes its socket when the server goes away mid-call.
        return not self.raw.open


class _MySQLStream(AsyncStream):
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    async def fetch(self, count: int) -> list[Row]:
        if self._cursor.description is None:
            return []
        return list(await self._cursor.fetchmany(count))

    async def close(self) -> None:
        await self._cursor.close()


class MySQLAsyncSession(AsyncSession):
    def __init__(self, raw: Any, settings: dict[str, Any]) -> None:
        self.raw = raw
        self._settings = settings

    async def run(self, sql: str, params: Params) -> Result:
        cursor = await self.raw.cursor(_AsyncRowCursor)
        try:
            await cursor.execute(sql, _driver_params(params))
            rows = list(await cursor.fetchall()) if cursor.description is not None else None
            return Result(rows, cursor.lastrowid, cursor.rowcount)
        finally:
            await cursor.close()

    async def run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        cursor = await self.raw.cursor(_AsyncRowCursor)
        try:
            await cursor.executemany(sql, seq)
            return Result(None, cursor.lastrowid, cursor.rowcount)
        finally:
            await cursor.close()

    async def open_stream(self, sql: str, params: Params) -> AsyncStream:
        cursor = await self.raw.cursor(_AsyncRowStreamCursor)
        try:
            await cursor.execute(sql, _driver_params(params))
        except BaseException:
            await cursor.close()
            raise
        return _MySQLStream(cursor)

    async def cancel_running(self) -> None:
        killer = await aiomysql.connect(**self._settings)
        try:
            async with killer.cursor() as cursor:
                await cursor.execute("KILL QUERY %s", (self.raw.server_thread_id[0],))
        finally:
            killer.close()

    async def settle_after_cancel(self) -> bool:
        # aiomysql closes its connection when an await on it is cancelled,
        # which leaves the statement running on the server: kill it there.
        # The connection is not reused either way (its protocol state is
        # unknown), so the pool opens a fresh one.
        await self.cancel_running()
        self.abort()
        return False

    async def close(self) -> None:
        if not self.raw.closed:
            await self.raw.ensure_closed()

    def abort(self) -> None:
        self.raw.close()

    def looks_dead(self) -> bool:
        if self.raw.closed:
            return True
        # aiomysql reads through an asyncio StreamReader: a server that hung
        # up on an idle connection left an EOF (or an error packet) there.
        reader = getattr(self.raw, "_reader", None)
        if reader is None:
            return False
        return bool(reader.at_eof() or getattr(reader, "_buffer", b""))

    def is_lost(self, exc: BaseException) -> bool:
        if self.raw.closed:
            return True
        code = exc.args[0] if isinstance(exc, pymysql.err.OperationalError) and exc.args else None
        return code in LOST_CONNECTION_CODES


class MySQLBackend(Backend):
    name = "mysql"
    placeholder = "%s"

    def open_sync(self, url: DatabaseURL, **options: Any) -> SyncSession:
        return MySQLSyncSession(url, options)

    async def open_async(self, url: DatabaseURL) -> AsyncSession:
        settings = _settings(url, {})
        raw = await aiomysql.connect(**settings)
        return MySQLAsyncSession(raw, settings)


BACKEND = MySQLBackend()
