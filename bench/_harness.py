"""What every HTTP benchmark shares: start a server pinned to one core, load
it with wrk pinned to the other, read requests/s, print ratios.

Each server is a separate process started from ``bench/servers/`` with the
port as its only argument, so that squall, Tornado and aiohttp run the same
way and never share an interpreter.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVERS = Path(__file__).parent / "servers"

# Core 0 runs the server, core 1 the load generator (this machine has two).
SERVER_CPU = "0"
CLIENT_CPU = "1"

# How long a server may take to start listening before we give up.
STARTUP_TIMEOUT = 20.0


@dataclass
class Result:
    name: str
    requests_per_second: float
    latency_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], timeout: float = STARTUP_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def _pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    if shutil.which("taskset"):
        return ["taskset", "-c", cpu, *argv]
    return list(argv)


@contextlib.contextmanager
def server(script: str, *args: str) -> Iterator[tuple[int, int]]:
    """Run ``bench/servers/<script>`` on a free port; yield (port, pid)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    argv = _pinned(SERVER_CPU, [sys.executable, str(SERVERS / script), str(port), *args])
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_LAT = re.compile(r"Latency\s+([\d.]+)(us|ms|s)")
_ERRS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*?(\d+)")


def wrk(
    url: str, *, seconds: int = 10, connections: int = 100, threads: int = 1
) -> tuple[float, float, int]:
    """(requests/s, mean latency in ms, error count) from one wrk run."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    argv = _pinned(
        CLIENT_CPU,
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
    )
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(_RPS.search(out).group(1))  # type: ignore[union-attr]
    lat_match = _LAT.search(out)
    latency = 0.0
    if lat_match:
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[lat_match.group(2)]
        latency = float(lat_match.group(1)) * scale
    errors = sum(int(g) for m in _ERRS.finditer(out) for g in m.groups() if g)
    return rps, latency, errors


def measure(
    name: str,
    script: str,
    path: str = "/",
    *,
    seconds: int = 10,
    connections: int = 100,
    args: Sequence[str] = (),
) -> Result:
    with server(script, *args) as (port, _):
        url = f"http://127.0.0.1:{port}{path}"
        wrk(url, seconds=2, connections=connections)  # warm-up
        rps, latency, errors = wrk(url, seconds=seconds, connections=connections)
    return Result(name, rps, latency, errors)


def measure_rounds(
    peers: Sequence[tuple[str, str, Sequence[str]]],
    path: str = "/",
    *,
    seconds: int = 3,
    rounds: int = 3,
    connections: int = 100,
) -> list[Result]:
    """Each peer ``(name, script, args)`` measured ``rounds`` times, the
    peers taking turns; the median round per peer is reported. Taking turns
    spreads any background load over every peer instead of one."""
    runs: dict[str, list[Result]] = {name: [] for name, _, _ in peers}
    for _ in range(rounds):
        for name, script, args in peers:
            runs[name].append(
                measure(name, script, path, seconds=seconds, connections=connections, args=args)
            )
    results = []
    for name, _, _ in peers:
        ordered = sorted(runs[name], key=lambda r: r.requests_per_second)
        results.append(ordered[len(ordered) // 2])
    return results


def table(title: str, results: Sequence[Result], baseline: str = "tornado") -> str:
    """A markdown table with each result's ratio to ``baseline``."""
    base = next((r for r in results if r.name == baseline), None)
    lines = [
        f"### {title}",
        "",
        "| server | requests/s | mean latency (ms) | errors | vs " + baseline + " |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r.requests_per_second / base.requests_per_second:.2f}x" if base else "-"
        lines.append(
            f"| {r.name} | {r.requests_per_second:,.0f} | {r.latency_ms:.2f} | {r.errors} | {ratio} |"
        )
    return "\n".join(lines)


def run_available_peers(
    title: str, peers: Sequence[tuple[str, str, str]], argv: Sequence[str]
) -> list[Result]:
    """Measure the peers ``(name, server script, package it needs)`` that
    are installed, taking turns; print and return the table's results.

    ``--quick`` in ``argv``: one 3 s round instead of three 5 s rounds;
    ``--rounds=N``: N rounds (more rounds, steadier medians on a busy machine).
    """
    import importlib.util

    seconds, rounds = (3, 1) if "--quick" in argv else (5, 3)
    for arg in argv:
        if arg.startswith("--rounds="):
            rounds = int(arg.split("=", 1)[1])
    runnable = []
    for name, script, package in peers:
        if not (SERVERS / script).exists() or importlib.util.find_spec(package) is None:
            print(f"(skipped {name}: {script} or {package} is not available)")
            continue
        runnable.append((name, script, ()))
    results = measure_rounds(runnable, seconds=seconds, rounds=rounds)
    heading = f"{title}, wrk -t1 -c100 -d{seconds}s, median of {rounds} interleaved rounds"
    print(table(heading, results))
    return results
