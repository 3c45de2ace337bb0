"""Fixtures for the auth tests: ``serve(app)`` serves a squall Application
on a free port; ``browser`` is a visitor with a cookie jar; ``wsgi(app)``
runs a provider in a thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from auth_harness import Browser, WSGIThread

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[[Any], str]]:
    servers: list[HTTPServer] = []

    def run(app: Any) -> str:
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield run
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)


@pytest.fixture
def wsgi() -> Iterator[Callable[[Any], WSGIThread]]:
    threads: list[WSGIThread] = []

    def run(app: Any) -> WSGIThread:
        thread = WSGIThread(app)
        threads.append(thread)
        return thread

    yield run
    for thread in threads:
        thread.close()


@pytest.fixture
def browser(io_loop: Any) -> Iterator[Browser]:
    b = Browser(io_loop)
    yield b
    b.close()


@pytest.fixture
def other_browser(io_loop: Any) -> Iterator[Browser]:
    b = Browser(io_loop)
    yield b
    b.close()
