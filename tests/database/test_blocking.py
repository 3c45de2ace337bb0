"""The 1.x blocking API against each backend."""

from __future__ import annotations

import pytest
from conftest import SESSION_ID, Target

from squall import database


@pytest.fixture
def db(target: Target):
    connection = database.connect(target.url)
    yield connection
    connection.close()


def add(db: database.Connection, target: Target, slug: str, title: str = "t", body: str = "b"):
    return db.execute(target.insert_sql(), slug, title, body)


def test_query_get_and_rows_with_attribute_access(db: database.Connection, target: Target) -> None:
    first = add(db, target, "first", "First post", "Hello")
    second = add(db, target, "second", "Second post", None)
    assert isinstance(first, int) and isinstance(second, int) and second > first
    rows = db.query("SELECT id, slug, title, body FROM entries ORDER BY id")
    assert [r.slug for r in rows] == ["first", "second"]
    assert rows[0]["title"] == rows[0].title == "First post"
    assert isinstance(rows[0], dict) and isinstance(rows[0], database.Row)
    assert rows[1].body is None
    with pytest.raises(AttributeError, match="no column 'nope'"):
        _ = rows[0].nope
    entry = db.get(f"SELECT * FROM entries WHERE id = {target.ph}", second)
    assert entry is not None and entry.slug == "second"
    assert db.get(f"SELECT * FROM entries WHERE slug = {target.ph}", "missing") is None
    assert db.query(f"SELECT * FROM entries WHERE slug = {target.ph}", "missing") == []
    assert db.backend == target.backend and db.placeholder == target.ph


def test_get_with_two_rows_raises(db: database.Connection, target: Target) -> None:
    add(db, target, "a")
    add(db, target, "b")
    with pytest.raises(database.MultipleRowsError, match="returned 2"):
        db.get("SELECT * FROM entries")


def test_rowcount_and_executemany(db: database.Connection, target: Target) -> None:
    ph = target.ph
    sql = f"INSERT INTO entries (slug, title, body) VALUES ({ph}, {ph}, {ph})"
    assert db.executemany_rowcount(sql, [("a", "A", "x"), ("b", "B", "y"), ("c", "C", "z")]) == 3
    changed = db.execute_rowcount(f"UPDATE entries SET body = {ph} WHERE slug <> {ph}", "new", "a")
    assert changed == 2
    assert db.execute_rowcount(f"DELETE FROM entries WHERE slug = {ph}", "nothing") == 0
    last = db.executemany(sql, [("d", "D", None), ("e", "E", None)])
    if target.backend != "postgresql":
        # MySQL reports a multi-row insert's first id (LAST_INSERT_ID's rule).
        slug = "d" if target.backend == "mysql" else "e"
        row = db.get(f"SELECT id FROM entries WHERE slug = {ph}", slug)
        assert row is not None and last == row.id
    assert [r.slug for r in db.query("SELECT slug FROM entries ORDER BY slug")] == list("abcde")


def test_iter_streams_rows_and_can_stop_early(db: database.Connection, target: Target) -> None:
    ph = target.ph
    sql = f"INSERT INTO entries (slug, title, body) VALUES ({ph}, {ph}, {ph})"
    db.executemany(sql, [(f"s{i:03}", f"T{i}", None) for i in range(250)])
    rows = db.iter("SELECT slug FROM entries ORDER BY slug")
    assert [next(rows).slug for _ in range(3)] == ["s000", "s001", "s002"]
    rows.close()  # type: ignore[attr-defined]
    # The connection is free again, with nothing left over from the stream.
    assert len(db.query("SELECT id FROM entries")) == 250
    assert sum(1 for _ in db.iter("SELECT * FROM entries")) == 250


def test_named_parameters(db: database.Connection, target: Target) -> None:
    if target.backend == "sqlite":
        sql = "INSERT INTO entries (slug, title, body) VALUES (:slug, :title, :body)"
        where = "SELECT * FROM entries WHERE slug = :slug"
    else:
        sql = "INSERT INTO entries (slug, title, body) VALUES (%(slug)s, %(title)s, %(body)s)"
        where = "SELECT * FROM entries WHERE slug = %(slug)s"
    db.execute(sql, slug="named", title="N", body="x")
    db.execute(sql, {"slug": "mapping", "title": "M", "body": "y"})
    assert db.get(where, slug="named").title == "N"  # type: ignore[union-attr]
    assert db.get(where, {"slug": "mapping"}).title == "M"  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="not both"):
        db.query(where, "x", slug="y")


def test_sql_errors_are_the_drivers_own_and_the_connection_survives(
    db: database.Connection, target: Target
) -> None:
    add(db, target, "dup")
    with pytest.raises(Exception) as caught:
        add(db, target, "dup")
    # The driver's DB-API class (psycopg raises its UniqueViolation subclass).
    assert "IntegrityError" in [k.__name__ for k in type(caught.value).__mro__]
    with pytest.raises(Exception, match=r"(?i)syntax|near"):
        db.query("SELEKT nonsense")
    assert len(db.query("SELECT * FROM entries")) == 1


def test_closed_connection_refuses_and_reconnect_opens_a_new_one(
    db: database.Connection, target: Target
) -> None:
    if target.backend in SESSION_ID:
        before = db.get(SESSION_ID[target.backend])
        db.reconnect()
        after = db.get(SESSION_ID[target.backend])
        assert before is not None and after is not None and before.id != after.id
    db.close()
    with pytest.raises(database.ClosedError):
        db.query("SELECT 1")
    db.reconnect()
    assert db.query("SELECT 1 AS one") == [{"one": 1}]


def test_idle_connection_is_replaced_after_max_idle_time(target: Target) -> None:
    if target.backend not in SESSION_ID:
        pytest.skip("SQLite has no server session to replace")
    db = database.connect(target.url, max_idle_time=0)
    try:
        first = db.get(SESSION_ID[target.backend])
        second = db.get(SESSION_ID[target.backend])
        assert first is not None and second is not None and first.id != second.id
    finally:
        db.close()
    db = database.connect(target.url)
    try:
        assert db.get(SESSION_ID[target.backend]) == db.get(SESSION_ID[target.backend])
    finally:
        db.close()


def test_mysql_connection_with_the_1x_arguments(mariadb_server) -> None:
    from tests._servers.mariadb import DATABASE, PASSWORD, USER

    db = database.Connection(
        f"127.0.0.1:{mariadb_server.port}", DATABASE, user=USER, password=PASSWORD
    )
    try:
        settings = db.get("SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode")
        assert settings is not None
        assert settings.tz == "+00:00"
        assert "STRICT_ALL_TABLES" in settings.mode  # TRADITIONAL's strictness
        assert db.get("SELECT 'ünïcødé 🐍' AS s") == {"s": "ünïcødé 🐍"}
    finally:
        db.close()
    with pytest.raises(database.ConfigurationError, match="bad port"):
        database.Connection("127.0.0.1:http", DATABASE)
    with pytest.raises(Exception, match="Access denied"):
        database.Connection(
            f"127.0.0.1:{mariadb_server.port}", DATABASE, user=USER, password="wrong"
        )


def test_sqlite_in_memory() -> None:
    with database.connect("sqlite://") as db:
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
        assert [r.x for r in db.query("SELECT x FROM t ORDER BY x")] == [1, 2]
