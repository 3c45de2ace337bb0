"""Fixtures for HTTP server tests: ``serve`` starts an HTTPServer on a free
port; ``blocking`` runs a blocking client on a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from httptest_helpers import echo_app

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., int]]:
    """``serve(callback, **HTTPServer kwargs)`` -> port on 127.0.0.1."""
    servers: list[HTTPServer] = []

    def start(callback: Any = echo_app, **kwargs: Any) -> int:
        sock, port = bind_unused_port()
        server = HTTPServer(callback, **kwargs)
        server.add_sockets([sock])
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)


@pytest.fixture
def blocking(io_loop: Any) -> Callable[..., Any]:
    """Run a blocking client function on a worker thread: ``await blocking(f, *a)``."""

    def run(func: Callable[..., Any], *args: Any) -> Any:
        return io_loop.run_in_executor(None, func, *args)

    return run
