"""squall's pytest plugin, registered through the ``pytest11`` entry point.

- ``io_loop``: a fresh IOLoop for the test, current while it runs, closed
  after it (tasks left running are cancelled first).
- ``async def`` tests run on ``io_loop`` with no decorator, unless another
  async plugin's marker (``asyncio``, ``anyio``, ``trio``) claims them. The
  timeout is ``ASYNC_TEST_TIMEOUT`` (5 s) or ``@pytest.mark.gen_test(timeout=N)``.
- Define an ``app`` fixture returning your Application; then
  ``http_server`` serves it on a free port, ``base_url`` is its address,
  ``http_client`` is an AsyncHTTPClient, and ``await fetch("/path")``
  requests it (error statuses are returned, not raised)::

      @pytest.fixture
      def app():
          return make_app()

      async def test_home(fetch):
          response = await fetch("/")
          assert response.code == 200

squall modules are imported inside the hooks: loading the plugin must never
make pytest itself fail to start.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from squall.ioloop import IOLoop

_OTHER_ASYNC_MARKERS = ("asyncio", "anyio", "trio")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gen_test(timeout=None): run an async test on squall's io_loop with a timeout"
    )


def _is_ours(item: pytest.Item) -> bool:
    func = getattr(item, "obj", None)
    if not inspect.iscoroutinefunction(func):
        return False
    return not any(item.get_closest_marker(m) for m in _OTHER_ASYNC_MARKERS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_ours(item) and "io_loop" not in getattr(item, "fixturenames", ["io_loop"]):
            item.fixturenames.append("io_loop")  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _is_ours(pyfuncitem):
        return None
    from squall.testing._async import get_async_test_timeout

    marker = pyfuncitem.get_closest_marker("gen_test")
    timeout = get_async_test_timeout()
    if marker is not None and marker.kwargs.get("timeout") is not None:
        timeout = float(marker.kwargs["timeout"])
    io_loop: IOLoop = pyfuncitem.funcargs["io_loop"]  # type: ignore[assignment]
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    io_loop.run_sync(lambda: pyfuncitem.obj(**kwargs), timeout=timeout)
    return True


@pytest.fixture
def io_loop() -> Iterator[IOLoop]:
    """A new IOLoop, current for the duration of the test."""
    from squall.ioloop import IOLoop

    loop = IOLoop(make_current=True)
    assert isinstance(loop, IOLoop)
    try:
        yield loop
    finally:
        _close_loop(loop)


def _close_loop(loop: Any) -> None:
    from squall.ioloop import IOLoop

    aloop = loop.asyncio_loop
    if not aloop.is_closed():
        # A few iterations let connections the test closed finish closing
        # (a TLS close takes several), so no transport is left unclosed.
        for _ in range(10):
            aloop.run_until_complete(asyncio.sleep(0))
        tasks = asyncio.all_tasks(aloop)
        for task in tasks:
            task.cancel()
        if tasks:
            aloop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        aloop.run_until_complete(aloop.shutdown_asyncgens())
    loop.close(all_fds=True)
    IOLoop.clear_current()
    asyncio.set_event_loop(None)


@pytest.fixture
def app() -> Any:
    """Override this fixture: return the Application (or callback) to test."""
    raise pytest.UsageError("define an 'app' fixture that returns your squall.web.Application")


@pytest.fixture
def http_server_port() -> Iterator[tuple[Any, int]]:
    """A listening socket on a free port, and the port."""
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    yield sock, port
    sock.close()


@pytest.fixture
def http_server(io_loop: IOLoop, app: Any, http_server_port: tuple[Any, int]) -> Iterator[Any]:
    """An HTTPServer serving ``app`` on ``http_server_port``."""
    from squall.httpserver import HTTPServer

    server = HTTPServer(app)
    server.add_sockets([http_server_port[0]])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=10)


@pytest.fixture
def base_url(http_server: Any, http_server_port: tuple[Any, int]) -> str:
    """``http://127.0.0.1:PORT`` of the test server."""
    return f"http://127.0.0.1:{http_server_port[1]}"


@pytest.fixture
def http_client(io_loop: IOLoop) -> Iterator[Any]:
    """An AsyncHTTPClient of its own, closed after the test."""
    from squall.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


@pytest.fixture
def fetch(http_client: Any, base_url: str) -> Any:
    """``await fetch(path, **kwargs)``: request the test server."""

    def fetch(path: str, raise_error: bool = False, **kwargs: Any) -> Any:
        url = path if path.lower().startswith(("http://", "https://")) else base_url + path
        return http_client.fetch(url, raise_error=raise_error, **kwargs)

    return fetch
