"""What goes wrong in production: timeouts, cancelled handlers, a full pool,
a server restarted under the pool."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import SESSION_ID, Target

from squall import database

# Bounds for a server to notice a cancel on a busy 2-core machine (the
# tests poll until done; they never assert on durations).
SETTLE_DEADLINE = 10.0


async def wait_until_no_endless(target: Target) -> None:
    deadline = time.monotonic() + SETTLE_DEADLINE
    while await asyncio.to_thread(target.running_endless):
        assert time.monotonic() < deadline, "the statement still runs on the server"
        await asyncio.sleep(0.05)


async def test_timeout_cancels_on_the_server_and_returns_the_connection(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        with pytest.raises(database.QueryTimeoutError, match="cancelled on the server") as caught:
            await db.query(target.endless, timeout=0.3)
        assert isinstance(caught.value, TimeoutError)
        if target.server is not None:
            await wait_until_no_endless(target)
        # Back in the pool, idle and usable: the pool has only this one.
        assert db.pool.borrowed == 0 and db.pool.idle == 1
        assert await db.get("SELECT 1 AS one") == {"one": 1}
        assert db.pool.idle == 1


async def test_cancelled_handler_cancels_on_the_server_and_leaks_nothing(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        if target.server is not None:
            before = await db.get(SESSION_ID[target.backend])
        task = asyncio.ensure_future(db.query(target.endless))
        if target.server is not None:
            deadline = time.monotonic() + SETTLE_DEADLINE
            while not await asyncio.to_thread(target.running_endless):
                assert time.monotonic() < deadline, "the statement never started"
                await asyncio.sleep(0.02)
        else:
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if target.server is not None:
            await wait_until_no_endless(target)
        assert db.pool.borrowed == 0
        if target.backend == "mysql":
            # aiomysql closes a connection whose await was cancelled: the
            # pool replaces it (the statement was killed on the server above).
            assert db.pool.idle == 0
            assert await db.get(SESSION_ID[target.backend]) != before
        else:
            assert db.pool.idle == 1
            if target.server is not None:
                # The same server session is reused: it was not thrown away.
                assert await db.get(SESSION_ID[target.backend]) == before
        assert await db.get("SELECT 2 AS two") == {"two": 2}
        assert db.pool.borrowed == 0 and db.pool.idle == 1


async def test_timeout_inside_a_transaction_rolls_it_back(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        with pytest.raises(database.QueryTimeoutError):
            async with db.transaction() as tx:
                await tx.execute(target.insert_sql(), "gone", "t", None)
                await tx.query(target.endless, timeout=0.3)
        assert db.pool.borrowed == 0
        assert await db.query("SELECT * FROM entries") == []


async def test_pool_exhaustion_raises_a_clear_error(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=2, acquire_timeout=0.2) as db:
        async with db.transaction(), db.transaction():
            assert db.pool.borrowed == 2
            with pytest.raises(database.PoolTimeoutError, match=r"all 2 are borrowed") as caught:
                await db.query("SELECT 1")
            assert isinstance(caught.value, TimeoutError)
        # Free again once the holders are done.
        assert await db.get("SELECT 1 AS one") == {"one": 1}
        assert db.pool.borrowed == 0


async def test_waiting_borrower_cancelled_takes_no_slot(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1, acquire_timeout=30) as db:
        async with db.transaction():
            waiter = asyncio.ensure_future(db.query("SELECT 1"))
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        assert db.pool.borrowed == 0
        assert await db.get("SELECT 3 AS three") == {"three": 3}


async def test_restarted_server_the_next_call_reconnects(server_target: Target) -> None:
    target = server_target
    async with await database.connect_async(target.url, min_size=2, max_size=2) as db:
        before = await db.get(SESSION_ID[target.backend])
        await asyncio.to_thread(target.server.restart)
        # The idle connections died with the old server; the pool notices
        # before using them, and opens new ones.
        after = await db.get(SESSION_ID[target.backend])
        assert after is not None and before is not None
        if target.backend == "postgresql":  # MariaDB's ids restart from 1
            assert after.id != before.id
        assert await db.get("SELECT 1 AS one") == {"one": 1}
        assert db.pool.borrowed == 0


async def test_restarted_server_a_transaction_in_flight_raises(server_target: Target) -> None:
    target = server_target
    async with await database.connect_async(target.url, max_size=2) as db:
        with pytest.raises(database.ConnectionLostError, match="inside a transaction"):
            async with db.transaction() as tx:
                await tx.execute(target.insert_sql(), "lost", "t", None)
                await asyncio.to_thread(target.server.restart)
                await tx.execute(target.insert_sql(), "never", "t", None)
        assert db.pool.borrowed == 0
        # Nothing half-done survived, and the pool works again.
        assert await db.query("SELECT * FROM entries") == []


async def test_cancelled_mid_statement_in_a_transaction_undoes_it(target: Target) -> None:
    async with await database.connect_async(target.url, max_size=1) as db:
        inserted = asyncio.Event()

        async def handler() -> None:
            async with db.transaction() as tx:
                await tx.execute(target.insert_sql(), "undone", "t", None)
                inserted.set()
                await tx.query(target.endless)

        task = asyncio.ensure_future(handler())
        await inserted.wait()
        await asyncio.sleep(0.1)  # let the endless statement start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert db.pool.borrowed == 0
        if target.server is not None:
            await wait_until_no_endless(target)
        assert await db.query("SELECT * FROM entries") == []


def test_blocking_connection_reconnects_after_a_restart(server_target: Target) -> None:
    target = server_target
    db = database.connect(target.url)
    try:
        before = db.get(SESSION_ID[target.backend])
        target.server.restart()
        # The first call finds the old session gone and says so ...
        with pytest.raises(Exception, match=r"(?i)terminat|lost|gone|closed|connection"):
            db.get(SESSION_ID[target.backend])
        # ... and the next one runs on a new connection.
        after = db.get(SESSION_ID[target.backend])
        assert before is not None and after is not None
        assert db.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        db.close()
