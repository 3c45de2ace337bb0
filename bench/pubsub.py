"""Pub/sub across processes: ``squall.pubsub`` vs the ``broadcaster`` library,
both on one real redis-server, in the same run.

``python -m bench pubsub [--quick] [--rounds=N]`` (or ``python -m bench.pubsub``).

Two workloads:

- fan-out: two long-poll server processes (``bench/servers/pubsub_longpoll.py``,
  squall's HTTP server in both cases, only the pub/sub library differs)
  hold FANOUT_CLIENTS waiting ``GET /wait`` requests between them, each
  request its own subscriber. This process publishes one message; we time
  from the publish until the last of the clients has its answer.
- throughput: a subscriber process (``bench/servers/pubsub_subscriber.py``)
  receives THROUGHPUT_MESSAGES messages that this process publishes with
  PUBLISH_WINDOW publishes in flight; messages/s from the first publish to
  the subscriber's "done".

The libraries take turns for each round and the median round is reported,
with the ratio to broadcaster. Nothing is pinned to a core: the two
servers, Redis and the client share the machine, as they would on one box.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._harness import free_port, wait_for_port  # noqa: E402

SERVERS = Path(__file__).parent / "servers"
IMPLS = ("squall", "broadcaster")
CHANNEL = "fan"

FANOUT_CLIENTS = 10_000
THROUGHPUT_MESSAGES = 20_000
# Publishes in flight at once: enough to let a library batch, as a busy
# application publishing from many handlers would.
PUBLISH_WINDOW = 64
# Connections opened at once while filling the servers with waiters.
CONNECT_BATCH = 500
# How long the servers may take to report every waiter subscribed.
SETTLE_TIMEOUT = 120.0

# broadcaster 0.3's subscribers receive nothing on redis-py 6 and later
# (observed with 8.2: the SUBSCRIBE and PUBLISH reach Redis, the message
# never comes out of its listener), so its processes run on a redis-py 5
# installed aside, in a directory put first on their path.
BROADCASTER_REDIS = "redis>=5,<6"
BROADCASTER_PATH = Path(tempfile.gettempdir()) / "squall-bench-broadcaster-redis5"

WAIT_REQUEST = b"GET /wait HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@contextmanager
def redis() -> Iterator[Any]:
    from tests._servers.redis import RedisServer, find_binary

    binary = find_binary()
    assert binary is not None
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def python_path(impl: str) -> str:
    """PYTHONPATH for a process running ``impl``."""
    if impl != "broadcaster":
        return str(ROOT)
    import redis

    if int(redis.__version__.split(".")[0]) < 6:
        return str(ROOT)
    if not (BROADCASTER_PATH / "redis").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(BROADCASTER_PATH),
                BROADCASTER_REDIS,
            ],
            check=True,
        )
    return f"{BROADCASTER_PATH}{os.pathsep}{ROOT}"


@contextmanager
def processes(
    impl: str, argvs: list[list[str]], ports: list[int]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = dict(os.environ, PYTHONPATH=python_path(impl))
    procs = [
        subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL)
        for argv in argvs
    ]
    try:
        for proc, port in zip(procs, ports, strict=False):
            wait_for_port(port, proc)
        yield procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def publisher(impl: str, url: str) -> tuple[Callable[[str, str], Awaitable[Any]], Any]:
    """(publish(channel, message), close()) for ``impl``."""
    if impl == "squall":
        from squall import pubsub

        hub = pubsub.connect(url)
        await hub.wait_connected()
        return hub.publish, hub.close
    from broadcaster import Broadcast

    broadcast = Broadcast(url)
    await broadcast.connect()
    return broadcast.publish, broadcast.disconnect


async def count_waiting(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return int(answer.rpartition(b"\r\n\r\n")[2] or 0)


async def fan_out_once(impl: str, url: str, ports: list[int], clients: int) -> float:
    """Milliseconds from one publish to the last of ``clients`` answers."""
    publish, close = await publisher(impl, url)
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for start in range(0, clients, CONNECT_BATCH):
            batch = await asyncio.gather(
                *(
                    asyncio.open_connection("127.0.0.1", ports[n % len(ports)])
                    for n in range(start, min(start + CONNECT_BATCH, clients))
                )
            )
            for _, writer in batch:
                writer.write(WAIT_REQUEST)
            connections.extend(batch)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while sum([await count_waiting(port) for port in ports]) < clients:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{impl}: the waiters never all subscribed")
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        await publish(CHANNEL, "wake up")
        answers = await asyncio.gather(*(reader.read() for reader, _ in connections))
        elapsed = time.perf_counter() - started
    finally:
        for _, writer in connections:
            writer.close()
        await close()
    woken = sum(1 for a in answers if a.startswith(b"HTTP/1.1 200") and a.endswith(b"wake up"))
    if woken != clients:
        raise RuntimeError(f"{impl}: {woken} of {clients} long polls got the message")
    return elapsed * 1000


def run(coroutine: Awaitable[float]) -> float:
    """On uvloop when installed: a cheaper client, the same for both."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type,no-any-return]


def fan_out(impl: str, url: str, clients: int) -> float:
    ports = [free_port(), free_port()]
    argvs = [[str(SERVERS / "pubsub_longpoll.py"), str(port), impl, url] for port in ports]
    with processes(impl, argvs, ports):
        return run(fan_out_once(impl, url, ports, clients))


async def throughput_once(impl: str, url: str, messages: int) -> float:
    env = dict(os.environ, PYTHONPATH=python_path(impl))
    channel = f"throughput-{impl}-{time.monotonic_ns()}"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SERVERS / "pubsub_subscriber.py"),
        impl,
        url,
        channel,
        str(messages),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    publish, close = await publisher(impl, url)
    try:
        if (await asyncio.wait_for(child.stdout.readline(), 60)) != b"ready\n":
            raise RuntimeError(f"{impl}: the subscriber did not start")
        started = time.perf_counter()
        in_flight: set[asyncio.Future[Any]] = set()
        for n in range(messages):
            in_flight.add(asyncio.ensure_future(publish(channel, f"message {n}")))
            if len(in_flight) >= PUBLISH_WINDOW:
                _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        if in_flight:
            await asyncio.wait(in_flight)
        if (await asyncio.wait_for(child.stdout.readline(), 120)) != b"done\n":
            raise RuntimeError(f"{impl}: the subscriber did not get every message")
        elapsed = time.perf_counter() - started
    finally:
        await close()
        if child.returncode is None:
            child.terminate()
        await child.wait()
    return messages / elapsed


def throughput(impl: str, url: str, messages: int) -> float:
    return run(throughput_once(impl, url, messages))


def table(title: str, unit: str, results: dict[str, float], higher_is_better: bool) -> str:
    base = results.get("broadcaster")
    lines = [f"### {title}", "", f"| library | {unit} | vs broadcaster |", "|---|---:|---:|"]
    for name, value in results.items():
        ratio = "-"
        if base:
            ratio = f"{(value / base) if higher_is_better else (base / value):.2f}x"
        lines.append(f"| {name} | {value:,.1f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import importlib.util

    quick = "--quick" in argv
    rounds = 1 if quick else 3
    for arg in argv:
        if arg.startswith("--rounds="):
            rounds = int(arg.split("=", 1)[1])
    clients = 2_000 if quick else FANOUT_CLIENTS
    messages = 5_000 if quick else THROUGHPUT_MESSAGES
    impls = [i for i in IMPLS if i == "squall" or importlib.util.find_spec(i) is not None]
    if "broadcaster" not in impls:
        print("(skipped broadcaster: pip install 'broadcaster[redis]')")
    fan: dict[str, list[float]] = {i: [] for i in impls}
    rate: dict[str, list[float]] = {i: [] for i in impls}
    from tests._servers.redis import find_binary

    if find_binary() is None:
        # `python -m bench` runs every benchmark: skip, do not stop the others.
        print("(skipped pubsub: redis-server is not installed; apt-get install redis-server)")
        return
    with redis() as server:
        url = server.url(0)
        for _ in range(rounds):
            for impl in impls:
                fan[impl].append(fan_out(impl, url, clients))
                rate[impl].append(throughput(impl, url, messages))
    print(
        table(
            f"Pub/sub fan-out: one message to {clients:,} long polls in two processes, "
            f"ms to the last answer (lower is better), median of {rounds}",
            "ms",
            {i: statistics.median(v) for i, v in fan.items()},
            higher_is_better=False,
        )
    )
    print()
    print(
        table(
            f"Pub/sub throughput between two processes over Redis, {messages:,} messages, "
            f"{PUBLISH_WINDOW} publishes in flight, median of {rounds}",
            "messages/s",
            {i: statistics.median(v) for i, v in rate.items()},
            higher_is_better=True,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
