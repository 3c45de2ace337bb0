"""The hub's semantics on memory:// (one process, no network): types,
order, both subscription forms, the bounded queue, history, bad input."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import pytest

from squall import pubsub
from squall.pubsub import Gap, Message
from squall.testing import ExpectLog


async def next_event(sub: pubsub.Subscription, timeout: float = 5.0) -> pubsub.Event:
    return await asyncio.wait_for(sub.__anext__(), timeout)


async def test_bytes_str_and_json_come_back_as_published(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    assert hub.url == "memory://"
    async with hub.subscribe("room") as sub:
        assert await hub.publish("room", b"\x00raw\xff") is None
        await hub.publish("room", "héllo")
        await hub.publish("room", {"n": 1, "list": (1, 2), "text": "é"})
        await hub.publish("room", bytearray(b"ba"))
        await hub.publish("room", [None, True, 1.5])
        got = [await next_event(sub) for _ in range(5)]
    assert all(isinstance(e, Message) and e.channel == "room" for e in got)
    assert [e.data for e in got if isinstance(e, Message)] == [
        b"\x00raw\xff",
        "héllo",
        {"n": 1, "list": [1, 2], "text": "é"},
        b"ba",
        [None, True, 1.5],
    ]
    assert {e.publisher for e in got if isinstance(e, Message)} == {hub.id}
    # Iteration ended with the async with.
    assert sub.closed
    assert [e async for e in sub] == []


async def test_local_subscribers_have_it_before_publish_returns(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect("memory://")
    hubs.append(hub)
    sub = hub.subscribe("a")
    coroutine = hub.publish("a", "x")
    assert sub.pending == 0  # not yet run
    await coroutine
    assert sub.pending == 1
    sub.unsubscribe()
    sub.unsubscribe()  # twice is harmless


async def test_order_per_channel_and_channel_filtering(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    async with hub.subscribe("a", "b", "a") as both, hub.subscribe("b") as only_b:
        assert both.channels == ("a", "b")
        for i in range(50):
            await hub.publish("a" if i % 2 else "b", i)
        await hub.publish("c", "nobody listens")
        got = [await next_event(both) for _ in range(50)]
        got_b = [await next_event(only_b) for _ in range(25)]
        assert both.pending == 0 and only_b.pending == 0
    assert [e.data for e in got if isinstance(e, Message)] == list(range(50))
    assert [e.data for e in got_b if isinstance(e, Message)] == list(range(0, 50, 2))


async def test_many_publishers_at_once_keep_their_own_order(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    async with hub.subscribe("ch") as sub:

        async def publisher(name: str) -> None:
            for i in range(20):
                await hub.publish("ch", [name, i])

        await asyncio.gather(*(publisher(n) for n in "xyz"))
        got = [await next_event(sub) for _ in range(60)]
    for name in "xyz":
        assert [m.data[1] for m in got if isinstance(m, Message) and m.data[0] == name] == list(
            range(20)
        )


async def test_callbacks_get_each_event_until_unsubscribed(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    got: list[Any] = []
    handle = hub.subscribe("ch", callback=got.append)
    assert isinstance(handle, pubsub.CallbackSubscription)
    await handle.ready()
    await hub.publish("ch", "one")
    assert [e.data for e in got] == ["one"]  # synchronously, no loop turn needed
    handle.unsubscribe()
    await hub.publish("ch", "two")
    assert [e.data for e in got] == ["one"]
    assert "closed" in repr(handle)


async def test_a_failing_callback_is_logged_and_others_still_get_it(
    hubs: list[pubsub.Hub],
) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    got: list[Any] = []

    def broken(event: pubsub.Event) -> None:
        raise RuntimeError("boom")

    hub.subscribe("ch", callback=broken)
    hub.subscribe("ch", callback=got.append)
    with ExpectLog(logging.getLogger("squall.application"), "pubsub callback .* failed"):
        await hub.publish("ch", 1)
    assert [e.data for e in got] == [1]


async def test_a_callback_that_unsubscribes_others_while_called(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    got: list[str] = []
    second: pubsub.CallbackSubscription | None = None

    def first(event: pubsub.Event) -> None:
        got.append("first")
        assert second is not None
        second.unsubscribe()

    hub.subscribe("ch", callback=first)
    second = hub.subscribe("ch", callback=lambda e: got.append("second"))
    await hub.publish("ch", 1)
    await hub.publish("ch", 2)
    assert got == ["first", "first"]


async def test_async_callbacks_run_one_at_a_time_and_are_bounded(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    release = asyncio.Event()
    running = 0
    seen: list[Any] = []

    async def slow(event: pubsub.Event) -> None:
        nonlocal running
        running += 1
        assert running == 1
        await release.wait()
        seen.append(event.data if isinstance(event, Message) else event)
        running -= 1

    hub.subscribe("ch", callback=slow, queue_size=3)
    for i in range(10):
        await hub.publish("ch", i)
    release.set()
    for _ in range(100):
        if len(seen) == 5:
            break
        await asyncio.sleep(0.01)
    # The first was running; three waited; six were dropped and counted.
    assert seen[:4] == [0, 1, 2, 3]
    gap = seen[4]
    assert isinstance(gap, Gap) and gap.reason == "overflow" and gap.missed == 6
    await hub.publish("ch", "after")
    for _ in range(100):
        if len(seen) == 6:
            break
        await asyncio.sleep(0.01)
    assert seen[5] == "after"


async def test_a_slow_subscriber_is_bounded_and_told_what_it_missed(
    hubs: list[pubsub.Hub],
) -> None:
    hub = pubsub.connect(queue_size=10)
    hubs.append(hub)
    async with hub.subscribe("a", "b") as slow, hub.subscribe("a", queue_size=1000) as fast:
        for i in range(100):
            await hub.publish("a" if i < 95 else "b", i)
        # Ten messages and one Gap held, whatever was published.
        assert slow.pending == 11
        assert fast.pending == 95
        events = [await next_event(slow) for _ in range(11)]
        assert [e.data for e in events[:10] if isinstance(e, Message)] == list(range(10))
        gap = events[10]
        assert isinstance(gap, Gap)
        assert gap.reason == "overflow" and gap.missed == 90
        assert gap.channels == frozenset({"a", "b"})
        # Caught up: messages flow again.
        await hub.publish("a", "fresh")
        event = await next_event(slow)
        assert isinstance(event, Message) and event.data == "fresh"


def test_push_bounded_merges_gaps() -> None:
    from collections import deque

    from squall.pubsub._subscription import push_bounded

    queue: deque[pubsub.Event] = deque()
    push_bounded(queue, Gap(frozenset({"a"}), "reconnected"), 2)
    push_bounded(queue, Gap(frozenset({"b"}), "reconnected"), 2)
    assert list(queue) == [Gap(frozenset({"a", "b"}), "reconnected")]
    push_bounded(queue, Message("a", 1), 2)
    push_bounded(queue, Message("a", 2), 2)  # full: dropped
    push_bounded(queue, Gap(frozenset({"c"}), "reconnected"), 2)
    assert len(queue) == 3
    assert queue[2] == Gap(frozenset({"a", "c"}), "reconnected", None)


async def test_include_own_false_skips_this_hubs_publications(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    mine: list[Any] = []
    hub.subscribe("ch", callback=mine.append, include_own=False)
    everything = hub.subscribe("ch")
    await hub.publish("ch", "hello")
    assert mine == [] and everything.pending == 1


async def test_history_keeps_the_last_n_and_catches_up(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect("memory://", history=3)
    hubs.append(hub)
    ids = [await hub.publish("room", f"m{i}") for i in range(5)]
    assert all(isinstance(i, str) for i in ids)
    assert len(set(ids)) == 5
    kept = await hub.history("room")
    assert [m.data for m in kept] == ["m2", "m3", "m4"]
    assert [m.id for m in kept] == ids[2:]
    assert [m.data for m in await hub.history("room", since=ids[3])] == ["m4"]
    assert await hub.history("room", since=ids[4]) == []
    assert await hub.history("empty") == []
    # From an id still held: the rest, then live messages, no Gap.
    async with hub.subscribe("room", since=ids[2]) as sub:
        await hub.publish("room", "live")
        got = [await next_event(sub) for _ in range(3)]
    assert [e.data for e in got if isinstance(e, Message)] == ["m3", "m4", "live"]
    # From an id whose successors were dropped: a Gap first.
    async with hub.subscribe("room", since=ids[0]) as sub:
        first = await next_event(sub)
        rest = [await next_event(sub) for _ in range(3)]
    assert isinstance(first, Gap) and first.reason == "trimmed"
    # "live" pushed "m2" out of the three kept.
    assert [e.data for e in rest if isinstance(e, Message)] == ["m3", "m4", "live"]


async def test_live_messages_carry_their_history_id(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect(history=10)
    hubs.append(hub)
    async with hub.subscribe("ch") as sub:
        message_id = await hub.publish("ch", {"a": 1})
        event = await next_event(sub)
    assert isinstance(event, Message) and event.id == message_id


async def test_close_ends_subscriptions_and_refuses_more(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    sub = hub.subscribe("ch")
    waiting = asyncio.ensure_future(sub.__anext__())
    await asyncio.sleep(0)
    await hub.close()
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert hub.closed and not hub.connected
    with pytest.raises(pubsub.HubClosedError):
        await hub.publish("ch", "late")
    with pytest.raises(pubsub.HubClosedError):
        hub.subscribe("ch")
    with pytest.raises(pubsub.HubClosedError):
        await hub.history("ch")
    await hub.close()  # twice is harmless


async def test_close_cancels_a_callback_still_running(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    started = asyncio.Event()

    async def forever(event: pubsub.Event) -> None:
        started.set()
        await asyncio.Event().wait()

    hub.subscribe("ch", callback=forever)
    await hub.publish("ch", 1)
    await started.wait()
    await hub.close()


async def test_async_with_the_hub_closes_it(io_loop: Any) -> None:
    async with pubsub.connect() as hub:
        assert hub.connected
    assert hub.closed


async def test_bad_messages_are_refused(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect(max_message_size=16)
    hubs.append(hub)
    sub = hub.subscribe("ch")
    with pytest.raises(TypeError, match="bytes, str or JSON-able, not object"):
        await hub.publish("ch", object())
    with pytest.raises(TypeError, match="not set"):
        await hub.publish("ch", {1, 2})
    with pytest.raises(ValueError, match="Out of range float"):
        await hub.publish("ch", math.nan)
    with pytest.raises(ValueError, match="17 bytes is over the hub's max_message_size"):
        await hub.publish("ch", "x" * 17)
    await hub.publish("ch", "x" * 16)
    assert sub.pending == 1  # nothing of the refused ones was delivered


async def test_bad_channels_and_options_are_refused(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect(history=2)
    hubs.append(hub)
    with pytest.raises(ValueError, match="cannot be empty"):
        await hub.publish("", "x")
    with pytest.raises(TypeError, match="a channel name is a str, not bytes"):
        hub.subscribe(b"ch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be empty"):
        hub.subscribe("ok", "")
    with pytest.raises(ValueError, match="exactly one channel"):
        hub.subscribe("a", "b", since="0-1")
    with pytest.raises(ValueError, match="not a history id: 'yesterday'"):
        hub.subscribe("a", since="yesterday")
    with pytest.raises(ValueError, match="not a history id"):
        await hub.history("a", since="1-x")
    with pytest.raises(ValueError, match="iterator form"):
        hub.subscribe("a", callback=print, since="0-1")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callback must be callable"):
        hub.subscribe("a", callback=42)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="queue_size must be at least 1, not 0"):
        hub.subscribe("a", queue_size=0)
    assert hub.wanted_channels() == []  # nothing half-subscribed


def test_connect_refuses_unknown_urls_and_options() -> None:
    with pytest.raises(pubsub.UnsupportedURLError, match="no pub/sub backend for 'amqp://x'"):
        pubsub.connect("amqp://x")
    with pytest.raises(pubsub.UnsupportedURLError):
        pubsub.connect("127.0.0.1:6379")
    with pytest.raises(TypeError, match="url must be a str"):
        pubsub.connect(6379)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="memory:// takes no options: max_reconnect_delay"):
        pubsub.connect("memory://", max_reconnect_delay=1)
    with pytest.raises(ValueError, match="history must be 0"):
        pubsub.connect(history=-1)
    with pytest.raises(ValueError, match="queue_size must be at least 1"):
        pubsub.connect(queue_size=0)
    with pytest.raises(ValueError, match="max_message_size must be at least 1"):
        pubsub.connect(max_message_size=0)
    with pytest.raises(ValueError, match="min_reconnect_delay"):
        pubsub.connect("redis://127.0.0.1:1/0", min_reconnect_delay=0)
    # Made without a running loop: nothing starts until it is used.
    assert "memory://" in repr(pubsub.connect())


def test_history_ids_order_numerically() -> None:
    from squall.pubsub._events import decode, id_order

    assert id_order("10-0") > id_order("9-5") > id_order("9-4")
    assert id_order("7") == (7, 0)
    with pytest.raises(ValueError, match="unknown message kind"):
        decode(b"?", b"")


WAITING_SUBSCRIBERS = 10_000


@pytest.mark.gen_test(timeout=60)
async def test_ten_thousand_subscribers_woken_by_one_publish(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect()
    hubs.append(hub)
    subs = [hub.subscribe("crowd") for _ in range(WAITING_SUBSCRIBERS)]
    waiting = [asyncio.ensure_future(sub.__anext__()) for sub in subs]
    await asyncio.sleep(0)
    await hub.publish("crowd", "wake up")
    events = await asyncio.gather(*waiting)
    assert len(events) == WAITING_SUBSCRIBERS
    assert all(isinstance(e, Message) and e.data == "wake up" for e in events)
