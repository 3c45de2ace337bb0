"""Primary-key reads: squall.database vs the raw driver, per backend, same run.

For each backend, one table of 1,000 rows and a stream of single-row reads
by random primary key, one at a time (latency-bound: what a handler does):

- async: ``await db.get(...)`` on a pool vs the driver's own async
  connection (psycopg AsyncConnection, aiomysql; for SQLite, sqlite3 calls
  sent to one worker thread, as any async use of sqlite3 must);
- blocking: ``Connection.get(...)`` vs the blocking driver (psycopg,
  PyMySQL, sqlite3).

PostgreSQL and MariaDB are throwaway servers started from the Debian
binaries (as the tests do), or the URLs given with ``--postgresql=URL`` /
``--mysql=URL``. The goal in issue 18: overhead at most 10%.

``python -m bench database [--quick]``
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from squall import database  # noqa: E402

ROWS = 1000
SCHEMA = {
    "sqlite": "CREATE TABLE bench_entries (id INTEGER PRIMARY KEY, slug VARCHAR(40), title VARCHAR(200), hits INTEGER)",
    "postgresql": "CREATE TABLE bench_entries (id INTEGER PRIMARY KEY, slug VARCHAR(40), title VARCHAR(200), hits INTEGER)",
    "mysql": "CREATE TABLE bench_entries (id INTEGER PRIMARY KEY, slug VARCHAR(40), title VARCHAR(200), hits INTEGER) ENGINE=InnoDB",
}


def select_sql(backend: str) -> str:
    ph = "?" if backend == "sqlite" else "%s"
    return f"SELECT id, slug, title, hits FROM bench_entries WHERE id = {ph}"


def fill(url: str, backend: str) -> None:
    with database.connect(url) as db:
        db.execute("DROP TABLE IF EXISTS bench_entries")
        db.execute(SCHEMA[backend])
        ph = "?" if backend == "sqlite" else "%s"
        db.executemany(
            f"INSERT INTO bench_entries (id, slug, title, hits) VALUES ({ph}, {ph}, {ph}, {ph})",
            [(i, f"entry-{i}", f"Entry number {i}", i * 7) for i in range(1, ROWS + 1)],
        )


def compare(
    ours: Callable[[int], tuple[float, float]],
    raw: Callable[[int], tuple[float, float]],
    reads: int,
    rounds: int,
) -> tuple[float, float, float, float]:
    """Best reads/s (wall clock) and least client CPU µs per read, for ours
    and the raw driver, their rounds interleaved so that load from other
    processes falls on both alike."""
    best = {"ours": [0.0, float("inf")], "raw": [0.0, float("inf")]}
    for _ in range(rounds):
        for name, run in (("ours", ours), ("raw", raw)):
            wall, cpu = run(reads)
            best[name][0] = max(best[name][0], reads / wall)
            best[name][1] = min(best[name][1], cpu / reads * 1e6)
    return best["ours"][0], best["ours"][1], best["raw"][0], best["raw"][1]


def ids(count: int) -> list[int]:
    rng = random.Random(18)
    return [rng.randint(1, ROWS) for _ in range(count)]


def dict_factory(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    """sqlite3 rows as dicts: the same shape squall.database returns."""
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


# -- async -------------------------------------------------------------------


async def timed(count: int, read: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) for ``count`` reads."""
    keys = ids(count)
    wall, cpu = time.perf_counter(), time.process_time()
    for key in keys:
        await read(key)
    return time.perf_counter() - wall, time.process_time() - cpu


async def squall_async(url: str, backend: str, count: int) -> tuple[float, float]:
    db = await database.connect_async(url, min_size=1, max_size=1)
    sql = select_sql(backend)
    try:
        await timed(50, lambda key: db.get(sql, key))  # warm-up (prepared plans)
        return await timed(count, lambda key: db.get(sql, key))
    finally:
        await db.close()


async def raw_async(url: str, backend: str, count: int) -> tuple[float, float]:
    sql = select_sql(backend)
    parsed = database.parse_url(url)
    if backend == "postgresql":
        import psycopg
        from psycopg.rows import dict_row

        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
        try:

            async def read_pg(key: int) -> Any:
                cursor = await conn.execute(sql, (key,))
                return await cursor.fetchone()

            await timed(50, read_pg)
            return await timed(count, read_pg)
        finally:
            await conn.close()
    if backend == "mysql":
        import aiomysql

        conn = await aiomysql.connect(
            host=parsed.host,
            port=parsed.port or 3306,
            user=parsed.user,
            password=parsed.password or "",
            db=parsed.database,
            autocommit=True,
        )
        try:

            async def read_my(key: int) -> Any:
                async with conn.cursor(aiomysql.DictCursor) as cursor:
                    await cursor.execute(sql, (key,))
                    return await cursor.fetchone()

            await timed(50, read_my)
            return await timed(count, read_my)
        finally:
            conn.close()
    # SQLite: the driver on one worker thread, awaited from the loop.
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        lite = await loop.run_in_executor(
            worker, lambda: sqlite3.connect(parsed.path or ":memory:", check_same_thread=False)
        )
        lite.row_factory = dict_factory

        def fetch(key: int) -> Any:
            return lite.execute(sql, (key,)).fetchone()

        try:

            async def read_lite(key: int) -> Any:
                return await loop.run_in_executor(worker, fetch, key)

            await timed(50, read_lite)
            return await timed(count, read_lite)
        finally:
            await loop.run_in_executor(worker, lite.close)


# -- blocking ----------------------------------------------------------------


def timed_sync(count: int, read: Callable[[int], Any]) -> tuple[float, float]:
    keys = ids(count)
    wall, cpu = time.perf_counter(), time.process_time()
    for key in keys:
        read(key)
    return time.perf_counter() - wall, time.process_time() - cpu


def squall_blocking(url: str, backend: str, count: int) -> tuple[float, float]:
    sql = select_sql(backend)
    with database.connect(url) as db:
        timed_sync(50, lambda key: db.get(sql, key))
        return timed_sync(count, lambda key: db.get(sql, key))


def raw_blocking(url: str, backend: str, count: int) -> tuple[float, float]:
    sql = select_sql(backend)
    parsed = database.parse_url(url)
    if backend == "postgresql":
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:

            def read_pg(key: int) -> Any:
                return conn.execute(sql, (key,)).fetchone()

            timed_sync(50, read_pg)
            return timed_sync(count, read_pg)
    if backend == "mysql":
        import pymysql
        import pymysql.cursors

        conn = pymysql.connect(
            host=parsed.host,
            port=parsed.port or 3306,
            user=parsed.user,
            password=parsed.password or "",
            database=parsed.database,
            autocommit=True,
        )
        try:

            def read_my(key: int) -> Any:
                with conn.cursor(pymysql.cursors.DictCursor) as cursor:
                    cursor.execute(sql, (key,))
                    return cursor.fetchone()

            timed_sync(50, read_my)
            return timed_sync(count, read_my)
        finally:
            conn.close()
    lite = sqlite3.connect(parsed.path or ":memory:")
    lite.row_factory = dict_factory
    try:
        timed_sync(50, lambda key: lite.execute(sql, (key,)).fetchone())
        return timed_sync(count, lambda key: lite.execute(sql, (key,)).fetchone())
    finally:
        lite.close()


# -- servers and the report ----------------------------------------------------


@contextlib.contextmanager
def backends(argv: Sequence[str]) -> Iterator[list[tuple[str, str]]]:
    given = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    found: list[tuple[str, str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="squall-bench-db-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        found.append(("sqlite", f"sqlite:///{tmp}/bench.db"))
        for backend, module in (("postgresql", "psycopg"), ("mysql", "aiomysql")):
            if importlib.util.find_spec(module) is None:
                print(f"(skipped {backend}: {module} is not installed)")
                continue
            if backend in given:
                found.append((backend, given[backend]))
                continue
            server = start_server(backend)
            if server is None:
                print(f"(skipped {backend}: no server binaries and no --{backend}=URL)")
                continue
            stack.callback(server.cleanup)
            found.append((backend, server.url))
        yield found


def start_server(backend: str) -> Any:
    if backend == "postgresql":
        from tests._servers.postgresql import PostgreSQLServer, find_bindir

        bindir = find_bindir()
        if bindir is None:
            return None
        pg = PostgreSQLServer(bindir)
        pg.init()
        pg.start()
        return pg
    from tests._servers.mariadb import MariaDBServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        return None
    maria = MariaDBServer(*binaries)
    maria.init()
    maria.start()
    maria.create_account()
    return maria


def main(argv: Sequence[str]) -> None:
    quick = "--quick" in argv
    reads, rounds = (500, 3) if quick else (5000, 5)
    rows = []
    with backends(argv) as found:
        for backend, url in found:
            fill(url, backend)
            for api, ours, raw in (
                (
                    "async",
                    lambda n, u=url, b=backend: asyncio.run(squall_async(u, b, n)),
                    lambda n, u=url, b=backend: asyncio.run(raw_async(u, b, n)),
                ),
                (
                    "blocking",
                    lambda n, u=url, b=backend: squall_blocking(u, b, n),
                    lambda n, u=url, b=backend: raw_blocking(u, b, n),
                ),
            ):
                rows.append((backend, api, *compare(ours, raw, reads, rounds)))
    print(
        f"### squall.database: primary-key reads, one at a time ({reads} reads, best of {rounds})\n"
    )
    print("Raw drivers return dict rows too (psycopg dict_row, DictCursor, a sqlite3 row factory).")
    print("Overhead: squall's client CPU per read over the raw driver's (steadier than reads/s")
    print("on a shared machine).\n")
    print(
        "| backend | API | squall reads/s | raw reads/s | squall CPU µs/read | raw CPU µs/read | overhead |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend, api, ours_rate, ours_cpu, raw_rate, raw_cpu in rows:
        overhead = (ours_cpu / raw_cpu - 1) * 100
        print(
            f"| {backend} | {api} | {ours_rate:,.0f} | {raw_rate:,.0f} | {ours_cpu:.1f} "
            f"| {raw_cpu:.1f} | {overhead:+.1f}% |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
