"""Hello-world requests/s: squall vs Tornado vs aiohttp in the same run.

``python -m bench hello [--quick]``: wrk -t1 -c100, server on core 0, wrk on
core 1. Peers whose server script or package is missing are skipped, with a
line saying so.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench._harness import run_available_peers

# (name shown, server script, the Python package it needs)
PEERS = [
    ("squall", "squall_hello.py", "squall"),
    ("tornado", "tornado_hello.py", "tornado"),
    ("aiohttp", "aiohttp_hello.py", "aiohttp"),
]


def main(argv: Sequence[str]) -> None:
    run_available_peers("hello world", PEERS, argv)
