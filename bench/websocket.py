"""WebSocket echo and broadcast: squall vs Tornado vs websockets vs aiohttp.

``python -m bench websocket [--quick]`` (or ``python -m bench.websocket``).

Each server is a script in ``bench/servers/*_ws.py`` serving ``/echo`` and a
``/broadcast`` chat room, run in its own process pinned to core 0 with its
usual loop: uvloop for squall, aiohttp and websockets, asyncio's own for
Tornado. Compression is off everywhere (the client offers no extension and
every server is told not to compress), so the numbers compare framing and
dispatch, not zlib. Two workloads, measured by one load client pinned to
core 1 that is the same for every server:

- echo: ECHO_CLIENTS connections, each sending a MESSAGE_SIZE-byte text
  message and waiting for its echo before sending the next; messages/s.
- broadcast: BROADCAST_CLIENTS connections join the room; one sends
  "go M" and the server writes M messages to every member in its own loop
  over the connections. Delivered messages/s = clients x M / the time
  from the trigger until the last client has received its M-th message.

The servers take turns for three rounds and the median round is reported
(``--quick``: one short round), with each result's ratio to Tornado. A
second table gives each server's own CPU time (user + system, read from
/proc) per message: on a machine shared with other work that is steadier
than messages/s, which also depends on how much of core 0 the server got.

The load client is plain asyncio protocols on uvloop with hand-written
client framing: a handful of precomputed masked frames to send, and a
received-bytes check that compares whole chunks against the expected
frames in C before falling back to a frame-by-frame parse. That costs a
few microseconds per message against the servers' tens, and the table
shows the client's own CPU use so a saturated client would be visible
(near 100% would mean the client, not the server, set the pace).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import resource
import signal
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench._harness import CLIENT_CPU, _pinned, server

ROOT = Path(__file__).parent.parent

# (name shown, server script, the Python package it needs)
PEERS = [
    ("squall", "squall_ws.py", "squall"),
    ("tornado", "tornado_ws.py", "tornado"),
    ("websockets", "websockets_ws.py", "websockets"),
    ("aiohttp", "aiohttp_ws.py", "aiohttp"),
]

# Echo workload: concurrent connections and text message size.
ECHO_CLIENTS = 50
MESSAGE_SIZE = 64
# Broadcast workload: room size, and what every server sends each member
# (the servers hard-code the same 64-character text).
BROADCAST_CLIENTS = 1000
BROADCAST_PAYLOAD = b"b" * 64
# Seconds of echo load before counting, so connections are up and warm.
WARMUP = 0.5
# Handshakes in flight at once while the room fills: below every server's
# listen backlog (asyncio's default is 100), so no SYN is dropped and
# retried a second later.
CONNECT_CONCURRENCY = 50
# File descriptors the client and the servers need: a room of 1,000 plus
# room to spare (the servers inherit the limit from this process).
NOFILE_NEEDED = 4096
# Give up on a client run after this long beyond its planned duration.
CLIENT_TIMEOUT = 120

# RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Precomputed masked frames per payload: each connection cycles through
# them, so masks vary without a random draw per message.
_MASKED_VARIANTS = 64


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name, which may hold spaces: utime and
        # stime are the 12th and 13th (proc(5)).
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def raise_nofile_limit(wanted: int = NOFILE_NEEDED) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# -- client framing (RFC 6455 section 5) -------------------------------------


def server_frame(payload: bytes) -> bytes:
    """The unmasked text frame a server sends for a short ``payload``."""
    assert len(payload) < 126
    return bytes((0x81, len(payload))) + payload


def masked_frames(payload: bytes, count: int = _MASKED_VARIANTS) -> list[bytes]:
    """``count`` masked text frames carrying ``payload``, each with its own mask."""
    assert len(payload) < 126
    frames = []
    for _ in range(count):
        mask = random.getrandbits(32).to_bytes(4, "little")
        key = (mask * (len(payload) // 4 + 1))[: len(payload)]
        masked = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
        frames.append(
            bytes((0x81, 0x80 | len(payload))) + mask + masked.to_bytes(len(payload), "little")
        )
    return frames


# Set once the workload is over: connections closing then are expected.
_finishing = False


def fail(reason: str) -> None:
    """End the client at once: a wrong byte or a lost connection would
    otherwise leave the run waiting for messages that never come."""
    print(f"websocket bench client: {reason}", file=sys.stderr, flush=True)
    os._exit(1)


class Client(asyncio.Protocol):
    """One WebSocket client connection: handshake, then frames to ``on_frame``."""

    def __init__(self, port: int, path: str, expected: bytes) -> None:
        self.port = port
        self.path = path
        # The frame the server is expected to send most of the time.
        self.expected = expected
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.handshaking = True
        self.key = base64.b64encode(os.urandom(16))
        self.on_frame: Callable[[int, bytes], None] = lambda opcode, payload: None
        self.on_expected: Callable[[int], None] = lambda count: None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(
            b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % (self.path.encode(), self.port, self.key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not _finishing:
            fail(f"the server closed a connection: {exc}")

    def data_received(self, data: bytes) -> None:
        try:
            self._received(data)
        except Exception as e:
            fail(repr(e))

    def _received(self, data: bytes) -> None:
        if self.handshaking:
            self.buffer += data
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self.handshaking = False
            self.buffer = b""
            self._check_handshake(head)
            if not rest:
                return
            data = rest
        if not self.buffer:
            # Whole chunks of expected frames are counted with one compare.
            size = len(self.expected)
            count, extra = divmod(len(data), size)
            if not extra and data == self.expected * count:
                self.on_expected(count)
                return
        self._parse(self.buffer + data)

    def _check_handshake(self, head: bytes) -> None:
        accept = base64.b64encode(hashlib.sha1(self.key + _GUID).digest())
        status = head.split(b"\r\n", 1)[0]
        lines = head.lower().split(b"\r\n")
        if b" 101 " not in status + b" " or b"sec-websocket-accept: " + accept.lower() not in lines:
            raise ConnectionError(f"bad handshake: {head[:200]!r}")
        if any(line.startswith(b"sec-websocket-extensions:") for line in lines):
            raise ConnectionError("server negotiated an extension")
        self.opened.set_result(None)

    def _parse(self, buffer: bytes) -> None:
        pos, end = 0, len(buffer)
        while end - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            if second & 0x80:
                raise ConnectionError("masked frame from the server")
            length, header = second & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, pos + 2)
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, pos + 2)
                header = 10
            if end - pos < header + length:
                break
            if not first & 0x80:
                raise ConnectionError("fragmented frame: the servers send whole messages")
            start = pos + header
            pos = start + length
            self.on_frame(first & 0x0F, buffer[start:pos])
        self.buffer = buffer[pos:]


async def open_clients(
    port: int, path: str, count: int, expected: bytes
) -> list[tuple[asyncio.Transport, Client]]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> tuple[asyncio.Transport, Client]:
        async with gate:
            transport, client = await loop.create_connection(
                lambda: Client(port, path, expected), "127.0.0.1", port
            )
            await asyncio.wait_for(client.opened, 10)
            return transport, client

    return await asyncio.gather(*(one() for _ in range(count)))


def finish(pairs: list[tuple[asyncio.Transport, Client]]) -> None:
    global _finishing
    _finishing = True
    for transport, _ in pairs:
        transport.abort()


def unexpected(opcode: int, payload: bytes) -> None:
    raise ConnectionError(f"unexpected frame: opcode {opcode:#x}, payload {payload[:80]!r}")


# -- the two workloads --------------------------------------------------------


async def echo_load(port: int, seconds: float, server_pid: int) -> dict[str, float]:
    message = b"e" * MESSAGE_SIZE
    frames = masked_frames(message)
    reply = server_frame(message)
    counts = [0] * ECHO_CLIENTS
    pairs = await open_clients(port, "/echo", ECHO_CLIENTS, reply)

    def start(index: int, transport: asyncio.Transport, client: Client) -> None:
        turn = index

        def on_replies(count: int) -> None:
            nonlocal turn
            # One message in flight per connection: more than one reply at
            # once would mean the server echoed something twice.
            if count != 1:
                raise ConnectionError(f"{count} echoes for one message")
            counts[index] += 1
            turn += 1
            transport.write(frames[turn % _MASKED_VARIANTS])

        def on_frame(opcode: int, payload: bytes) -> None:
            if opcode != 0x1 or payload != message:
                unexpected(opcode, payload)
            on_replies(1)

        client.on_expected = on_replies
        client.on_frame = on_frame
        transport.write(frames[turn % _MASKED_VARIANTS])

    for index, (transport, client) in enumerate(pairs):
        start(index, transport, client)
    await asyncio.sleep(WARMUP)
    before, began = sum(counts), time.perf_counter()
    cpu, server_cpu = time.process_time(), process_cpu(server_pid)
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - began
    server_cpu = process_cpu(server_pid) - server_cpu
    done, cpu = sum(counts) - before, time.process_time() - cpu
    finish(pairs)
    return {
        "echo": done / elapsed,
        "echo_cpu": cpu / elapsed,
        "echo_server_us": server_cpu / done * 1e6,
        "echo_server_cpu": server_cpu / elapsed,
    }


async def broadcast_load(
    port: int, messages: int, repeats: int, server_pid: int
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    frame = server_frame(BROADCAST_PAYLOAD)
    pairs = await open_clients(port, "/broadcast", BROADCAST_CLIENTS, frame)
    control = pairs[0][1]
    control_frames = {text: masked_frames(text.encode(), 1)[0] for text in ("count",)}
    replies: asyncio.Queue[bytes] = asyncio.Queue()
    state: dict[str, Any] = {}

    def watch(client: Client) -> None:
        received = 0

        def on_expected(count: int) -> None:
            nonlocal received
            received += count
            if received == state["target"]:
                state["left"] -= 1
                if state["left"] == 0:
                    state["finished"] = time.perf_counter()
                    state["done"].set_result(None)
            elif received > state["target"]:
                raise ConnectionError("more broadcast messages than sent")

        def on_frame(opcode: int, payload: bytes) -> None:
            if opcode == 0x1 and payload == BROADCAST_PAYLOAD:
                on_expected(1)
            elif client is control and opcode == 0x1:
                replies.put_nowait(payload)
            else:
                unexpected(opcode, payload)

        client.on_expected = on_expected
        client.on_frame = on_frame

    for _, client in pairs:
        watch(client)

    # The room is full once the server has run every member's open().
    assert control.transport is not None
    for _ in range(200):
        control.transport.write(control_frames["count"])
        members = int(await asyncio.wait_for(replies.get(), 10))
        if members >= BROADCAST_CLIENTS:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"only {members} of {BROADCAST_CLIENTS} clients joined the room")

    rates, cpus, server_us, server_cpus = [], [], [], []
    sent = 0
    # The first broadcast (a tenth of the size) warms up; the rest count.
    for size in [max(1, messages // 10)] + [messages] * repeats:
        sent += size
        state.update(target=sent, left=BROADCAST_CLIENTS, done=loop.create_future())
        trigger = masked_frames(f"go {size}".encode(), 1)[0]
        cpu, server_cpu = time.process_time(), process_cpu(server_pid)
        began = time.perf_counter()
        control.transport.write(trigger)
        await asyncio.wait_for(state["done"], CLIENT_TIMEOUT)
        elapsed = state["finished"] - began
        server_cpu = process_cpu(server_pid) - server_cpu
        rates.append(BROADCAST_CLIENTS * size / elapsed)
        cpus.append((time.process_time() - cpu) / elapsed)
        server_us.append(server_cpu / (BROADCAST_CLIENTS * size) * 1e6)
        server_cpus.append(server_cpu / elapsed)
    finish(pairs)
    return {
        "broadcast": statistics.median(rates[1:]),
        "broadcast_cpu": statistics.median(cpus[1:]),
        "broadcast_server_us": statistics.median(server_us[1:]),
        "broadcast_server_cpu": statistics.median(server_cpus[1:]),
    }


def run_client(
    workload: str, port: int, amount: float, repeats: int, server_pid: int
) -> dict[str, float]:
    import uvloop

    raise_nofile_limit()
    if workload == "echo":
        return uvloop.run(echo_load(port, amount, server_pid))
    return uvloop.run(broadcast_load(port, int(amount), repeats, server_pid))


# -- the driver ---------------------------------------------------------------


def _client(
    workload: str, port: int, amount: float, repeats: int, server_pid: int
) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.websocket", "--client", workload, str(port)]
    argv += [str(amount), str(repeats), str(server_pid)]
    out = subprocess.run(
        _pinned(CLIENT_CPU, argv),
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT + amount,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{workload} client failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def measure(script: str, seconds: float, messages: int, repeats: int) -> dict[str, float]:
    """Both workloads against one fresh server process."""
    results: dict[str, float] = {}
    with server(script) as (port, pid):
        results.update(_client("echo", port, seconds, 1, pid))
        results.update(_client("broadcast", port, messages, repeats, pid))
    return results


def table(results: dict[str, dict[str, float]], rounds: int, seconds: float, messages: int) -> str:
    base = results.get("tornado")

    def ratio(name: str, key: str, inverse: bool = False) -> str:
        if not base:
            return "-"
        value = base[key] / results[name][key] if inverse else results[name][key] / base[key]
        return f"{value:.2f}x"

    rounds_text = f"median of {rounds} interleaved round{'s' if rounds > 1 else ''}"
    lines = [
        f"### WebSocket, server on core 0, client on core 1: {rounds_text}",
        "",
        f"| server | echo (msg/s, {ECHO_CLIENTS} conns, {MESSAGE_SIZE} B, {seconds:g} s) "
        f"| vs tornado | broadcast (msg/s delivered, {BROADCAST_CLIENTS:,} clients x "
        f"{messages}) | vs tornado | client CPU (echo / broadcast) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['echo']:,.0f} | {ratio(name, 'echo')} | {r['broadcast']:,.0f} "
            f"| {ratio(name, 'broadcast')} | {r['echo_cpu']:.0%} / {r['broadcast_cpu']:.0%} |"
        )
    # CPU time per message is steadier than messages/s when something
    # else shares the server's core: it counts only the server's own work.
    lines += [
        "",
        f"### Server CPU time per message (µs, user + system), {rounds_text}",
        "",
        "| server | echo (µs/msg) | vs tornado | server CPU busy | broadcast (µs/msg) "
        "| vs tornado | server CPU busy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['echo_server_us']:.1f} | {ratio(name, 'echo_server_us', True)} "
            f"| {r['echo_server_cpu']:.0%} | {r['broadcast_server_us']:.1f} "
            f"| {ratio(name, 'broadcast_server_us', True)} | {r['broadcast_server_cpu']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    import importlib.util

    quick = "--quick" in argv
    # echo seconds per round, broadcast messages per member, broadcasts per round, rounds
    seconds, messages, repeats, rounds = (2.0, 20, 3, 1) if quick else (4.0, 50, 5, 3)
    raise_nofile_limit()
    # A SIGTERM becomes SystemExit, so the servers' and clients' cleanup
    # (the ``finally`` blocks) runs as it does on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    peers = []
    for name, script, package in PEERS:
        if importlib.util.find_spec(package) is None:
            print(f"(skipped {name}: {package} is not installed)")
            continue
        peers.append((name, script))
    # Servers take turns, round after round, so that a busy moment on the
    # machine does not land on one of them only; the median is reported.
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in peers}
    for _ in range(rounds):
        for name, script in peers:
            runs[name].append(measure(script, seconds, messages, repeats))
    results = {
        name: {key: statistics.median(run[key] for run in runs[name]) for key in runs[name][0]}
        for name, _ in peers
    }
    print(table(results, rounds, seconds, messages))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        workload, port, amount, repeats, pid = sys.argv[2:7]
        print(json.dumps(run_client(workload, int(port), float(amount), int(repeats), int(pid))))
    else:
        main(sys.argv[1:])
