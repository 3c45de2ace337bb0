"""Memory per idle keep-alive connection: squall vs Tornado (and aiohttp).

Each server gets N connections that each make one request and then sit
idle; the server's resident memory (VmRSS) is read before and after.

``python -m bench idle_memory [--quick]``
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from pathlib import Path

from bench._harness import server

PEERS = [
    ("squall", "squall_callback.py"),
    ("tornado", "tornado_callback.py"),
    ("aiohttp", "aiohttp_lowlevel.py"),
]
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(script: str, n: int) -> float:
    with server(script) as (port, pid):
        time.sleep(0.5)
        before = rss_kib(pid)
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(REQUEST)
                socks.append(s)
            for s in socks:
                assert s.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(0.5)
            after = rss_kib(pid)
        finally:
            for s in socks:
                s.close()
    return (after - before) / n


def main(argv: Sequence[str]) -> None:
    n = 500 if "--quick" in argv else 2000
    print(f"### Memory per idle keep-alive connection ({n} connections, VmRSS delta)\n")
    print("| server | KiB per connection |")
    print("|---|---:|")
    for name, script in PEERS:
        print(f"| {name} | {measure(script, n):.1f} |", flush=True)
