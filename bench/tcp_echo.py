"""TCP echo: squall's IOStream + TCPServer vs Tornado's, in the same run.

``python -m bench.tcp_echo [--quick] [--all]`` (or ``python -m bench tcp_echo``).

Each server is the same few lines (read up to 64 KiB with ``partial=True``,
write it back, await the write) run in its own process pinned to core 0;
the load comes from one client process pinned to core 1, a raw asyncio
protocol on uvloop, identical for every server. Two workloads:

- throughput: one connection, the client keeps 256 KiB writes flowing and
  counts the bytes echoed back (MB/s);
- round trips: N connections, each sending a 64-byte message and waiting
  for its echo before sending the next (messages/s).

Each server runs with its own default loop: uvloop for squall, asyncio's
for Tornado (``--all`` adds Tornado on uvloop). The servers take turns for
three rounds and the median is reported; about 30 s in all (``--quick``:
one short round).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench._harness import CLIENT_CPU, SERVER_CPU, free_port, wait_for_port

ROOT = Path(__file__).parent.parent

# The largest read each server asks for: Tornado's default read_chunk_size.
READ_SIZE = 65536
# What the throughput client writes at a time.
WRITE_SIZE = 256 * 1024
# Round-trip workload: message size and concurrent connections.
MESSAGE_SIZE = 64
CONNECTIONS = 50
# Seconds of load before measuring, so that connections are up and warm.
WARMUP = 0.5


# -- servers (run in a subprocess: ``--serve NAME PORT``) ----------------------


def serve_squall(port: int) -> None:
    from squall.ioloop import IOLoop
    from squall.iostream import StreamClosedError
    from squall.tcpserver import TCPServer

    class Echo(TCPServer):
        async def handle_stream(self, stream, address):  # type: ignore[no-untyped-def]
            try:
                while True:
                    data = await stream.read_bytes(READ_SIZE, partial=True)
                    await stream.write(data)
            except StreamClosedError:
                pass

    Echo().listen(port, "127.0.0.1")
    IOLoop.current().start()


def serve_tornado(port: int, use_uvloop: bool = False) -> None:
    import asyncio

    from tornado.iostream import StreamClosedError
    from tornado.tcpserver import TCPServer

    class Echo(TCPServer):
        async def handle_stream(self, stream, address):  # type: ignore[no-untyped-def]
            try:
                while True:
                    data = await stream.read_bytes(READ_SIZE, partial=True)
                    await stream.write(data)
            except StreamClosedError:
                pass

    async def main() -> None:
        Echo().listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    if use_uvloop:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


SERVERS = {
    "squall": lambda port: serve_squall(port),
    "tornado": lambda port: serve_tornado(port),
    "tornado+uvloop": lambda port: serve_tornado(port, use_uvloop=True),
}


# -- the load client (run in a subprocess: ``--client WORKLOAD PORT SECONDS``) --


def run_client(workload: str, port: int, seconds: float) -> dict[str, float]:
    import asyncio

    import uvloop

    class Pump(asyncio.Protocol):
        """Keeps the connection's send buffer full; counts what comes back."""

        def __init__(self) -> None:
            self.chunk = b"x" * WRITE_SIZE
            self.received = 0
            self.paused = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.fill()

        def fill(self) -> None:
            while not self.paused and not self.transport.is_closing():
                self.transport.write(self.chunk)

        def pause_writing(self) -> None:
            self.paused = True

        def resume_writing(self) -> None:
            self.paused = False
            self.fill()

        def data_received(self, data: bytes) -> None:
            self.received += len(data)

    class PingPong(asyncio.Protocol):
        """Sends a message, waits for all of its echo, sends the next."""

        def __init__(self) -> None:
            self.message = b"m" * MESSAGE_SIZE
            self.pending = 0
            self.count = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            transport.write(self.message)  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            self.pending += len(data)
            while self.pending >= MESSAGE_SIZE:
                self.pending -= MESSAGE_SIZE
                self.count += 1
                self.transport.write(self.message)

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        if workload == "throughput":
            transport, pump = await loop.create_connection(Pump, "127.0.0.1", port)
            await asyncio.sleep(WARMUP)
            start, before = time.perf_counter(), pump.received
            await asyncio.sleep(seconds)
            elapsed, moved = time.perf_counter() - start, pump.received - before
            transport.close()
            return {"mb_per_s": moved / elapsed / 1e6}
        pairs = [
            await loop.create_connection(PingPong, "127.0.0.1", port) for _ in range(CONNECTIONS)
        ]
        await asyncio.sleep(WARMUP)
        start, before = time.perf_counter(), sum(p.count for _, p in pairs)
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - start
        done = sum(p.count for _, p in pairs) - before
        for transport, _ in pairs:
            transport.close()
        return {"msgs_per_s": done / elapsed}

    return uvloop.run(main())


# -- the driver ---------------------------------------------------------------------


def _pinned(cpu: str, argv: list[str]) -> list[str]:
    if shutil.which("taskset"):
        return ["taskset", "-c", cpu, *argv]
    return argv


def _self(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.tcp_echo", *args]


def measure(name: str, seconds: float) -> dict[str, float]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        _pinned(SERVER_CPU, _self("--serve", name, str(port))),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, float] = {}
    try:
        wait_for_port(port, server)
        for workload in ("throughput", "roundtrip"):
            out = subprocess.run(
                _pinned(CLIENT_CPU, _self("--client", workload, str(port), str(seconds))),
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 30,
            ).stdout
            results.update(json.loads(out))
    finally:
        server.terminate()
        server.wait(10)
    return results


def table(seconds: float, rounds: int, results: dict[str, dict[str, float]]) -> str:
    base = results.get("tornado")
    lines = [
        f"### TCP echo, server on core 0, client on core 1: median of {rounds} rounds "
        f"of {seconds:g}s per workload",
        "",
        "| server | throughput (MB/s, 1 conn, 256 KiB writes) | vs tornado "
        f"| round trips (msg/s, {CONNECTIONS} conns, {MESSAGE_SIZE} B) | vs tornado |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        mb_ratio = f"{r['mb_per_s'] / base['mb_per_s']:.2f}x" if base else "-"
        msg_ratio = f"{r['msgs_per_s'] / base['msgs_per_s']:.2f}x" if base else "-"
        lines.append(
            f"| {name} | {r['mb_per_s']:,.0f} | {mb_ratio} | {r['msgs_per_s']:,.0f} | {msg_ratio} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    quick = "--quick" in argv
    seconds, rounds = (1.0, 1) if quick else (1.5, 3)
    names = ["squall", "tornado"] + (["tornado+uvloop"] if "--all" in argv else [])
    # Servers take turns, round after round, so that a busy moment on the
    # machine does not land on one of them only; the median is reported.
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            runs[name].append(measure(name, seconds))
    results = {
        name: {key: statistics.median(run[key] for run in runs[name]) for key in runs[name][0]}
        for name in names
    }
    print(table(seconds, rounds, results))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        SERVERS[sys.argv[2]](int(sys.argv[3]))
    elif sys.argv[1:2] == ["--client"]:
        print(json.dumps(run_client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
    else:
        main(sys.argv[1:])
