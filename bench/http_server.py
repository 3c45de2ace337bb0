"""HTTPServer requests/s with a plain callback: squall vs Tornado 6 vs
aiohttp (low-level server) vs uvicorn (bare ASGI) vs the ceiling (a bare
httptools + uvloop protocol), wrk -t1 -c100, in one run.

``python -m bench http_server [--quick]``
"""

from __future__ import annotations

from collections.abc import Sequence

from bench._harness import run_available_peers

PEERS = [
    ("squall", "squall_callback.py", "squall"),
    ("tornado", "tornado_callback.py", "tornado"),
    ("aiohttp", "aiohttp_lowlevel.py", "aiohttp"),
    ("uvicorn", "uvicorn_asgi.py", "uvicorn"),
    ("ceiling", "ceiling.py", "httptools"),
]


def main(argv: Sequence[str]) -> None:
    results = run_available_peers("HTTPServer, plain callback", PEERS, argv)
    by_name = {r.name: r for r in results}
    if "ceiling" in by_name and "squall" in by_name:
        share = by_name["squall"].requests_per_second / by_name["ceiling"].requests_per_second
        print(f"\nsquall reaches {share:.0%} of the ceiling.")
