"""WSGIContainer with ``executor=None`` or ``dummy_executor``: Tornado 6's
documented mode, the application running on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from squall.concurrent import dummy_executor
from squall.httpclient import AsyncHTTPClient
from squall.testing import ExpectLog
from squall.web import Application, FallbackHandler
from squall.wsgi import WSGIContainer

StartResponse = Callable[..., Any]


@pytest.fixture(params=["none", "dummy"])
def inline(request: pytest.FixtureRequest) -> Callable[[Any], WSGIContainer]:
    def make(app: Any) -> WSGIContainer:
        executor = None if request.param == "none" else dummy_executor
        container = WSGIContainer(app, executor)
        assert container.inline
        return container

    return make


def loop_thread_app(seen: list[int]) -> Any:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        seen.append(threading.get_ident())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    return app


async def test_runs_on_the_loop_thread(serve: Any, inline: Any) -> None:
    seen: list[int] = []
    port = serve(inline(loop_thread_app(seen)))
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/")
    finally:
        client.close()
    assert response.body == b"hello"
    assert seen == [threading.get_ident()]


async def test_left_out_executor_uses_the_pool(serve: Any, get: Any) -> None:
    seen: list[int] = []
    container = WSGIContainer(loop_thread_app(seen))
    assert not container.inline and container.executor is None
    reply = await get(serve(container), "/")
    assert reply.body == b"hello"
    assert seen and seen[0] != threading.get_ident()


async def test_requests_run_one_at_a_time(serve: Any, inline: Any) -> None:
    # Two parties never meet at the barrier: the first request holds the
    # loop until the barrier gives up.
    barrier = threading.Barrier(2, timeout=0.2)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"ok "
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            yield b"broken"
        else:
            yield b"met"

    port = serve(inline(app))
    client = AsyncHTTPClient(force_instance=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        replies = await asyncio.gather(client.fetch(url), client.fetch(url))
    finally:
        client.close()
    assert [r.body for r in replies] == [b"ok broken", b"ok broken"]


def echo_app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    # A response far over the write window: nothing may wait for the loop.
    for _ in range(8):
        yield body


async def test_large_body_and_response_do_not_block(serve: Any, get: Any, inline: Any) -> None:
    port = serve(inline(echo_app))
    data = bytes(range(256)) * 4096  # 1 MiB
    reply = await get(port, "/", method="POST", body=data)
    assert reply.status == 200
    assert reply.body == data * 8
    chunked = await get(port, "/", method="POST", body=iter([b"a" * 1000, b"b" * 5]), headers={})
    assert chunked.body == (b"a" * 1000 + b"b" * 5) * 8


async def test_application_error_is_a_500(serve: Any, get: Any, inline: Any) -> None:
    def broken(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        raise ValueError("bad app")

    port = serve(inline(broken))
    with ExpectLog("squall.application", "Uncaught exception in WSGI application"):
        reply = await get(port, "/")
    assert reply.status == 500
    assert b"Internal Server Error" in reply.body


async def test_behind_a_fallback_handler(serve: Any, get: Any, inline: Any) -> None:
    seen: list[int] = []
    app = Application([(r".*", FallbackHandler, {"fallback": inline(loop_thread_app(seen))})])
    reply = await get(serve(app), "/any")
    assert reply.body == b"hello"
    assert seen == [threading.get_ident()]
