"""The blocking API, as in 1.x: ``Connection`` (MySQL) and ``connect(url)`` (any backend).

For scripts, migrations and the seeds' style of handler. Each call runs on
the calling thread and waits for the server; inside an IOLoop use
``connect_async`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._base import Backend, Result, SyncSession, load_backend
from ._errors import ClosedError, ConfigurationError, MultipleRowsError
from ._rows import Params, Row, normalize_params
from ._urls import DatabaseURL, parse_url

__all__ = ["DEFAULT_MAX_IDLE_TIME", "Connection", "connect"]

# 1.x's default: MySQL drops connections idle for wait_timeout (8 hours by
# default), so a connection idle for 7 hours is replaced before it is used.
DEFAULT_MAX_IDLE_TIME = 7 * 3600.0


def _split_mysql_host(host: str) -> tuple[str | None, int | None, str | None]:
    """``"host"``, ``"host:port"`` or a unix socket path -> (host, port, socket)."""
    if "/" in host:
        return None, None, host
    name, sep, port = host.rpartition(":")
    if not sep:
        return host, None, None
    try:
        return name, int(port), None
    except ValueError:
        raise ConfigurationError(f"bad port in MySQL host {host!r}") from None


class Connection:
    """A blocking connection to one database.

    ``Connection(host, database, user, password)`` opens MySQL/MariaDB with
    1.x's arguments; ``connect(url)`` opens any backend. Parameters are
    passed to the driver, never formatted into the SQL: write the driver's
    placeholders (``%s`` for MySQL and PostgreSQL, ``?`` for SQLite).
    """

    def __init__(
        self,
        host: str,
        database: str,
        user: str | None = None,
        password: str | None = None,
        max_idle_time: float = DEFAULT_MAX_IDLE_TIME,
        connect_timeout: float = 0,
        time_zone: str = "+0:00",
        charset: str = "utf8",
        sql_mode: str = "TRADITIONAL",
    ) -> None:
        hostname, port, unix_socket = _split_mysql_host(host)
        url = DatabaseURL(
            "mysql", host=hostname, port=port, user=user, password=password, database=database
        )
        options = {
            "unix_socket": unix_socket,
            "connect_timeout": connect_timeout,
            "time_zone": time_zone,
            "charset": charset,
            "sql_mode": sql_mode,
        }
        self._setup(url, max_idle_time, options)

    def _setup(self, url: DatabaseURL, max_idle_time: float, options: dict[str, Any]) -> None:
        self.url = url
        self.max_idle_time = float(max_idle_time)
        self._backend: Backend = load_backend(url.backend)
        self._options = options
        self._session: SyncSession | None = None
        self._last_use = time.monotonic()
        self._closed = False
        self.reconnect()

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def placeholder(self) -> str:
        """The driver's positional placeholder: ``"%s"`` or ``"?"``."""
        return self._backend.placeholder

    def reconnect(self) -> None:
        """Close the current connection (if any) and open a new one."""
        self._drop()
        self._session = self._backend.open_sync(self.url, **self._options)
        self._last_use = time.monotonic()
        self._closed = False

    def close(self) -> None:
        """Close the connection; later calls raise ``ClosedError``."""
        self._drop()
        self._closed = True

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def _ready(self) -> SyncSession:
        session = self._session
        now = time.monotonic()
        if session is None or now - self._last_use > self.max_idle_time:
            if self._closed:
                raise ClosedError("this database connection is closed")
            self.reconnect()
            session = self._session
            assert session is not None
        self._last_use = now
        return session

    def _run(self, sql: str, params: Params) -> Result:
        session = self._ready()
        try:
            return session.run(sql, params)
        except Exception:
            self._forget_if_broken(session)
            raise

    def _fetch(self, sql: str, params: Params) -> list[Row]:
        session = self._ready()
        try:
            return session.fetch(sql, params)
        except Exception:
            self._forget_if_broken(session)
            raise

    def _run_many(self, sql: str, seq: Sequence[Params]) -> Result:
        session = self._ready()
        try:
            return session.run_many(sql, list(seq))
        except Exception:
            self._forget_if_broken(session)
            raise

    def _forget_if_broken(self, session: SyncSession) -> None:
        # A server restart or a network cut: the error goes to the caller,
        # and the next call opens a new connection instead of failing again.
        if session.broken() and session is self._session:
            self._session = None
            try:
                session.close()
            except Exception:  # already gone
                pass

    def query(self, sql: str, *params: Any, **named: Any) -> list[Row]:
        """All rows the statement returns."""
        return self._fetch(sql, normalize_params(params, named))

    def get(self, sql: str, *params: Any, **named: Any) -> Row | None:
        """The only row, or None; more than one row raises ``MultipleRowsError``."""
        rows = self._fetch(sql, normalize_params(params, named))
        if len(rows) > 1:
            raise MultipleRowsError(
                f"get() expects at most one row, the statement returned {len(rows)}"
            )
        return rows[0] if rows else None

    def iter(self, sql: str, *params: Any, **named: Any) -> Iterator[Row]:
        """Rows one at a time, read from the server as they are used.

        PostgreSQL and MySQL stream them (nothing is buffered whole); the
        connection runs nothing else until the iterator ends or is closed.
        """
        return self._ready().stream(sql, normalize_params(params, named))

    def execute(self, sql: str, *params: Any, **named: Any) -> int | None:
        """Run a statement; the id of the row it inserted (see ``execute_lastrowid``)."""
        return self.execute_lastrowid(sql, *params, **named)

    def execute_lastrowid(self, sql: str, *params: Any, **named: Any) -> int | None:
        """The id of the inserted row.

        PostgreSQL has no implicit row id: write ``INSERT ... RETURNING id``
        and the first column of the first returned row is given back.
        """
        return self._run(sql, normalize_params(params, named)).lastrowid

    def execute_rowcount(self, sql: str, *params: Any, **named: Any) -> int:
        """The number of rows the statement changed."""
        return self._run(sql, normalize_params(params, named)).rowcount

    def executemany(self, sql: str, seq: Sequence[Sequence[Any] | Mapping[str, Any]]) -> int | None:
        """Run a statement once per parameter set; the last inserted id."""
        return self.executemany_lastrowid(sql, seq)

    def executemany_lastrowid(
        self, sql: str, seq: Sequence[Sequence[Any] | Mapping[str, Any]]
    ) -> int | None:
        return self._run_many(sql, seq).lastrowid

    def executemany_rowcount(
        self, sql: str, seq: Sequence[Sequence[Any] | Mapping[str, Any]]
    ) -> int:
        return self._run_many(sql, seq).rowcount


def connect(url: str, *, max_idle_time: float = DEFAULT_MAX_IDLE_TIME) -> Connection:
    """A blocking ``Connection`` to the database the URL names.

    ``sqlite:///blog.db``, ``sqlite://`` (in memory),
    ``postgresql://user:password@host:5432/db``, ``mysql://user:password@host/db``.
    """
    parsed = parse_url(url)
    connection = Connection.__new__(Connection)
    connection._setup(parsed, max_idle_time, {})
    return connection
