"""Database URLs: ``sqlite:///path``, ``postgresql://user:pw@host:port/db``, ``mysql://...``."""

from __future__ import annotations

import dataclasses
import urllib.parse

from ._errors import ConfigurationError

__all__ = ["DatabaseURL", "parse_url"]

# Scheme spellings accepted for each backend (SQLAlchemy-style driver
# suffixes such as ``postgresql+psycopg`` are accepted and ignored).
BACKEND_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


@dataclasses.dataclass(frozen=True)
class DatabaseURL:
    backend: str  # "sqlite", "postgresql" or "mysql"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    # SQLite: a file path, or ":memory:".
    path: str | None = None
    # Query-string options, passed to the driver's connect() as keywords.
    options: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        # Never print the password (logs, tracebacks).
        shown = dataclasses.replace(self, password="***" if self.password else None)
        fields = ", ".join(
            f"{f.name}={getattr(shown, f.name)!r}" for f in dataclasses.fields(shown)
        )
        return f"DatabaseURL({fields})"


def parse_url(url: str) -> DatabaseURL:
    """Split a database URL into what the backend's driver needs.

    ``sqlite://`` (or ``sqlite:///:memory:``) is an in-memory database;
    ``sqlite:///blog.db`` a relative path, ``sqlite:////var/db/blog.db`` an
    absolute one.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"not a database URL: {url!r}")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower().split("+", 1)[0]
    backend = BACKEND_SCHEMES.get(scheme)
    if backend is None:
        known = ", ".join(sorted(BACKEND_SCHEMES))
        raise ConfigurationError(f"unknown database scheme {parts.scheme!r} (known: {known})")
    options = tuple(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if backend == "sqlite":
        if parts.netloc:
            raise ConfigurationError(
                f"sqlite URLs have no host: use sqlite:///relative.db or sqlite:////abs.db, not {url!r}"
            )
        path = urllib.parse.unquote(parts.path[1:]) if parts.path else ""
        return DatabaseURL("sqlite", path=path or ":memory:", options=options)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"bad port in {url!r}") from exc
    database = urllib.parse.unquote(parts.path.lstrip("/")) or None
    return DatabaseURL(
        backend,
        host=urllib.parse.unquote(parts.hostname) if parts.hostname else None,
        port=port,
        user=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password is not None else None,
        database=database,
        options=options,
    )
