"""A real PostgreSQL server for the tests: ``postgresql_server`` fixture.

initdb into a temporary directory, then ``postgres`` in the foreground on
127.0.0.1 and a free port, trust authentication, fsync off (a throwaway
cluster). PostgreSQL refuses to run as root, so under root (CI) both run as
Debian's ``postgres`` system user, which owns the directory.
"""

from __future__ import annotations

import glob
import pwd
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import data_dir, free_port, is_root, remove_dir, stop_process, wait_until_ready

SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """Debian keeps the server binaries out of PATH, one directory per major version."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(p.split("/")[3]) if p.split("/")[3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    return None


class PostgreSQLServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.run_as: dict[str, Any] = {}
        owner = None
        if is_root():
            owner = SERVER_USER
            pwd.getpwnam(SERVER_USER)  # KeyError if Debian's package did not create it
            self.run_as = {"user": SERVER_USER, "group": SERVER_USER}
        self.base = data_dir("squall-pg-", owner)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.base,
            **self.run_as,
        )

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.base}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=60",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                **self.run_as,
            )
        wait_until_ready(self.proc, self._accepts_queries, self.log)

    def _accepts_queries(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected.
            stop_process(self.proc, signal.SIGINT)
            self.proc = None

    def restart(self) -> None:
        """Stop and start on the same port: every open connection is cut."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        remove_dir(self.base)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgreSQLServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("needs Debian's postgresql package (initdb, postgres)")
    pytest.importorskip("psycopg")
    server = PostgreSQLServer(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


__all__ = ["PostgreSQLServer", "find_bindir", "postgresql_server"]
