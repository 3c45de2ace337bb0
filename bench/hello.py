"""Hello-world requests/s: squall vs Tornado vs aiohttp in the same run.

``python -m bench hello [--quick]``: wrk -t1 -c100, server on core 0, wrk on
core 1. Peers whose server script or package is missing are skipped, with a
line saying so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from bench._harness import SERVERS, Result, measure_rounds, table

# (name shown, server script, the Python package it needs)
PEERS = [
    ("squall", "squall_hello.py", "squall"),
    ("tornado", "tornado_hello.py", "tornado"),
    ("aiohttp", "aiohttp_hello.py", "aiohttp"),
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
            f"hello world, wrk -t1 -c100 -d{seconds}s, median of {rounds} interleaved rounds",
            results,
        )
    )
