"""Static file throughput: squall vs Tornado vs aiohttp in the same run.

``python -m bench static_files [--quick]``: requests/s for a 4 KiB file
(wrk -c100) and MB/s for a 1 MiB and a 100 MiB file (wrk -c4: a few
clients, as for downloads). Each server serves the same temporary directory
under ``/static/``; server on core 0, wrk on core 1.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench._harness import SERVERS, Result, measure, table

PEERS = [
    ("squall", "squall_static.py", "squall"),
    ("tornado", "tornado_static.py", "tornado"),
    ("aiohttp", "aiohttp_static.py", "aiohttp"),
]

# (file name, size in bytes, wrk connections)
FILES = [
    ("small.bin", 4 * 1024, 100),
    ("medium.bin", 1024 * 1024, 4),
    ("large.bin", 100 * 1024 * 1024, 4),
]


def _mb_table(title: str, results: Sequence[Result], size: int) -> str:
    base = next((r for r in results if r.name == "tornado"), None)
    lines = [
        f"### {title}",
        "",
        "| server | MB/s | requests/s | errors | vs tornado |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        mb = r.requests_per_second * size / 1e6
        ratio = f"{r.requests_per_second / base.requests_per_second:.2f}x" if base else "-"
        lines.append(
            f"| {r.name} | {mb:,.0f} | {r.requests_per_second:,.1f} | {r.errors} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    seconds = 3 if "--quick" in argv else 10
    with tempfile.TemporaryDirectory() as directory:
        for name, size, _ in FILES:
            with open(Path(directory) / name, "wb") as f:
                f.write(os.urandom(size))
        for name, size, connections in FILES:
            results: list[Result] = []
            for peer, script, package in PEERS:
                if not (SERVERS / script).exists() or importlib.util.find_spec(package) is None:
                    print(f"(skipped {peer}: {script} or {package} is not available)")
                    continue
                results.append(
                    measure(
                        peer,
                        script,
                        f"/static/{name}",
                        seconds=seconds,
                        connections=connections,
                        args=(directory,),
                    )
                )
            title = f"static {name} ({size:,} bytes), wrk -t1 -c{connections} -d{seconds}s"
            if size <= 4096:
                print(table(title, results))
            else:
                print(_mb_table(title, results, size))
            print()
