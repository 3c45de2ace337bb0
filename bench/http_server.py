"""HTTPServer requests/s with a plain callback: squall vs Tornado 6 vs
aiohttp (low-level server) vs uvicorn (bare ASGI) vs the ceiling (a bare
httptools + uvloop protocol), wrk -t1 -c100, in one run.

``python -m bench http_server [--quick]``
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from bench._harness import SERVERS, Result, measure_rounds, table

PEERS = [
    ("squall", "squall_callback.py", "squall"),
    ("tornado", "tornado_callback.py", "tornado"),
    ("aiohttp", "aiohttp_lowlevel.py", "aiohttp"),
    ("uvicorn", "uvicorn_asgi.py", "uvicorn"),
    ("ceiling", "ceiling.py", "httptools"),
]


def main(argv: Sequence[str]) -> None:
    seconds, rounds = (3, 1) if "--quick" in argv else (5, 3)
    peers = []
    for name, script, package in PEERS:
        if not (SERVERS / script).exists() or importlib.util.find_spec(package) is None:
            print(f"(skipped {name}: {script} or {package} is not available)")
            continue
        peers.append((name, script, ()))
    results: list[Result] = measure_rounds(peers, seconds=seconds, rounds=rounds)
    print(
        table(
            f"HTTPServer, plain callback, wrk -t1 -c100 -d{seconds}s, median of {rounds} interleaved rounds",
            results,
        )
    )
    ceiling = next((r for r in results if r.name == "ceiling"), None)
    squall = next((r for r in results if r.name == "squall"), None)
    if ceiling and squall:
        share = squall.requests_per_second / ceiling.requests_per_second
        print(f"\nsquall reaches {share:.0%} of the ceiling.")
