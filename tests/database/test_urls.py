"""Database URLs, and the errors for ones we cannot use."""

from __future__ import annotations

import pytest

from squall import database
from squall.database import parse_url


def test_sqlite_urls() -> None:
    assert parse_url("sqlite://").path == ":memory:"
    assert parse_url("sqlite:///:memory:").path == ":memory:"
    assert parse_url("sqlite:///blog.db").path == "blog.db"
    assert parse_url("sqlite:////var/db/blog.db").path == "/var/db/blog.db"
    assert parse_url("sqlite:///blog.db?timeout=2").options == (("timeout", "2"),)


def test_server_urls() -> None:
    url = parse_url("postgresql://ann:p%40ss@db.example:5433/blog?sslmode=require")
    assert (url.backend, url.host, url.port, url.user, url.password, url.database) == (
        "postgresql",
        "db.example",
        5433,
        "ann",
        "p@ss",
        "blog",
    )
    assert url.options == (("sslmode", "require"),)
    assert "p@ss" not in repr(url)
    assert parse_url("postgres://h/db").backend == "postgresql"
    assert parse_url("postgresql+psycopg://h/db").backend == "postgresql"
    assert parse_url("mariadb://u@h/db").backend == "mysql"
    assert parse_url("mysql://u@h/db").port is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("blog.db", "not a database URL"),
        ("oracle://h/db", "unknown database scheme"),
        ("sqlite://host/blog.db", "no host"),
        ("postgresql://h:notaport/db", "bad port"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(database.ConfigurationError, match=message):
        parse_url(url)


def test_bad_options_are_refused() -> None:
    with pytest.raises(database.ConfigurationError, match="unknown sqlite URL options"):
        database.connect("sqlite://?journal=wal")
    with pytest.raises(database.ConfigurationError, match="seconds"):
        database.connect("sqlite://?timeout=soon")
    with pytest.raises(database.ConfigurationError, match="names its database"):
        database.connect("postgresql://127.0.0.1:1")


async def test_bad_pool_sizes() -> None:
    with pytest.raises(ValueError, match="min_size"):
        await database.connect_async("sqlite:///x.db", min_size=3, max_size=2)
