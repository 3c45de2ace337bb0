"""squall.database: SQL databases, blocking as in 1.x and asynchronous for handlers.

Blocking (scripts, the seeds' style)::

    db = database.Connection("127.0.0.1:3306", "blog", user="blog", password="...")
    db = database.connect("sqlite:///blog.db")
    for entry in db.query("SELECT * FROM entries ORDER BY published DESC"):
        print(entry.title)

Asynchronous (in handlers; a pool of connections)::

    db = await database.connect_async("postgresql://blog:pw@127.0.0.1/blog")
    entry = await db.get("SELECT * FROM entries WHERE slug = %s", slug)
    async with db.transaction() as tx:
        await tx.execute("UPDATE entries SET title = %s WHERE id = %s", title, entry.id)

Backends: SQLite (standard library; ``sqlite:///path`` or ``sqlite://`` in
memory), PostgreSQL (psycopg 3: ``pip install 'squall[postgresql]'``) and
MySQL/MariaDB (aiomysql and PyMySQL: ``pip install 'squall[mysql]'``).
Parameters always travel separately from the SQL, in the driver's own
placeholders: ``%s`` for PostgreSQL and MySQL, ``?`` for SQLite.
See docs/database.md.
"""

from ._async import (
    DEFAULT_ACQUIRE_TIMEOUT,
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    ITER_BATCH_SIZE,
    AsyncDatabase,
    AsyncRowIterator,
    Transaction,
    connect_async,
)
from ._blocking import DEFAULT_MAX_IDLE_TIME, Connection, connect
from ._errors import (
    ClosedError,
    ConfigurationError,
    ConnectionLostError,
    DatabaseError,
    MultipleRowsError,
    PoolTimeoutError,
    QueryTimeoutError,
)
from ._pool import CANCEL_GRACE, LIVENESS_CHECK_AFTER
from ._rows import Row
from ._urls import DatabaseURL, parse_url

__all__ = [
    "CANCEL_GRACE",
    "DEFAULT_ACQUIRE_TIMEOUT",
    "DEFAULT_MAX_IDLE_TIME",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MIN_SIZE",
    "ITER_BATCH_SIZE",
    "LIVENESS_CHECK_AFTER",
    "AsyncDatabase",
    "AsyncRowIterator",
    "ClosedError",
    "ConfigurationError",
    "Connection",
    "ConnectionLostError",
    "DatabaseError",
    "DatabaseURL",
    "MultipleRowsError",
    "PoolTimeoutError",
    "QueryTimeoutError",
    "Row",
    "Transaction",
    "connect",
    "connect_async",
    "parse_url",
]
