"""The bounded pool: a saturated container answers 503 with Retry-After,
and every request it admitted is still answered."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from squall.wsgi import RETRY_AFTER_SECONDS, WSGIContainer

# Loop passes to wait for the server to admit a request (each pass yields
# 10 ms): a bound on a wait for an event, not a timing assertion.
ADMIT_PASSES = 2000


async def test_saturated_pool_refuses_then_serves_everything_admitted(serve: Any, get: Any) -> None:
    release = threading.Event()
    started = threading.Event()
    served: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"].startswith("/block"):
            started.set()
            assert release.wait(30)
        served.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    container = WSGIContainer(app, max_workers=1, max_queued=2)
    port = serve(container)
    running = asyncio.ensure_future(get(port, "/block-1"))
    queued = [asyncio.ensure_future(get(port, f"/block-{n}")) for n in (2, 3)]
    for _ in range(ADMIT_PASSES):
        if container.pool.in_flight == 3 and started.is_set():
            break
        await asyncio.sleep(0.01)
    assert container.pool.in_flight == 3
    # One running, two queued: the next is refused at once, with a body
    # sent and its request body discarded so the connection stays usable.
    refused = await get(port, "/late", method="POST", body=b"x" * 100_000)
    assert refused.status == 503
    assert refused.header("Retry-After") == str(RETRY_AFTER_SECONDS)
    assert b"busy" in refused.body
    release.set()
    replies = await asyncio.gather(running, *queued)
    assert [r.status for r in replies] == [200, 200, 200]
    assert sorted(r.body for r in replies) == [b"/block-1", b"/block-2", b"/block-3"]
    assert "/late" not in served
    # Once drained, the pool admits again.
    assert (await get(port, "/after")).body == b"/after"


async def test_other_requests_flow_while_the_pool_works(serve: Any, get: Any) -> None:
    release = threading.Event()

    def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        assert release.wait(30)
        start_response("200 OK", [])
        return [b"slow"]

    def fast(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [b"fast"]

    slow_port = serve(WSGIContainer(slow, max_workers=1))
    fast_port = serve(WSGIContainer(fast))
    pending = asyncio.ensure_future(get(slow_port, "/"))
    # The event loop is not blocked by the application sleeping on a thread.
    assert (await get(fast_port, "/")).body == b"fast"
    assert not pending.done()
    release.set()
    assert (await pending).body == b"slow"


async def test_custom_executor_with_queue_limit(serve: Any, get: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        assert release.wait(30)
        start_response("200 OK", [])
        return [threading.current_thread().name.encode()]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine") as executor:
        container = WSGIContainer(app, executor, max_queued=1)
        port = serve(container)
        first = asyncio.ensure_future(get(port, "/"))
        for _ in range(ADMIT_PASSES):
            if container.pool.in_flight == 1:
                break
            await asyncio.sleep(0.01)
        assert (await get(port, "/")).status == 503
        release.set()
        reply = await first
        assert reply.body.startswith(b"mine")
