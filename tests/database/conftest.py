"""One suite, three backends: every test taking ``target`` runs against SQLite
(a file in tmp_path), a real PostgreSQL and a real MariaDB server started by
the session fixtures in tests/_servers (skipped only where the binaries are
absent; CI installs them)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves it out
    sys.path.insert(0, str(ROOT))

from squall import database  # noqa: E402

BACKENDS = ["sqlite", "postgresql", "mysql"]

# Each dialect's spelling of what the shared tests need.
ID_COLUMN = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
}
# A statement that runs for far longer than any test waits.
ENDLESS = {
    "sqlite": "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
    "SELECT count(*) AS c FROM n",
    "postgresql": "SELECT pg_sleep(600) AS c",
    "mysql": "SELECT SLEEP(600) AS c",
}
# Something that differs between two server sessions.
SESSION_ID = {
    "postgresql": "SELECT pg_backend_pid() AS id",
    "mysql": "SELECT CONNECTION_ID() AS id",
}


@dataclasses.dataclass
class Target:
    backend: str
    url: str
    server: Any  # the PostgreSQLServer / MariaDBServer, None for SQLite

    @property
    def ph(self) -> str:
        return "?" if self.backend == "sqlite" else "%s"

    def insert_sql(self) -> str:
        ph = self.ph
        sql = f"INSERT INTO entries (slug, title, body) VALUES ({ph}, {ph}, {ph})"
        # PostgreSQL has no implicit last row id.
        return sql + " RETURNING id" if self.backend == "postgresql" else sql

    @property
    def endless(self) -> str:
        return ENDLESS[self.backend]

    def running_endless(self) -> int:
        """How many copies of ENDLESS the server is running now (not SQLite)."""
        admin = database.connect(self.url)
        try:
            if self.backend == "postgresql":
                row = admin.get(
                    "SELECT count(*) AS n FROM pg_stat_activity "
                    "WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(600)%%'"
                )
            else:
                row = admin.get(
                    "SELECT count(*) AS n FROM information_schema.processlist "
                    "WHERE info LIKE 'SELECT SLEEP(600)%%'"
                )
            assert row is not None
            return int(row.n)
        finally:
            admin.close()


SCHEMA = """CREATE TABLE entries (
    {id},
    slug VARCHAR(100) NOT NULL UNIQUE,
    title VARCHAR(200) NOT NULL,
    body TEXT
)"""


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    backend = request.param
    if backend == "sqlite":
        found = Target("sqlite", f"sqlite:///{tmp_path / 'test.db'}", None)
    else:
        server = request.getfixturevalue(
            "postgresql_server" if backend == "postgresql" else "mariadb_server"
        )
        found = Target(backend, server.url, server)
    setup = database.connect(found.url)
    try:
        setup.execute("DROP TABLE IF EXISTS entries")
        setup.execute(SCHEMA.format(id=ID_COLUMN[backend]))
    finally:
        setup.close()
    yield found


@pytest.fixture
def server_target(target: Target) -> Target:
    """Only the backends with a server to restart or kill."""
    if target.server is None:
        pytest.skip("SQLite has no server")
    return target
