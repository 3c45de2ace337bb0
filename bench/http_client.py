"""HTTP client requests/s: squall (simple and curl backends) vs Tornado's
simple client vs aiohttp's ClientSession vs httpx, against one local
server, in one run.

Each client runs in its own process pinned to the load core and makes N
sequential GETs, then N concurrent GETs (at most 100 connections), to the
same server (the bare httptools "ceiling" server, so the client is the
bottleneck). ``python -m bench http_client [--quick]``
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench._harness import CLIENT_CPU, _pinned, server

# Requests per phase: the 1,000 (200 with --quick).
REQUESTS = 1000
QUICK_REQUESTS = 200
# Concurrency of the second phase: the max_clients 100.
CONCURRENCY = 100

_COMMON = """
import asyncio, sys, time
port, n, concurrency = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
url = f"http://127.0.0.1:{port}/"

def report(sequential, concurrent):
    print(f"{n / sequential:.1f} {n / concurrent:.1f}")
"""

CLIENTS: dict[str, tuple[str, str]] = {
    "squall": (
        "squall",
        """
from squall.ioloop import IOLoop
from squall.simple_httpclient import SimpleAsyncHTTPClient

async def main():
    client = SimpleAsyncHTTPClient(force_instance=True, max_clients=concurrency)
    start = time.perf_counter()
    for _ in range(n):
        await client.fetch(url)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*[client.fetch(url) for _ in range(n)])
    concurrent = time.perf_counter() - start
    client.close()
    report(sequential, concurrent)

IOLoop.current().run_sync(main)
""",
    ),
    "squall-curl": (
        "pycurl",
        """
from squall.ioloop import IOLoop
from squall.curl_httpclient import CurlAsyncHTTPClient

async def main():
    client = CurlAsyncHTTPClient(force_instance=True, max_clients=concurrency)
    start = time.perf_counter()
    for _ in range(n):
        await client.fetch(url)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*[client.fetch(url) for _ in range(n)])
    concurrent = time.perf_counter() - start
    client.close()
    report(sequential, concurrent)

IOLoop.current().run_sync(main)
""",
    ),
    "tornado": (
        "tornado",
        """
from tornado.simple_httpclient import SimpleAsyncHTTPClient

async def main():
    client = SimpleAsyncHTTPClient(force_instance=True, max_clients=concurrency)
    start = time.perf_counter()
    for _ in range(n):
        await client.fetch(url)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*[client.fetch(url) for _ in range(n)])
    concurrent = time.perf_counter() - start
    client.close()
    report(sequential, concurrent)

asyncio.run(main())
""",
    ),
    "aiohttp": (
        "aiohttp",
        """
import aiohttp

async def fetch(session):
    async with session.get(url) as response:
        await response.read()

async def main():
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        for _ in range(n):
            await fetch(session)
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(*[fetch(session) for _ in range(n)])
        concurrent = time.perf_counter() - start
    report(sequential, concurrent)

asyncio.run(main())
""",
    ),
    "httpx": (
        "httpx",
        """
import httpx

async def main():
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        start = time.perf_counter()
        for _ in range(n):
            (await client.get(url)).read()
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(*[client.get(url) for _ in range(n)])
        concurrent = time.perf_counter() - start
    report(sequential, concurrent)

asyncio.run(main())
""",
    ),
}


def run_client(name: str, port: int, n: int) -> tuple[float, float]:
    _package, code = CLIENTS[name]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    argv = _pinned(
        CLIENT_CPU, [sys.executable, "-c", _COMMON + code, str(port), str(n), str(CONCURRENCY)]
    )
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env, timeout=300)
    sequential, concurrent = out.stdout.split()
    return float(sequential), float(concurrent)


def main(argv: Sequence[str]) -> None:
    n = QUICK_REQUESTS if "--quick" in argv else REQUESTS
    results: dict[str, tuple[float, float]] = {}
    with server("ceiling.py") as (port, _pid):
        for name, (package, _code) in CLIENTS.items():
            if importlib.util.find_spec(package) is None:
                print(f"(skipped {name}: {package} is not installed)")
                continue
            run_client(name, port, max(n // 10, 10))  # warm-up (imports, caches)
            results[name] = run_client(name, port, n)
    base = results.get("tornado")
    lines = [
        f"### HTTP client, {n} GETs sequential / concurrent (max {CONCURRENCY} connections)",
        "",
        "| client | sequential req/s | vs tornado | concurrent req/s | vs tornado |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (sequential, concurrent) in results.items():
        seq_ratio = f"{sequential / base[0]:.2f}x" if base else "-"
        conc_ratio = f"{concurrent / base[1]:.2f}x" if base else "-"
        lines.append(
            f"| {name} | {sequential:,.0f} | {seq_ratio} | {concurrent:,.0f} | {conc_ratio} |"
        )
    print("\n".join(lines))
