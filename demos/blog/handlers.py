"""The blog's pages.

- ``/``: the latest entries; ``/entry/<slug>``: one entry; ``/archive``:
  every title by date; ``/feed``: an Atom feed (RFC 4287).
- ``/compose`` (authors only): write an entry, or edit one (``?id=N``).
- ``/auth/login``, ``/auth/logout``; ``/auth/create``: the first author's
  account, offered only while the blog has none.

The signed-in author's id is in a signed cookie; every POST carries the
XSRF token.
"""

from __future__ import annotations

from typing import Any

from demos.blog.markup import to_html
from demos.blog.store import Store
from squall.web import HTTPError, RequestHandler, UIModule, authenticated

__all__ = [
    "HOME_ENTRIES",
    "MAX_TITLE_LENGTH",
    "USER_COOKIE",
    "ArchiveHandler",
    "AuthCreateHandler",
    "AuthLoginHandler",
    "AuthLogoutHandler",
    "ComposeHandler",
    "EntryHandler",
    "EntryModule",
    "FeedHandler",
    "HomeHandler",
]

USER_COOKIE = "blog_author"
# How many entries the home page and the feed show.
HOME_ENTRIES = 5
FEED_ENTRIES = 10
MAX_TITLE_LENGTH = 200
# Signed-in authors stay so for a week (the cookie's signature is checked
# against this age too).
SESSION_DAYS = 7


def _local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


class BaseHandler(RequestHandler):
    def initialize(self, store: Store) -> None:
        self.store = store

    async def prepare(self) -> None:
        # The author is looked up once per request, before the verb method
        # (get_current_user cannot await).
        raw = self.get_signed_cookie(USER_COOKIE, max_age_days=SESSION_DAYS)
        author = None
        if raw and raw.isdigit():
            author = await self.store.author(int(raw))
        self.current_user = author


class HomeHandler(BaseHandler):
    async def get(self) -> None:
        entries = await self.store.latest(HOME_ENTRIES)
        if not entries and not await self.store.author_count():
            self.redirect(self.reverse_url("create-author"))
            return
        self.render("home.html", entries=entries)


class EntryHandler(BaseHandler):
    async def get(self, slug: str) -> None:
        entry = await self.store.by_slug(slug)
        if entry is None:
            raise HTTPError(404, reason="No such entry")
        self.render("entry.html", entry=entry)


class ArchiveHandler(BaseHandler):
    async def get(self) -> None:
        self.render("archive.html", entries=await self.store.archive())


class FeedHandler(BaseHandler):
    async def get(self) -> None:
        entries = await self.store.latest(FEED_ENTRIES)
        self.set_header("Content-Type", "application/atom+xml; charset=UTF-8")
        self.render("feed.xml", entries=entries)


class ComposeHandler(BaseHandler):
    @authenticated
    async def get(self) -> None:
        entry_id = self.get_argument("id", None)
        entry = await self._entry(entry_id) if entry_id else None
        self.render("compose.html", entry=entry, error="", max_title=MAX_TITLE_LENGTH)

    @authenticated
    async def post(self) -> None:
        entry_id = self.get_argument("id", None)
        entry = await self._entry(entry_id) if entry_id else None
        title = self.get_argument("title", "").strip()
        text = self.get_argument("markdown", "")
        if not title or len(title) > MAX_TITLE_LENGTH or not text.strip():
            self.set_status(400, reason="Title and text required")
            self.render(
                "compose.html",
                entry={"id": entry_id, "title": title, "markdown": text} if entry_id else None,
                error=f"An entry needs a title (at most {MAX_TITLE_LENGTH} characters) and some text.",
                max_title=MAX_TITLE_LENGTH,
            )
            return
        html = to_html(text)
        if entry is not None:
            await self.store.update(entry.id, title, text, html)
            slug = entry.slug
        else:
            slug = await self.store.create(self.current_user.id, title, text, html)
        self.redirect(self.reverse_url("entry", slug))

    async def _entry(self, entry_id: str) -> Any:
        if not entry_id.isdigit():
            raise HTTPError(400, reason="Bad entry id")
        entry = await self.store.by_id(int(entry_id))
        if entry is None:
            raise HTTPError(404, reason="No such entry")
        return entry


class AuthLoginHandler(BaseHandler):
    def get(self) -> None:
        self.render("login.html", error="", next=_local_path(self.get_argument("next", "/")))

    async def post(self) -> None:
        next_url = _local_path(self.get_argument("next", "/"))
        author = await self.store.sign_in(
            self.get_argument("email", ""), self.get_argument("password", "")
        )
        if author is None:
            self.set_status(403, reason="Wrong email or password")
            self.render("login.html", error="Wrong email or password.", next=next_url)
            return
        self._sign_in(author.id)
        self.redirect(next_url)

    def _sign_in(self, author_id: int) -> None:
        self.set_signed_cookie(
            USER_COOKIE, str(author_id), expires_days=SESSION_DAYS, httponly=True, samesite="Lax"
        )


class AuthCreateHandler(AuthLoginHandler):
    """The first author's account; gone (404) once the blog has an author."""

    async def get(self) -> None:  # type: ignore[override]
        if await self.store.author_count():
            raise HTTPError(404, reason="The blog has an author already")
        self.render("create_author.html", error="")

    async def post(self) -> None:
        email = self.get_argument("email", "").strip()
        name = self.get_argument("name", "").strip()
        password = self.get_argument("password", "")
        if "@" not in email or not name or len(password) < 8:
            self.set_status(400, reason="Incomplete account")
            self.render(
                "create_author.html",
                error="An email, a name and a password of 8 characters or more, please.",
            )
            return
        author_id = await self.store.create_first_author(email, name, password)
        if author_id is None:
            raise HTTPError(404, reason="The blog has an author already")
        self._sign_in(author_id)
        self.redirect(self.reverse_url("compose"))


class AuthLogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie(USER_COOKIE)
        self.redirect("/")


class EntryModule(UIModule):
    """``{% module Entry(entry) %}``: an entry as the home and entry pages show it."""

    def render(self, entry: Any, full: bool = False) -> bytes:  # type: ignore[override]
        return self.render_string("modules/entry.html", entry=entry, full=full)

    def embedded_css(self) -> str:
        return ".entry .meta { color: #667; font-size: 0.9em; }"
