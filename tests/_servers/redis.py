"""A real Redis server for the tests: ``redis_server`` fixture.

Debian's ``redis-server`` in the foreground on 127.0.0.1 and a free port,
with a temporary working directory and persistence off (a throwaway
server). ``kill()`` ends it abruptly (SIGKILL: every client connection is
cut with no goodbye), ``start()`` brings it back on the same port: the
outage tests use both.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import data_dir, free_port, remove_dir, stop_process, wait_until_ready


def find_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


class RedisServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.base = data_dir("squall-redis-")
        self.log = self.base / "server.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.base),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    # 10,000-subscriber tests use one connection per process,
                    # but the benchmark peers open more.
                    "--maxclients",
                    "1000",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
            )
        wait_until_ready(self.proc, self._answers_ping, self.log)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """End the server at once, as a crash would."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)
            self.proc = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing
        answers, as with a peer lost behind a dead network link."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot stop
            stop_process(self.proc, signal.SIGTERM)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, *args: str | bytes, db: int = 0) -> bytes:
        """One command in plain RESP on a fresh connection to database
        ``db``; the raw reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            if db:
                sock.sendall(_resp("SELECT", str(db)))
                if not sock.recv(64).startswith(b"+OK"):
                    raise RuntimeError(f"redis-server refused SELECT {db}")
            sock.sendall(_resp(*args))
            return sock.recv(65536)

    def cleanup(self) -> None:
        self.stop()
        remove_dir(self.base)


def _resp(*args: str | bytes) -> bytes:
    encoded = [a.encode() if isinstance(a, str) else a for a in args]
    return f"*{len(encoded)}\r\n".encode() + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in encoded
    )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = find_binary()
    if binary is None:
        pytest.skip("needs Debian's redis-server package")
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


__all__ = ["RedisServer", "find_binary", "redis_server"]
