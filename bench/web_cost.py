"""Per-request cost of a web hello world, in process: squall vs aiohttp.

``python -m bench web_cost [--quick] [--instructions]``

Both frameworks get the same keep-alive request (wrk's: one Host header)
on the same recording transport, one request at a time on a uvloop loop,
waiting for each response to be written: no sockets and no kernel, so what
is left is each framework's own Python (and C) per request. squall answers
inside ``data_received``; aiohttp wakes a task, and that loop iteration is
part of its cost, as it is in production.

Wall-clock time on a machine shared with other work is noisy, so
``--instructions`` also counts the CPU instructions per request under
valgrind (callgrind): the difference between a short and a long run,
divided by the extra requests. That count does not move with background
load, which makes it the number to compare changes by.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
BODY = b"Hello, world"


class RecordingTransport(asyncio.Transport):
    """Counts writes and resolves ``waiter`` on each: the response is out."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.last = b""
        self.waiter: asyncio.Future[None] | None = None

    def write(self, data: Any) -> None:
        self.writes += 1
        self.last = bytes(data)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def writelines(self, data: Any) -> None:
        self.write(b"".join(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        info = {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 8080)}
        return info.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def squall_protocol() -> Any:
    import squall.web
    from squall.httpserver import HTTPServer

    class MainHandler(squall.web.RequestHandler):
        def get(self) -> None:
            self.write("Hello, world")

    return HTTPServer(squall.web.Application([(r"/", MainHandler)]))._make_protocol()


async def aiohttp_protocol() -> Any:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, world")

    app = web.Application()
    app.router.add_get("/", hello)
    # As bench/servers/aiohttp_hello.py runs it: no access log.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    return runner.server()


async def per_request(name: str, n: int) -> float:
    protocol = squall_protocol() if name == "squall" else await aiohttp_protocol()
    transport = RecordingTransport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    for _ in range(n):
        transport.waiter = loop.create_future()
        protocol.data_received(REQUEST)
        await transport.waiter
    elapsed = time.perf_counter() - start
    if transport.writes < n or not transport.last.endswith(BODY):
        raise RuntimeError(f"{name} did not answer every request: {transport.last!r}")
    return elapsed / n


def run(name: str, n: int, rounds: int) -> float:
    """The best of ``rounds`` runs of ``n`` requests, in seconds per request."""
    import uvloop

    loop = uvloop.new_event_loop()
    try:
        return min(loop.run_until_complete(per_request(name, n)) for _ in range(rounds))
    finally:
        loop.close()


def instructions(name: str, short: int = 1000, long: int = 4000) -> int | None:
    """CPU instructions per request under callgrind, or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None

    def total(n: int) -> int:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                "-m",
                "bench.web_cost",
                "--child",
                name,
                str(n),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        match = re.search(r"Collected : (\d+)", out)
        if match is None:
            raise RuntimeError(f"no instruction count from callgrind:\n{out[-2000:]}")
        return int(match.group(1))

    return (total(long) - total(short)) // (long - short)


PEERS = ("squall", "aiohttp")


def main(argv: Sequence[str]) -> None:
    if "--child" in argv:  # one run under valgrind, started by instructions()
        at = list(argv).index("--child")
        run(argv[at + 1], int(argv[at + 2]), 1)
        return
    quick = "--quick" in argv
    n, rounds = (5_000, 3) if quick else (20_000, 7)
    times = {name: run(name, n, rounds) for name in PEERS}
    counts = {name: instructions(name) for name in PEERS} if "--instructions" in argv else {}
    print(f"### web hello world, in process, best of {rounds} x {n:,} requests")
    print()
    print("| framework | us per request | vs aiohttp | instructions per request | vs aiohttp |")
    print("|---|---:|---:|---:|---:|")
    for name in PEERS:
        count = counts.get(name)
        base = counts.get("aiohttp")
        count_cells = f"{count:,} | {count / base:.2f}x" if count is not None and base else "- | -"
        print(
            f"| {name} | {times[name] * 1e6:.2f} | {times[name] / times['aiohttp']:.2f}x "
            f"| {count_cells} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
