"""The pool's slot counter, and PostgreSQL's hand-back to psycopg_pool."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Target

from squall import database
from squall.database import _postgres_pool
from squall.database._pool import Slots


async def test_slots_take_now_until_none_are_free() -> None:
    slots = Slots(2)
    assert slots.take_now() and slots.take_now()
    assert not slots.take_now()
    slots.give_back()
    assert slots.free == 1 and slots.take_now()


async def test_slots_serve_waiters_in_order_and_skip_cancelled_ones() -> None:
    slots = Slots(1)
    assert slots.take_now()
    first = asyncio.ensure_future(slots.take(5))
    second = asyncio.ensure_future(slots.take(5))
    await asyncio.sleep(0)
    assert not slots.take_now()  # waiters come before newcomers
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    slots.give_back()
    await second  # the slot went past the cancelled waiter
    assert slots.free == 0
    slots.give_back()
    assert slots.free == 1


async def test_slots_timeout_leaves_the_count_whole() -> None:
    slots = Slots(1)
    assert slots.take_now()
    with pytest.raises(TimeoutError):
        await slots.take(0.01)
    slots.give_back()
    assert slots.free == 1 and slots.take_now()


async def test_slot_handed_over_as_the_waiter_is_cancelled_is_passed_on() -> None:
    slots = Slots(1)
    assert slots.take_now()
    waiter = asyncio.ensure_future(slots.take(5))
    await asyncio.sleep(0)
    slots.give_back()  # the slot is now the waiter's ...
    waiter.cancel()  # ... but it is cancelled before it runs
    try:
        await waiter
    except asyncio.CancelledError:
        holds = False
    else:  # wait_for on Python 3.11 lets a finished wait win over the cancel
        holds = True
    # Either the waiter holds the slot or it was passed on: never lost, never doubled.
    assert slots.free == (0 if holds else 1)


async def test_postgresql_spare_connections_go_back_to_psycopg_pool(
    server_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    if server_target.backend != "postgresql":
        pytest.skip("psycopg_pool serves PostgreSQL only")
    monkeypatch.setattr(_postgres_pool, "HAND_BACK_AFTER", 0.05)
    async with await database.connect_async(server_target.url, min_size=0, max_size=2) as db:
        driver = db.pool._driver  # type: ignore[attr-defined]
        async with db.transaction() as tx:
            await db.get("SELECT 1 AS one")  # a second connection, while tx holds one
            await tx.get("SELECT 1 AS one")
        assert driver.get_stats().get("pool_available", 0) == 0  # both in squall's list
        await asyncio.sleep(0.1)
        await db.get("SELECT 2 AS two")  # its return hands the stale one back
        await asyncio.sleep(0.05)
        assert driver.get_stats().get("pool_available", 0) == 1
        assert db.pool.idle == 2 and db.pool.borrowed == 0
