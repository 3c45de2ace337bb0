"""Fixtures for the WSGI tests: ``serve(app_or_container, **server_kwargs)``
starts squall's HTTPServer on a free port and returns the port; ``call``
runs a blocking client on a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wsgi_helpers import Reply, fetch

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port
from squall.wsgi import WSGIContainer


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., int]]:
    servers: list[HTTPServer] = []
    containers: list[WSGIContainer] = []

    def run(target: Any, **kwargs: Any) -> int:
        if isinstance(target, WSGIContainer):
            containers.append(target)
        sock, port = bind_unused_port()
        server = HTTPServer(target, **kwargs)
        server.add_sockets([sock])
        servers.append(server)
        return port

    yield run
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=10)
    for container in containers:
        container.close()


@pytest.fixture
def call(io_loop: Any) -> Callable[..., Any]:
    """``await call(fn, *args)``: run a blocking function on a thread."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return io_loop.run_in_executor(None, lambda: fn(*args, **kwargs))

    return run


@pytest.fixture
def get(call: Callable[..., Any]) -> Callable[..., Any]:
    """``await get(port, path, method=..., body=..., headers=...)`` -> Reply."""

    def run(port: int, path: str, **kwargs: Any) -> Any:
        return call(fetch, port, path, **kwargs)

    return run


__all__ = ["Reply"]
