"""The blog application: routes, settings, and ``main``.

``make_app(store)`` builds the Application around a ``Store`` (a pooled
``squall.database`` connection); ``main`` opens the store from ``--db``
(SQLite in ./blog.db by default) and serves.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from demos.blog.handlers import (
    ArchiveHandler,
    AuthCreateHandler,
    AuthLoginHandler,
    AuthLogoutHandler,
    ComposeHandler,
    EntryHandler,
    EntryModule,
    FeedHandler,
    HomeHandler,
)
from demos.blog.store import Store, open_store
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.web import Application, url

__all__ = ["DEFAULT_DB", "MAX_BODY_SIZE", "main", "make_app"]

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DB = "sqlite:///blog.db"
# An entry is text: 1 MiB of form data is a very long post.
MAX_BODY_SIZE = 1024 * 1024


def make_app(store: Store, cookie_secret: str | None = None, **settings: Any) -> Application:
    routes = {"store": store}
    return Application(
        [
            url(r"/", HomeHandler, routes, name="home"),
            url(r"/archive", ArchiveHandler, routes, name="archive"),
            url(r"/feed", FeedHandler, routes, name="feed"),
            url(r"/entry/([a-z0-9-]+)", EntryHandler, routes, name="entry"),
            url(r"/compose", ComposeHandler, routes, name="compose"),
            url(r"/auth/login", AuthLoginHandler, routes, name="login"),
            url(r"/auth/create", AuthCreateHandler, routes, name="create-author"),
            url(r"/auth/logout", AuthLogoutHandler, routes, name="logout"),
        ],
        blog_title="squall blog",
        cookie_secret=cookie_secret or secrets.token_urlsafe(32),
        login_url="/auth/login",
        xsrf_cookies=True,
        template_path=os.path.join(HERE, "templates"),
        static_path=os.path.join(HERE, "static"),
        ui_modules={"Entry": EntryModule},
        **settings,
    )


def main(
    port: int = 8888,
    address: str = "127.0.0.1",
    db_url: str = DEFAULT_DB,
    cookie_secret: str | None = None,
) -> None:
    io_loop = IOLoop.current()
    store = io_loop.run_sync(lambda: open_store(db_url))
    server = HTTPServer(make_app(store, cookie_secret), max_body_size=MAX_BODY_SIZE)
    server.listen(port, address=address)
    try:
        io_loop.start()
    finally:
        server.stop()
        io_loop.run_sync(store.db.close)
