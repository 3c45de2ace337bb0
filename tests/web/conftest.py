"""Fixtures for web tests: ``start(app)`` serves an Application on a free
port; ``fetch(path, ...)`` requests it with http.client on a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from web_helpers import blocking_fetch

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


@pytest.fixture
def start(io_loop: Any) -> Iterator[Callable[..., Callable[..., Any]]]:
    """``fetch = start(app, **server_kwargs)``; ``await fetch("/path")``."""
    servers: list[HTTPServer] = []

    def run(app: Any, **kwargs: Any) -> Callable[..., Any]:
        sock, port = bind_unused_port()
        server = HTTPServer(app, **kwargs)
        server.add_sockets([sock])
        servers.append(server)

        def fetch(
            path: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
        ) -> Any:
            return io_loop.run_in_executor(None, blocking_fetch, port, path, method, body, headers)

        fetch.port = port  # type: ignore[attr-defined]
        return fetch

    yield run
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)
