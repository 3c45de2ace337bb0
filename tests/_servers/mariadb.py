"""A real MariaDB server for the tests: ``mariadb_server`` fixture.

mariadb-install-db into a temporary directory, then ``mariadbd`` on
127.0.0.1 and a free port with small buffers and no durability (a throwaway
server). Under root (CI) it runs with ``--user=root``, which mariadbd
otherwise refuses. A ``squall`` account with a password is created, so the
tests log in over TCP as an application would.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator

import pytest

from . import data_dir, free_port, is_root, remove_dir, stop_process, wait_until_ready

USER = "squall"
PASSWORD = "squall-test-pw"
DATABASE = "squall_test"


def find_binaries() -> tuple[str, str] | None:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if server and install:
        return server, install
    return None


class MariaDBServer:
    def __init__(self, server: str, install: str) -> None:
        self.server_bin = server
        self.install_bin = install
        self.base = data_dir("squall-mariadb-")
        self.data = self.base / "data"
        self.socket = self.base / "mariadb.sock"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.user_flag = ["--user=root"] if is_root() else []

    @property
    def url(self) -> str:
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def init(self) -> None:
        subprocess.run(
            [
                self.install_bin,
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.user_flag,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.base,
        )

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.server_bin,
                    "--no-defaults",
                    f"--datadir={self.data}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.socket}",
                    f"--pid-file={self.base / 'mariadb.pid'}",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-log-file-size=8M",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--skip-innodb-doublewrite",
                    "--max-connections=60",
                    *self.user_flag,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
            )
        wait_until_ready(self.proc, self._accepts_root, self.log)

    def _root(self) -> object:
        import pymysql

        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            password="",
            connect_timeout=2,
            autocommit=True,
        )

    def _accepts_root(self) -> bool:
        # A plain socket first: PyMySQL leaks its socket when a connect fails.
        # The server speaks first (its handshake packet) once it is ready.
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            try:
                probe.connect(str(self.socket))
                return bool(probe.recv(4))
            except OSError:
                return False

    def create_account(self) -> None:
        conn = self._root()
        try:
            with conn.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4")
                cursor.execute(
                    f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'"
                )
                # PROCESS, SUPER-free: KILL QUERY on one's own threads needs nothing more.
                cursor.execute(f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO '{USER}'@'127.0.0.1'")
        finally:
            conn.close()  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM)  # a clean shutdown
            self.proc = None

    def restart(self) -> None:
        """Stop and start on the same port: every open connection is cut."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        remove_dir(self.base)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    binaries = find_binaries()
    if binaries is None:
        pytest.skip("needs Debian's mariadb-server package (mariadbd, mariadb-install-db)")
    pytest.importorskip("pymysql")
    server = MariaDBServer(*binaries)
    try:
        server.init()
        server.start()
        server.create_account()
        yield server
    finally:
        server.cleanup()


__all__ = ["MariaDBServer", "find_binaries", "mariadb_server"]
