"""Blocking HTTP helpers for the WSGI tests (run on worker threads), and
starting WSGI servers in subprocesses."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
WORKTREE = HERE.parent.parent

# How long a subprocess server may take to start listening (gunicorn
# imports Django-sized stacks in a few seconds on a busy machine).
STARTUP_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(
    port: int,
    path: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.reason, r.headers, r.read())
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subprocess_env() -> dict[str, str]:
    path = os.pathsep.join([str(WORKTREE), str(HERE)])
    return dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1")


def start_server(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server subprocess and wait until it listens on ``port``."""
    proc = subprocess.Popen(
        argv,
        env=subprocess_env(),
        cwd=str(HERE),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"{argv[:4]} exited early ({proc.returncode}):\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"{argv[:4]} did not listen on {port}")


def stop_server(proc: subprocess.Popen[bytes]) -> str:
    """Stop a server subprocess; return what it printed."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return (out or b"").decode(errors="replace")


PYTHON = sys.executable
