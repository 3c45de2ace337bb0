"""Every SQL statement the blog runs, in one place, over ``squall.database``.

The statements are written once with ``%s`` placeholders; for SQLite they
are rewritten to ``?`` when the store is built (the SQL text only: values
always travel as parameters).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
import unicodedata
from typing import Any

from squall import database

__all__ = ["MAX_SLUG_LENGTH", "Store", "open_store", "slugify"]

MAX_SLUG_LENGTH = 100
# The blog has one author, and this is their id (see create_first_author).
FIRST_AUTHOR_ID = 1
# scrypt's parameters from RFC 7914 §2's interactive-login recommendation
# (N=2**14, r=8, p=1); 16 random bytes of salt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16

_ID_COLUMN = {
    "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER AUTO_INCREMENT PRIMARY KEY",
}
_TABLE_SUFFIX = {"mysql": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"}

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS authors (
        {id},
        email VARCHAR(100) NOT NULL UNIQUE,
        name VARCHAR(100) NOT NULL,
        password_hash VARCHAR(200) NOT NULL
    ){suffix}""",
    """CREATE TABLE IF NOT EXISTS entries (
        {id},
        author_id INTEGER NOT NULL REFERENCES authors(id),
        slug VARCHAR(100) NOT NULL UNIQUE,
        title VARCHAR(512) NOT NULL,
        markdown TEXT NOT NULL,
        html TEXT NOT NULL,
        published VARCHAR(32) NOT NULL,
        updated VARCHAR(32) NOT NULL
    ){suffix}""",
]


def _is_integrity_error(exc: BaseException) -> bool:
    """Each DB-API driver has its own IntegrityError class; all share the name."""
    return any(cls.__name__ == "IntegrityError" for cls in type(exc).__mro__)


def now() -> str:
    """UTC, to the second, as RFC 3339 text: sorts and compares as text on every backend."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def slugify(title: str) -> str:
    """``"Héllo, World!"`` -> ``"hello-world"``; never empty."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].strip("-") or "entry"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return hmac.compare_digest(digest, expected)


class Store:
    def __init__(self, db: database.AsyncDatabase) -> None:
        self.db = db
        self._ph = db.placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "%s" else sql.replace("%s", self._ph)

    async def create_schema(self) -> None:
        for statement in _SCHEMA:
            await self.db.execute(
                statement.format(
                    id=_ID_COLUMN[self.db.backend], suffix=_TABLE_SUFFIX.get(self.db.backend, "")
                )
            )

    # -- authors ---------------------------------------------------------------

    async def author_count(self) -> int:
        row = await self.db.get("SELECT count(*) AS n FROM authors")
        return int(row.n) if row else 0

    async def author(self, author_id: int) -> database.Row | None:
        return await self.db.get(
            self._sql("SELECT id, email, name FROM authors WHERE id = %s"), author_id
        )

    async def sign_in(self, email: str, password: str) -> database.Row | None:
        """The author with this email and password, or None."""
        row = await self.db.get(self._sql("SELECT * FROM authors WHERE email = %s"), email)
        if row is None or not check_password(password, row.password_hash):
            return None
        return row

    async def create_first_author(self, email: str, name: str, password: str) -> int | None:
        """Create the blog's one author; None if there is one already.

        The author's id is always FIRST_AUTHOR_ID, so when two people race
        for an empty blog the primary key lets exactly one insert through.
        """
        if await self.author_count():
            return None
        try:
            await self.db.execute(
                self._sql(
                    "INSERT INTO authors (id, email, name, password_hash) VALUES (%s, %s, %s, %s)"
                ),
                FIRST_AUTHOR_ID,
                email,
                name,
                hash_password(password),
            )
        except Exception as exc:
            if _is_integrity_error(exc):
                return None
            raise
        return FIRST_AUTHOR_ID

    # -- entries ---------------------------------------------------------------

    _ENTRY_COLUMNS = (
        "entries.id, entries.slug, entries.title, entries.markdown, entries.html, "
        "entries.published, entries.updated, authors.name AS author_name"
    )

    async def latest(self, count: int) -> list[database.Row]:
        return await self.db.query(
            self._sql(
                f"SELECT {self._ENTRY_COLUMNS} FROM entries JOIN authors ON authors.id = "
                "entries.author_id ORDER BY entries.published DESC, entries.id DESC LIMIT %s"
            ),
            count,
        )

    async def by_slug(self, slug: str) -> database.Row | None:
        return await self.db.get(
            self._sql(
                f"SELECT {self._ENTRY_COLUMNS} FROM entries JOIN authors ON authors.id = "
                "entries.author_id WHERE entries.slug = %s"
            ),
            slug,
        )

    async def by_id(self, entry_id: int) -> database.Row | None:
        return await self.db.get(self._sql("SELECT * FROM entries WHERE id = %s"), entry_id)

    async def archive(self) -> list[database.Row]:
        """Every entry's title and date, newest first, streamed from the server."""
        return [
            row
            async for row in self.db.iter(
                "SELECT slug, title, published FROM entries ORDER BY published DESC, id DESC"
            )
        ]

    async def create(self, author_id: int, title: str, markdown: str, html: str) -> str:
        """Store a new entry; its slug (made unique with a counter)."""
        base = slugify(title)
        async with self.db.transaction() as tx:
            taken = {
                row.slug
                for row in await tx.query(
                    self._sql("SELECT slug FROM entries WHERE slug = %s OR slug LIKE %s"),
                    base,
                    base + "-%",
                )
            }
            slug, counter = base, 2
            while slug in taken:
                suffix = f"-{counter}"
                slug = base[: MAX_SLUG_LENGTH - len(suffix)] + suffix
                counter += 1
            stamp = now()
            await tx.execute(
                self._sql(
                    "INSERT INTO entries (author_id, slug, title, markdown, html, published, "
                    "updated) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                ),
                author_id,
                slug,
                title,
                markdown,
                html,
                stamp,
                stamp,
            )
        return slug

    async def update(self, entry_id: int, title: str, markdown: str, html: str) -> None:
        await self.db.execute(
            self._sql(
                "UPDATE entries SET title = %s, markdown = %s, html = %s, updated = %s WHERE id = %s"
            ),
            title,
            markdown,
            html,
            now(),
            entry_id,
        )


async def open_store(url: str, **pool: Any) -> Store:
    """Connect (a pool) and make sure the tables exist."""
    db = await database.connect_async(url, **pool)
    store = Store(db)
    try:
        await store.create_schema()
    except BaseException:
        await db.close()
        raise
    return store
