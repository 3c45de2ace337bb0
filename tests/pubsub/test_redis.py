"""The hub on a real redis-server: two hubs in one process, two OS
processes, the server killed and restarted mid-stream, a slow subscriber,
ten thousand subscribers, history, and input that is not ours."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from squall import pubsub
from squall.pubsub import Gap, Message
from squall.testing import ExpectLog
from tests._servers import free_port
from tests._servers.redis import RedisServer

PEER = Path(__file__).with_name("peer.py")
ROOT = Path(__file__).resolve().parents[2]

# Reconnect quickly in tests (the defaults suit production, not a test run).
FAST = {"min_reconnect_delay": 0.05, "max_reconnect_delay": 0.5}


async def next_event(sub: pubsub.Subscription, timeout: float = 10.0) -> pubsub.Event:
    return await asyncio.wait_for(sub.__anext__(), timeout)


async def until(condition: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def two_hubs(url: str, hubs: list[pubsub.Hub], **options: Any) -> tuple[pubsub.Hub, ...]:
    pair = (pubsub.connect(url, **options, **FAST), pubsub.connect(url, **options, **FAST))
    hubs.extend(pair)
    for hub in pair:
        assert await hub.wait_connected()
    return pair


async def test_a_message_crosses_hubs_and_reaches_local_subscribers_once(
    redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    a, b = await two_hubs(redis_url, hubs)
    async with b.subscribe("room") as remote, a.subscribe("room") as local:
        await a.publish("room", {"hello": "world"})
        await a.publish("room", "second")
        got = [await next_event(remote), await next_event(remote)]
        assert [e.data for e in got if isinstance(e, Message)] == [{"hello": "world"}, "second"]
        assert {e.publisher for e in got if isinstance(e, Message)} == {a.id}
        assert [(await next_event(local)).data, (await next_event(local)).data] == [  # type: ignore[union-attr]
            {"hello": "world"},
            "second",
        ]
        # Redis echoed both back to a: dropped, not delivered twice.
        await b.publish("room", "from b")
        assert (await next_event(local)).data == "from b"  # type: ignore[union-attr]
        assert local.pending == 0


async def test_include_own_false_over_redis(redis_url: str, hubs: list[pubsub.Hub]) -> None:
    a, b = await two_hubs(redis_url, hubs)
    async with a.subscribe("ch", include_own=False) as others_only, b.subscribe("ch") as sub:
        await a.publish("ch", "mine")
        # (Messages of different publishers interleave in any order: wait.)
        assert (await next_event(sub)).data == "mine"  # type: ignore[union-attr]
        await b.publish("ch", "theirs")
        assert (await next_event(sub)).data == "theirs"  # type: ignore[union-attr]
        assert (await next_event(others_only)).data == "theirs"  # type: ignore[union-attr]
        assert others_only.pending == 0


async def test_unsubscribing_the_last_local_subscriber_unsubscribes_on_redis(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    hub = pubsub.connect(redis_url)
    hubs.append(hub)

    def subscribers() -> int:
        reply = redis_server.command("PUBSUB", "NUMSUB", "solo")
        return int(reply.split(b"\r\n")[-2].lstrip(b":"))

    first = hub.subscribe("solo")
    second = hub.subscribe("solo")
    await first.ready()
    await second.ready()
    assert subscribers() == 1  # one SUBSCRIBE per process, not per subscriber
    first.unsubscribe()
    await asyncio.sleep(0.05)
    assert subscribers() == 1
    second.unsubscribe()
    await until(lambda: subscribers() == 0)


async def test_publish_subscribe_across_two_processes(
    redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    (hub,) = [pubsub.connect(redis_url)]
    hubs.append(hub)
    count = 200
    # The other process publishes, we subscribe.
    async with hub.subscribe("xproc") as sub:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEER),
            redis_url,
            "publish",
            "xproc",
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        got = [await next_event(sub, timeout=30) for _ in range(count)]
        assert (await asyncio.wait_for(child.stdout.readline(), 30)) == b"done\n"
        child.stdin.close()
        assert await child.wait() == 0
    messages = [e for e in got if isinstance(e, Message)]
    assert [m.data["i"] for m in messages] == list(range(count))
    assert {m.data["pid"] for m in messages} == {child.pid}
    assert len({m.publisher for m in messages}) == 1 and messages[0].publisher != hub.id

    # We publish, the other process subscribes.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEER),
        redis_url,
        "subscribe",
        "xproc-back",
        str(count),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 30)) == b"ready\n"
    for n in range(count):
        await hub.publish("xproc-back", [n, "é"])
    lines = [await asyncio.wait_for(child.stdout.readline(), 30) for _ in range(count)]
    assert await child.wait() == 0
    received = [json.loads(line) for line in lines]
    assert [r["data"] for r in received] == [[n, "é"] for n in range(count)]
    assert {r["publisher"] for r in received} == {hub.id}


@pytest.mark.gen_test(timeout=90)
async def test_redis_killed_and_restarted_mid_stream(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    a, b = await two_hubs(redis_url, hubs)
    async with b.subscribe("live", "other") as sub, a.subscribe("live") as local:
        await a.publish("live", "before")
        assert (await next_event(sub)).data == "before"  # type: ignore[union-attr]
        assert (await next_event(local)).data == "before"  # type: ignore[union-attr]

        with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* unreachable"):
            redis_server.kill()
            await until(lambda: not a.connected and not b.connected)
            # Nothing leaves this process now; its own subscribers still hear it.
            with pytest.raises(pubsub.BackendUnavailableError, match="unreachable"):
                await a.publish("live", "during")
            assert (await next_event(local)).data == "during"  # type: ignore[union-attr]
            # Subscribing during the outage does not hang: ready() returns.
            late = b.subscribe("live")
            await asyncio.wait_for(late.ready(), 5)
        with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* reachable again"):
            redis_server.start()
            # A Gap for each channel as it is subscribed again (merged into
            # one when the subscriber has not read the first yet).
            gapped: set[str] = set()
            while gapped != {"live", "other"}:
                gap = await next_event(sub, timeout=30)
                assert isinstance(gap, Gap) and gap.reason == "reconnected"
                assert gap.missed is None
                gapped |= gap.channels
            await until(lambda: a.connected)
        late_gap = await next_event(late)
        assert isinstance(late_gap, Gap) and late_gap.channels == frozenset({"live"})
        local_gap = await next_event(local)
        assert isinstance(local_gap, Gap)
        # Messages flow again, in both directions, with no restart of either hub.
        await a.publish("live", "after")
        assert (await next_event(sub)).data == "after"  # type: ignore[union-attr]
        assert (await next_event(late)).data == "after"  # type: ignore[union-attr]
        await b.publish("live", "reply")
        assert (await next_event(local)).data == "after"  # type: ignore[union-attr]
        assert (await next_event(local)).data == "reply"  # type: ignore[union-attr]
        late.unsubscribe()


async def test_a_cut_listener_connection_reconnects_with_a_gap(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    a, b = await two_hubs(redis_url, hubs)
    async with b.subscribe("cut") as sub:
        with ExpectLog(logging.getLogger("squall.general"), "pubsub: .*", required=False):
            redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
            gap = await next_event(sub)
        assert isinstance(gap, Gap) and gap.channels == frozenset({"cut"})
        await until(lambda: a.connected)
        await a.publish("cut", "still here")
        assert (await next_event(sub)).data == "still here"  # type: ignore[union-attr]


@pytest.mark.gen_test(timeout=60)
async def test_a_server_that_stops_answering_is_noticed(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    # The connection stays open but nothing answers: only the listener's
    # PING (every health_check_interval when idle) can tell.
    hub = pubsub.connect(redis_url, health_check_interval=0.2, **FAST)
    hubs.append(hub)
    async with hub.subscribe("frozen") as sub:
        with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* unreachable .*PING"):
            redis_server.pause()
            try:
                await until(lambda: not hub.connected)
            finally:
                redis_server.resume()
        gap = await next_event(sub, timeout=30)
        assert isinstance(gap, Gap) and gap.reason == "reconnected"
        await until(lambda: hub.connected)
        await hub.publish("frozen", "thawed")
        assert (await next_event(sub)).data == "thawed"  # type: ignore[union-attr]


async def test_a_cut_command_connection_fails_one_publish_and_the_next_reconnects(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    a, b = await two_hubs(redis_url, hubs)
    async with b.subscribe("cmd") as sub, a.subscribe("cmd-a"):
        await a.publish("cmd", "one")
        # Only the command connections (subscribed listeners are of type
        # pubsub).
        redis_server.command("CLIENT", "KILL", "TYPE", "normal")
        with pytest.raises(pubsub.BackendUnavailableError, match="closed"):
            await a.publish("cmd", "lost")
        assert a.connected  # the listener never noticed anything
        await a.publish("cmd", "two")
        got = [await next_event(sub), await next_event(sub)]
    assert [e.data for e in got if isinstance(e, Message)] == ["one", "two"]


async def test_closing_with_publications_in_flight(redis_url: str, hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect(redis_url)
    await hub.wait_connected()
    in_flight = [asyncio.ensure_future(hub.publish("bye", n)) for n in range(1000)]
    await asyncio.sleep(0)
    await hub.close()
    results = await asyncio.gather(*in_flight, return_exceptions=True)
    # Each either went out before the close or says the hub closed.
    assert {type(r) for r in results} <= {type(None), pubsub.HubClosedError}
    assert isinstance(results[-1], pubsub.HubClosedError)


@pytest.mark.gen_test(timeout=60)
async def test_a_hub_started_before_its_server(hubs: list[pubsub.Hub]) -> None:
    from tests._servers.redis import find_binary

    binary = find_binary()
    if binary is None:
        pytest.skip("needs Debian's redis-server package")
    server = RedisServer(binary)  # its port is chosen, nothing listens yet
    hub = pubsub.connect(server.url(0), **FAST)
    hubs.append(hub)
    try:
        with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* unreachable"):
            assert await hub.wait_connected() is False
            async with hub.subscribe("early") as sub:
                with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* reachable again"):
                    server.start()
                    gap = await next_event(sub, timeout=30)
                assert isinstance(gap, Gap) and gap.channels == frozenset({"early"})
                assert hub.connected
                other = pubsub.connect(server.url(0))
                hubs.append(other)
                await other.publish("early", "at last")
                assert (await next_event(sub)).data == "at last"  # type: ignore[union-attr]
    finally:
        server.cleanup()


async def test_a_server_that_is_not_there(hubs: list[pubsub.Hub]) -> None:
    hub = pubsub.connect(f"redis://127.0.0.1:{free_port()}/0", **FAST)
    hubs.append(hub)
    with ExpectLog(logging.getLogger("squall.general"), "pubsub: .* unreachable"):
        assert await hub.wait_connected() is False
        sub = hub.subscribe("ch")
        await asyncio.wait_for(sub.ready(), 5)
        with pytest.raises(pubsub.BackendUnavailableError):
            await hub.publish("ch", "not sent")
        with pytest.raises(pubsub.BackendUnavailableError):
            await hub.history("ch")
        # Local delivery does not need the server.
        event = await next_event(sub)
        assert isinstance(event, Message) and event.data == "not sent"


@pytest.mark.gen_test(timeout=60)
async def test_a_slow_subscriber_is_bounded(redis_url: str, hubs: list[pubsub.Hub]) -> None:
    a, b = await two_hubs(redis_url, hubs)
    counted = 0

    def count(event: pubsub.Event) -> None:
        nonlocal counted
        counted += 1

    b.subscribe("flood", callback=count)
    async with b.subscribe("flood", queue_size=5) as slow:
        for n in range(2000):
            await a.publish("flood", n)
        await until(lambda: counted == 2000)
        assert slow.pending == 6
        events = [await next_event(slow) for _ in range(6)]
    assert [e.data for e in events[:5] if isinstance(e, Message)] == [0, 1, 2, 3, 4]
    gap = events[5]
    assert isinstance(gap, Gap) and gap.reason == "overflow" and gap.missed == 1995


WAITING_SUBSCRIBERS = 10_000


@pytest.mark.gen_test(timeout=120)
async def test_ten_thousand_subscribers_woken_by_one_publish_from_another_hub(
    redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    a, b = await two_hubs(redis_url, hubs)
    subs = [b.subscribe("crowd") for _ in range(WAITING_SUBSCRIBERS)]
    await subs[-1].ready()
    waiting = [asyncio.ensure_future(sub.__anext__()) for sub in subs]
    await a.publish("crowd", {"wake": "up"})
    events = await asyncio.wait_for(asyncio.gather(*waiting), 60)
    assert len(events) == WAITING_SUBSCRIBERS
    assert all(isinstance(e, Message) and e.data == {"wake": "up"} for e in events)
    assert all(e.publisher == a.id for e in events if isinstance(e, Message))


async def test_history_on_a_redis_stream(redis_url: str, hubs: list[pubsub.Hub]) -> None:
    a, b = await two_hubs(redis_url, hubs, history=3)
    async with b.subscribe("log") as live:
        ids = [await a.publish("log", f"m{n}") for n in range(5)]
        got = [await next_event(live) for _ in range(5)]
    assert all(isinstance(i, str) for i in ids)
    assert [e.id for e in got if isinstance(e, Message)] == ids
    kept = await b.history("log")
    assert [m.data for m in kept] == ["m2", "m3", "m4"]
    assert [m.id for m in kept] == ids[2:]
    assert {m.publisher for m in kept} == {a.id}
    assert [m.data for m in await b.history("log", since=ids[3])] == ["m4"]
    assert await b.history("nothing-here", since=ids[0]) == []
    # Catch up from an id still held, then live.
    async with b.subscribe("log", since=ids[3]) as sub:
        await a.publish("log", "live")
        events = [await next_event(sub) for _ in range(2)]
    assert [e.data for e in events if isinstance(e, Message)] == ["m4", "live"]
    # From an id whose successors were trimmed: a Gap first.
    async with b.subscribe("log", since=ids[0]) as sub:
        first = await next_event(sub)
        rest = [await next_event(sub) for _ in range(3)]
    assert isinstance(first, Gap) and first.reason == "trimmed"
    assert [e.data for e in rest if isinstance(e, Message)] == ["m3", "m4", "live"]


async def test_what_others_publish_on_the_channel_arrives_as_bytes(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    hub = pubsub.connect(redis_url)
    hubs.append(hub)
    async with hub.subscribe("raw") as sub:
        # Redis's db number does not apply to pub/sub: any client reaches us.
        redis_server.command("PUBLISH", "raw", "plain text")
        event = await next_event(sub)
        assert isinstance(event, Message)
        assert event.data == b"plain text" and event.publisher == "" and event.id is None
        for bad in ("sq1:x:j::{not json", "sq1:x:?::what kind", b"sq1:x:s::\xff"):
            with ExpectLog(logging.getLogger("squall.general"), "pubsub: dropped an unreadable"):
                redis_server.command("PUBLISH", "raw", bad)
                redis_server.command("PUBLISH", "raw", "after")
                assert (await next_event(sub)).data == b"after"  # type: ignore[union-attr]


async def test_a_history_key_of_the_wrong_type_is_reported(
    redis_server: RedisServer, redis_url: str, hubs: list[pubsub.Hub]
) -> None:
    hub = pubsub.connect(redis_url, history=5)
    hubs.append(hub)
    await hub.publish("typed", "fine")
    assert [m.data for m in await hub.history("typed")] == ["fine"]
    # Another application's plain string where our stream would be.
    db = int(redis_url.rsplit("/", 1)[1])
    assert redis_server.command("SET", "squall:history:typed", "abc", db=db) == b"+OK\r\n"
    with pytest.raises(pubsub.PubSubError, match=r"refused: .*WRONGTYPE"):
        await hub.publish("typed", "refused")
    with pytest.raises(pubsub.PubSubError, match=r"refused: .*WRONGTYPE"):
        await hub.history("typed")
    # The connection is still good for the next command.
    assert await hub.publish("other", "fine") is not None
