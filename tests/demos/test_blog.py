"""The blog demo end to end over real sockets, on each database backend:
the first author's account, sign-in, XSRF, composing and editing entries
in Markdown, the home page, the archive, the Atom feed, static files."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import html
import http.client
import http.cookies
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves it out
    sys.path.insert(0, str(ROOT))

pytest.importorskip("markdown")

from demos.blog.app import make_app  # noqa: E402
from demos.blog.store import Store, open_store  # noqa: E402
from squall import database  # noqa: E402
from squall.web import create_signed_value  # noqa: E402

SECRET = "test-secret-for-the-blog"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blog.db'}"
    server = request.getfixturevalue(
        "postgresql_server" if request.param == "postgresql" else "mariadb_server"
    )
    # The servers are shared by the session: start from empty tables.
    with database.connect(server.url) as db:
        db.execute("DROP TABLE IF EXISTS entries")
        db.execute("DROP TABLE IF EXISTS authors")
    return str(server.url)


@pytest.fixture
def store(io_loop: Any, db_url: str) -> Iterator[Store]:
    opened = io_loop.run_sync(lambda: open_store(db_url))
    yield opened
    io_loop.run_sync(opened.db.close)


@pytest.fixture
def app(store: Store) -> Any:
    return make_app(store, cookie_secret=SECRET)


class Visitor:
    """A browser's share of the conversation: cookies kept and sent back."""

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch
        self.cookies: dict[str, str] = {}

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.request(path, **kwargs)

    async def request(self, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        kwargs.setdefault("follow_redirects", False)
        response = await self._fetch(path, headers=headers, **kwargs)
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        for header in response.headers.get_list("Set-Cookie"):
            jar.load(header)
        for name, morsel in jar.items():
            if morsel.value and not expired(morsel):
                self.cookies[name] = morsel.value
            else:  # clear_cookie: an empty value that expired in the past
                self.cookies.pop(name, None)
        return response

    async def post(self, path: str, xsrf: bool = True, **fields: str) -> Any:
        if xsrf:
            if "_xsrf" not in self.cookies:
                await self.get("/auth/login")
            fields["_xsrf"] = self.cookies["_xsrf"]
        return await self.request(
            path,
            method="POST",
            body=urllib.parse.urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def expired(morsel: http.cookies.Morsel[str]) -> bool:
    if morsel["max-age"] in ("0", "-1"):
        return True
    if morsel["expires"]:
        return email.utils.parsedate_to_datetime(morsel["expires"]) < datetime.datetime.now(
            datetime.timezone.utc
        )
    return False


def text(response: Any) -> str:
    return str(response.body.decode("utf-8"))


async def create_author(visitor: Visitor, email: str = "ann@example.com") -> None:
    response = await visitor.post(
        "/auth/create", email=email, name="Ann Author", password="correct horse"
    )
    assert response.code == 302, text(response)
    assert response.headers["Location"] == "/compose"
    assert "blog_author" in visitor.cookies


async def publish(visitor: Visitor, title: str, markdown: str, **extra: str) -> str:
    response = await visitor.post("/compose", title=title, markdown=markdown, **extra)
    assert response.code == 302, text(response)
    location = str(response.headers["Location"])
    assert location.startswith("/entry/")
    return location


async def test_first_visit_creates_the_author_and_only_once(fetch: Any) -> None:
    visitor = Visitor(fetch)
    response = await visitor.get("/")
    assert (response.code, response.headers["Location"]) == (302, "/auth/create")
    page = await visitor.get("/auth/create")
    assert page.code == 200 and 'name="_xsrf"' in text(page)
    # XSRF: a POST without the token is refused before anything is stored.
    refused = await visitor.post(
        "/auth/create", xsrf=False, email="x@example.com", name="X", password="long enough"
    )
    assert refused.code == 403
    # Bad input: the form again, with a 400 and a reason.
    bad = await visitor.post("/auth/create", email="not-an-email", name="X", password="short")
    assert bad.code == 400 and "8 characters" in text(bad)
    await create_author(visitor)
    # The page is gone, and a second account cannot be made.
    assert (await visitor.get("/auth/create")).code == 404
    stranger = Visitor(fetch)
    again = await stranger.post(
        "/auth/create", email="eve@example.com", name="Eve", password="evil password"
    )
    assert again.code == 404
    assert "blog_author" not in stranger.cookies


async def test_compose_renders_markdown_and_escapes_html(fetch: Any, store: Store) -> None:
    author = Visitor(fetch)
    await create_author(author)
    location = await publish(
        author,
        "Hello, Wörld!",
        "Some **bold** text and `code`.\n\n<script>window.owned = 1</script>\n\n* one\n* two\n",
    )
    assert location == "/entry/hello-world"
    page = await Visitor(fetch).get(location)
    body = text(page)
    assert page.code == 200
    assert "<strong>bold</strong>" in body and "<code>code</code>" in body
    assert "<li>one</li>" in body
    assert "<script>window.owned" not in body
    assert "&lt;script&gt;window.owned = 1&lt;/script&gt;" in body
    assert "Hello, Wörld!" in body and "Ann Author" in body
    # Same title again: a new, unique address.
    assert await publish(author, "Hello, Wörld!", "second") == "/entry/hello-world-2"
    assert (await Visitor(fetch).get("/entry/no-such-entry")).code == 404


async def test_sql_injection_through_the_form_is_stored_verbatim(fetch: Any, store: Store) -> None:
    author = Visitor(fetch)
    await create_author(author)
    title = "Robert'); DROP TABLE entries; --"
    location = await publish(author, title, "x' OR '1'='1 -- \\ % %s ?")
    entry = await store.by_slug(location.rsplit("/", 1)[1])
    assert entry is not None
    assert entry.title == title and entry.markdown == "x' OR '1'='1 -- \\ % %s ?"
    assert title in html.unescape(text(await Visitor(fetch).get(location)))
    assert len(await store.latest(10)) == 1


async def test_home_archive_and_feed(fetch: Any) -> None:
    author = Visitor(fetch)
    await create_author(author)
    titles = [f"Entry number {i}" for i in range(7)]
    for title in titles:
        await publish(author, title, f"Body of *{title}*")
    reader = Visitor(fetch)
    home = text(await reader.get("/"))
    # The five latest, newest first, each through the Entry UI module.
    shown = re.findall(r'<article class="entry" id="entry-([a-z0-9-]+)"', home)
    assert shown == [f"entry-number-{i}" for i in (6, 5, 4, 3, 2)]
    assert ".entry .meta" in home  # the module's embedded CSS, once
    assert home.count(".entry .meta") == 1
    assert 'id="sign-in"' in home and "New entry" not in home
    archive = text(await reader.get("/archive"))
    assert re.findall(r'href="/entry/([a-z0-9-]+)"', archive) == [
        f"entry-number-{i}" for i in range(6, -1, -1)
    ]
    feed = await reader.get("/feed")
    assert feed.code == 200
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.body)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == titles[::-1]
    first = entries[0]
    assert first.findtext(f"{ATOM}id", "").endswith("/entry/entry-number-6")
    assert "<em>Entry number 6</em>" in first.findtext(f"{ATOM}content", "")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.findtext(f"{ATOM}updated", ""))


async def test_editing_keeps_the_address(fetch: Any, store: Store) -> None:
    author = Visitor(fetch)
    await create_author(author)
    location = await publish(author, "First draft", "draft text")
    entry = await store.by_slug("first-draft")
    assert entry is not None
    form = text(await author.get(f"/compose?id={entry.id}"))
    assert "draft text" in form and f'name="id" value="{entry.id}"' in form
    assert await publish(author, "Final title", "final *text*", id=str(entry.id)) == location
    page = text(await author.get(location))
    assert "Final title" in page and "<em>text</em>" in page and "draft text" not in page
    assert (await author.get("/compose?id=999999")).code == 404
    assert (await author.get("/compose?id=abc")).code == 400
    empty = await author.post("/compose", title="", markdown="no title")
    assert empty.code == 400 and "needs a title" in text(empty)


async def test_sign_in_out_and_forged_cookies(fetch: Any) -> None:
    await create_author(Visitor(fetch))
    visitor = Visitor(fetch)
    response = await visitor.get("/compose")
    assert response.code == 302
    assert response.headers["Location"] == "/auth/login?next=%2Fcompose"
    # Posting without being signed in: 403 (the authenticated decorator).
    assert (await visitor.post("/compose", title="t", markdown="m")).code == 403
    wrong = await visitor.post("/auth/login", email="ann@example.com", password="wrong", next="/")
    assert wrong.code == 403 and "Wrong email or password" in text(wrong)
    unknown = await visitor.post("/auth/login", email="who@example.com", password="x", next="/")
    assert unknown.code == 403
    # A cookie with a made-up author id, unsigned, or signed with another key.
    for forged in (
        "1",
        create_signed_value("another-secret", "blog_author", "1").decode(),
        create_signed_value(SECRET, "blog_author", "999").decode(),
    ):
        intruder = Visitor(fetch)
        intruder.cookies["blog_author"] = forged
        assert (await intruder.get("/compose")).code == 302
    ok = await visitor.post(
        "/auth/login", email="ann@example.com", password="correct horse", next="/compose"
    )
    assert (ok.code, ok.headers["Location"]) == (302, "/compose")
    # An open redirect through next= is not possible.
    other = await visitor.post(
        "/auth/login", email="ann@example.com", password="correct horse", next="//evil.example/"
    )
    assert other.headers["Location"] == "/"
    assert (await visitor.get("/compose")).code == 200
    assert 'id="author">Ann Author<' in text(await visitor.get("/"))
    out = await visitor.post("/auth/logout")
    assert out.code == 302
    assert "blog_author" not in visitor.cookies
    assert (await visitor.get("/compose")).code == 302


async def test_static_files_are_versioned(fetch: Any) -> None:
    await create_author(Visitor(fetch))
    home = text(await Visitor(fetch).get("/"))
    css = re.search(r'href="(/static/blog\.css\?v=[0-9a-f]+)"', home)
    assert css is not None
    response = await fetch(css.group(1))
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert b".entry" in response.body
    assert "max-age" in response.headers.get("Cache-Control", "")
    assert (await fetch("/static/../app.py")).code in (403, 404)


async def test_two_racing_first_authors_make_one(store: Store) -> None:
    first, second = await asyncio.gather(
        store.create_first_author("ann@example.com", "Ann", "password one"),
        store.create_first_author("bob@example.com", "Bob", "password two"),
    )
    assert sorted([first, second], key=lambda v: v is None) == [1, None]
    assert await store.author_count() == 1
    assert await store.create_first_author("eve@example.com", "Eve", "password 3") is None


def test_command_line_serves_the_database_it_is_given(db_url: str, tmp_path: Path) -> None:
    """``python -m demos.blog --db URL``: the tables are made, the page served,
    and SIGINT stops it cleanly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "demos.blog", "--port", str(port), "--db", db_url],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the blog did not start listening"
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            assert (response.status, response.getheader("Location")) == (302, "/auth/create")
        finally:
            conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    backend = database.parse_url(db_url).backend
    assert f"({backend})" in out and "squall-test-pw" not in out
    with database.connect(db_url) as db:
        assert db.query("SELECT * FROM authors") == []
