"""The asynchronous API against each backend: queries, streaming, transactions."""

from __future__ import annotations

import asyncio
import gc

import pytest
from conftest import SESSION_ID, Target

from squall import database


async def add(db, target: Target, slug: str, title: str = "t", body: str | None = "b"):
    return await db.execute(target.insert_sql(), slug, title, body)


async def test_query_get_execute(target: Target) -> None:
    db = await database.connect_async(target.url)
    try:
        assert db.backend == target.backend and db.placeholder == target.ph
        first = await add(db, target, "first", "First")
        second = await add(db, target, "second", "Second", None)
        assert isinstance(first, int) and second > first
        rows = await db.query("SELECT * FROM entries ORDER BY id")
        assert [(r.id, r.slug, r.body) for r in rows] == [
            (first, "first", "b"),
            (second, "second", None),
        ]
        entry = await db.get(f"SELECT title FROM entries WHERE id = {target.ph}", first)
        assert entry == {"title": "First"} and entry.title == "First"
        assert await db.get(f"SELECT * FROM entries WHERE id = {target.ph}", -1) is None
        changed = await db.execute_rowcount(f"UPDATE entries SET body = {target.ph}", "x")
        assert changed == 2
        ph = target.ph
        sql = f"INSERT INTO entries (slug, title, body) VALUES ({ph}, {ph}, {ph})"
        assert await db.executemany_rowcount(sql, [("c", "C", None), ("d", "D", None)]) == 2
        await db.executemany(sql, [("e", "E", None)])
        assert len(await db.query("SELECT id FROM entries")) == 5
        assert db.pool.borrowed == 0
    finally:
        await db.close()


async def test_get_with_two_rows_raises(target: Target) -> None:
    async with await database.connect_async(target.url) as db:
        await add(db, target, "a")
        await add(db, target, "b")
        with pytest.raises(database.MultipleRowsError, match="returned 2"):
            await db.get("SELECT slug FROM entries")
        assert db.pool.borrowed == 0


async def test_sql_injection_attempts_are_stored_verbatim(target: Target) -> None:
    hostile = [
        "'); DROP TABLE entries; --",
        "x' OR '1'='1",
        'double " quote',
        "back\\slash \\' and \\\\",
        "percent %s %% %(name)s and ? marks",
        "semicolon; DELETE FROM entries",
        "ünïcødé ✓ 🐍",
        "$1 $$dollar$$ E'\\x41'",
    ]
    async with await database.connect_async(target.url) as db:
        for i, text in enumerate(hostile):
            await add(db, target, f"s{i}", text, text)
        rows = await db.query("SELECT slug, title, body FROM entries ORDER BY slug")
        assert [(r.title, r.body) for r in rows] == [(t, t) for t in hostile]
        # And as a lookup value: matches exactly itself, nothing else.
        found = await db.query(f"SELECT slug FROM entries WHERE title = {target.ph}", hostile[1])
        assert [r.slug for r in found] == ["s1"]
        assert (
            await db.get(f"SELECT * FROM entries WHERE slug = {target.ph}", "' OR 1=1 --") is None
        )


async def test_iter_streams_in_batches_and_returns_the_connection(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        ph = target.ph
        sql = f"INSERT INTO entries (slug, title, body) VALUES ({ph}, {ph}, {ph})"
        await db.executemany(sql, [(f"s{i:03}", "t", None) for i in range(230)])
        seen = [
            row.slug
            async for row in db.iter("SELECT slug FROM entries ORDER BY slug", batch_size=50)
        ]
        assert seen == [f"s{i:03}" for i in range(230)]
        assert db.pool.borrowed == 0
        # Leaving early through async with: the rest is discarded, the
        # connection comes back clean (the pool has only this one).
        async with db.iter("SELECT slug FROM entries ORDER BY slug", batch_size=10) as rows:
            async for row in rows:
                if row.slug == "s004":
                    break
        assert db.pool.borrowed == 0
        assert len(await db.query("SELECT id FROM entries")) == 230
        # Dropped mid-way without aclose(): the connection still comes back.
        abandoned = db.iter("SELECT slug FROM entries", batch_size=5)
        async for _ in abandoned:
            break
        assert db.pool.borrowed == 1
        del abandoned
        gc.collect()
        for _ in range(100):
            if not db.pool.borrowed:
                break
            await asyncio.sleep(0.01)
        assert db.pool.borrowed == 0
        assert len(await db.query("SELECT id FROM entries")) == 230
        # An empty result.
        assert [r async for r in db.iter(f"SELECT * FROM entries WHERE slug = {ph}", "none")] == []
        with pytest.raises(ValueError, match="batch_size"):
            db.iter("SELECT 1", batch_size=0)
        # A bad statement raises from the loop and gives the connection back.
        with pytest.raises(Exception, match=r"(?i)syntax|near"):
            async for _ in db.iter("SELEKT"):
                pass
        assert db.pool.borrowed == 0
        assert len(await db.query("SELECT id FROM entries")) == 230


async def test_transaction_commits_and_rolls_back(target: Target) -> None:
    async with await database.connect_async(target.url) as db:
        async with db.transaction() as tx:
            assert tx.active
            await add(tx, target, "kept")
            assert len(await tx.query("SELECT * FROM entries")) == 1
        assert not tx.active
        assert [r.slug for r in await db.query("SELECT slug FROM entries")] == ["kept"]

        with pytest.raises(KeyError):
            async with db.transaction() as tx:
                await add(tx, target, "undone")
                raise KeyError("boom")
        assert [r.slug for r in await db.query("SELECT slug FROM entries")] == ["kept"]
        # A finished transaction refuses statements.
        with pytest.raises(database.ClosedError, match="not open"):
            await tx.query("SELECT 1")
        with pytest.raises(RuntimeError, match="opens once"):
            async with tx:
                pass
        assert db.pool.borrowed == 0


async def test_nested_blocks_are_savepoints(target: Target) -> None:
    async with await database.connect_async(target.url) as db:
        async with db.transaction() as tx:
            await add(tx, target, "outer")
            with pytest.raises(ValueError):
                async with tx.transaction() as inner:
                    await add(inner, target, "inner-undone")
                    # The enclosing block waits while the nested one is open.
                    with pytest.raises(database.ClosedError, match="nested"):
                        await tx.query("SELECT 1")
                    raise ValueError
            async with tx.transaction() as inner:
                await add(inner, target, "inner-kept")
                async with inner.transaction() as deeper:
                    await add(deeper, target, "deeper-kept")
            # A failed statement inside a savepoint is undone with it; the
            # outer transaction carries on (PostgreSQL would otherwise abort it).
            with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
                async with tx.transaction() as inner:
                    await add(inner, target, "outer")
            await add(tx, target, "after")
        slugs = sorted(r.slug for r in await db.query("SELECT slug FROM entries"))
        assert slugs == ["after", "deeper-kept", "inner-kept", "outer"]


async def test_transaction_pins_one_connection(server_target: Target) -> None:
    target = server_target
    async with await database.connect_async(target.url, min_size=3, max_size=3) as db:
        async with db.transaction() as tx:
            ids = {(await tx.get(SESSION_ID[target.backend])).id for _ in range(5)}  # type: ignore[union-attr]
            assert len(ids) == 1
            assert db.pool.borrowed == 1
            # Other calls meanwhile use other connections, and do not see
            # the uncommitted row.
            await add(tx, target, "pending")
            assert await db.query("SELECT * FROM entries") == []
        assert len(await db.query("SELECT * FROM entries")) == 1


async def test_cancelled_transaction_rolls_back_and_returns_its_connection(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        inserted = asyncio.Event()

        async def handler() -> None:
            async with db.transaction() as tx:
                await add(tx, target, "never")
                inserted.set()
                await asyncio.sleep(60)

        task = asyncio.ensure_future(handler())
        await inserted.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert db.pool.borrowed == 0
        assert await db.query("SELECT * FROM entries") == []


async def test_close_waits_for_borrowed_connections(target: Target) -> None:
    db = await database.connect_async(target.url)
    order: list[str] = []
    started = asyncio.Event()

    async def slow_transaction() -> None:
        async with db.transaction() as tx:
            started.set()
            await asyncio.sleep(0.2)
            await add(tx, target, "committed-before-close")
            order.append("committed")

    task = asyncio.ensure_future(slow_transaction())
    await started.wait()
    await db.close()
    order.append("closed")
    await task
    assert order == ["committed", "closed"]
    assert db.pool.borrowed == 0 and db.pool.idle == 0
    with pytest.raises(database.ClosedError, match="closed"):
        await db.query("SELECT 1")
    check = database.connect(target.url)
    try:
        assert len(check.query("SELECT * FROM entries")) == 1
    finally:
        check.close()


async def test_sqlite_in_memory_is_one_shared_connection() -> None:
    async with await database.connect_async("sqlite://", max_size=5) as db:
        assert db.pool.max_size == 1
        await db.execute("CREATE TABLE t (x INTEGER)")
        await asyncio.gather(*(db.execute("INSERT INTO t VALUES (?)", i) for i in range(10)))
        assert (await db.get("SELECT count(*) AS n FROM t")) == {"n": 10}


async def test_wrong_password_fails_at_connect(server_target: Target) -> None:
    url = server_target.url
    if server_target.backend == "postgresql":
        bad = url.replace("postgres@", "nobody@")
    else:
        bad = url.replace(":squall-test-pw@", ":wrong@")
    with pytest.raises(Exception, match=r"(?i)denied|does not exist|authentication"):
        await database.connect_async(bad)


async def test_iter_inside_a_transaction_sees_its_own_rows(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        async with db.transaction() as tx:
            for i in range(12):
                await add(tx, target, f"s{i:02}")
            slugs = [
                row.slug
                async for row in tx.iter("SELECT slug FROM entries ORDER BY slug", batch_size=5)
            ]
            assert slugs == [f"s{i:02}" for i in range(12)]
            async with tx.iter("SELECT slug FROM entries") as rows:
                async for _ in rows:
                    break
            # Still the transaction's connection, still usable.
            assert db.pool.borrowed == 1
            assert len(await tx.query("SELECT slug FROM entries")) == 12
        assert db.pool.borrowed == 0
        with pytest.raises(database.ClosedError, match="not open"):
            async for _ in tx.iter("SELECT 1"):
                pass


async def test_idle_pooled_connections_are_replaced_after_max_idle_time(
    server_target: Target,
) -> None:
    target = server_target
    sql = SESSION_ID[target.backend]
    async with await database.connect_async(target.url, max_size=1, max_idle_time=0) as db:
        first, second = await db.get(sql), await db.get(sql)
        assert first is not None and second is not None and first.id != second.id
    async with await database.connect_async(target.url, max_size=1) as db:
        assert await db.get(sql) == await db.get(sql)


async def test_empty_pool_opens_on_demand_and_close_refuses_waiters(target: Target) -> None:
    db = await database.connect_async(target.url, min_size=0, max_size=1)
    assert db.pool.idle == 0
    assert await db.get("SELECT 1 AS one") == {"one": 1}
    assert db.pool.idle == 1
    async with db.transaction():
        waiter = asyncio.ensure_future(db.query("SELECT 1"))
        await asyncio.sleep(0.05)
        closing = asyncio.ensure_future(db.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # waits for the transaction's connection
    # The waiter got the freed slot after close began: refused, not run.
    with pytest.raises(database.ClosedError):
        await waiter
    await closing
    assert db.pool.borrowed == 0 and db.pool.idle == 0


async def test_postgresql_connections_come_from_psycopg_pool(server_target: Target) -> None:
    if server_target.backend != "postgresql":
        pytest.skip("psycopg_pool serves PostgreSQL only")
    from psycopg_pool import AsyncConnectionPool

    async with await database.connect_async(server_target.url, min_size=2, max_size=3) as db:
        driver = db.pool._driver  # type: ignore[attr-defined]
        assert isinstance(driver, AsyncConnectionPool)
        assert db.pool.idle == 2  # psycopg_pool opened min_size before returning
        async with db.transaction() as tx:
            assert await tx.get("SELECT 1 AS one") == {"one": 1}
            assert db.pool.borrowed == 1 and db.pool.idle == 1
        assert driver.get_stats()["requests_num"] >= 1
    assert driver.closed
