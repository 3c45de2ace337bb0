"""Starlette and FastAPI applications inside squall's server (ASGIContainer),
each compared with the same application under uvicorn: the same requests,
over real sockets, must get the same answers."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fastapi_app
import httpx
import pytest
import starlette_app
from asgi_helpers import run_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from squall.asgi import ASGIContainer
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog, bind_unused_port
from squall.web import Application, FallbackHandler, RequestHandler

TIMEOUT = 10.0

# Headers that differ between any two servers for reasons of their own.
SERVER_SPECIFIC = {"date", "server", "transfer-encoding", "connection", "keep-alive"}


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in SERVER_SPECIFIC}
    return response.status_code, headers, response.content


async def exercise_starlette(base: str, ws_base: str) -> list[Any]:
    """Everything the Starlette app is asked; returns what came back."""
    seen: list[Any] = []
    piece = b"0123456789abcdef" * 4096  # 64 KiB
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        seen.append(comparable(await c.get("/?a=1&b=two")))
        seen.append(comparable(await c.get("/items/7?q=x")))
        seen.append(comparable(await c.get("/items/notanint")))
        seen.append(comparable(await c.post("/echo", json={"k": [1, 2, 3]})))
        seen.append(comparable(await c.get("/text")))
        seen.append(comparable(await c.get("/echo")))  # 405

        async def body() -> AsyncIterator[bytes]:
            for _ in range(32):
                yield piece

        upload = await c.put("/upload", content=body())
        seen.append(comparable(upload))
        assert upload.json() == {
            "size": len(piece) * 32,
            "sha256": hashlib.sha256(piece * 32).hexdigest(),
            "streamed": True,
        }
        async with c.stream("GET", "/download?count=24") as r:
            pieces = 0
            data = bytearray()
            async for chunk in r.aiter_raw():
                data += chunk
                pieces += 1
            seen.append((r.status_code, bytes(data) == _expected_download(24), pieces > 1))
    async with connect(f"{ws_base}/ws", subprotocols=["chat"]) as ws:  # type: ignore[list-item]
        seen.append(ws.subprotocol)
        await ws.send("hi")
        seen.append(await ws.recv())
        await ws.send(b"\x01\x02\x03")
        seen.append(await ws.recv())
        await ws.send("bye")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        seen.append((info.value.rcvd.code, info.value.rcvd.reason) if info.value.rcvd else None)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{ws_base}/ws-refuse"):
            pass
    seen.append(refused.value.response.status_code)
    return seen


def _expected_download(count: int) -> bytes:
    return b"".join(bytes([97 + i % 26]) * 32768 for i in range(count))


async def exercise_fastapi(base: str, ws_base: str) -> list[Any]:
    seen: list[Any] = []
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
        seen.append(comparable(await c.get("/")))
        seen.append(comparable(await c.get("/items/1?q=z", headers={"X-User": "ann"})))
        seen.append(comparable(await c.get("/items/1")))  # 401 from the dependency
        seen.append(comparable(await c.get("/items/9", headers={"X-User": "ann"})))  # 404
        seen.append(comparable(await c.get("/items/x", headers={"X-User": "ann"})))  # 422
        seen.append(comparable(await c.post("/items", json={"name": "pen", "price": 1.25})))
        seen.append(comparable(await c.post("/items", json={"name": "pen"})))  # 422
        seen.append(comparable(await c.post("/items", content=b"{not json")))  # 422
    async with connect(f"{ws_base}/ws") as ws:
        await ws.send("2")
        seen.append(await ws.recv())
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        seen.append(info.value.rcvd.code if info.value.rcvd else None)
    return seen


class NativeHandler(RequestHandler):
    def get(self) -> None:
        self.write("native squall")


def serve(target: Any) -> tuple[HTTPServer, int]:
    sock, port = bind_unused_port()
    server = HTTPServer(target)
    server.add_sockets([sock])
    return server, port


async def stop(server: HTTPServer) -> None:
    server.stop()
    await asyncio.wait_for(server.close_all_connections(), TIMEOUT)


def under_uvicorn(target: str, tmp_path: Path) -> Any:
    return run_server("uvicorn", target, tmp_path)


async def compare(
    exercise: Callable[[str, str], Any],
    app: Any,
    target: str,
    tmp_path: Path,
) -> tuple[list[Any], list[Any]]:
    container = ASGIContainer(app)
    await container.startup()
    server, port = serve(container)
    try:
        ours = await exercise(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    finally:
        await stop(server)
        await container.shutdown()
    with under_uvicorn(target, tmp_path) as uv:
        theirs = await exercise(uv.url, uv.ws_url)
    return ours, theirs


@pytest.mark.gen_test(timeout=60)
async def test_starlette_same_as_under_uvicorn(tmp_path: Path) -> None:
    starlette_app.EVENTS.clear()
    ours, theirs = await compare(
        exercise_starlette, starlette_app.app, "starlette_app:app", tmp_path
    )
    assert ours == theirs
    assert starlette_app.EVENTS == ["startup", "shutdown"]
    assert ours[-1] == 403  # closed before accepting
    assert ours[-2] == (4000, "see you")


@pytest.mark.gen_test(timeout=60)
async def test_fastapi_same_as_under_uvicorn(tmp_path: Path) -> None:
    fastapi_app.EVENTS.clear()
    ours, theirs = await compare(exercise_fastapi, fastapi_app.app, "fastapi_app:app", tmp_path)
    assert ours == theirs
    assert fastapi_app.EVENTS == ["startup", "shutdown"]
    statuses = [entry[0] for entry in ours[:8]]
    assert statuses == [200, 200, 401, 404, 422, 200, 422, 422]
    assert ours[8] == '{"key":"2","value":"two"}'


async def test_errors_in_the_application_are_500s() -> None:
    container = ASGIContainer(starlette_app.app)
    await container.startup()
    server, port = serve(container)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            with ExpectLog("squall.application", "Exception in ASGI application"):
                r = await c.get(f"http://127.0.0.1:{port}/boom")
        assert r.status_code == 500
        assert r.text == "Internal Server Error"
    finally:
        await stop(server)
        await container.shutdown()


async def test_mounted_beside_native_handlers() -> None:
    """A route to the container (streamed) and a FallbackHandler mount
    (buffered body), each with root_path = its prefix, beside a squall handler."""
    application = Application(
        [
            (r"/native", NativeHandler),
            (r"/api/.*", ASGIContainer(starlette_app.app, root_path="/api")),
            (
                r"/fb/.*",
                FallbackHandler,
                {"fallback": ASGIContainer(starlette_app.app, root_path="/fb/")},
            ),
        ]
    )
    server, port = serve(application)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as c:
            assert (await c.get("/native")).text == "native squall"
            for prefix in ("/api", "/fb"):
                # No lifespan ran for these containers: state is empty, and
                # Starlette's request.state then has no greeting.
                r = await c.get(f"{prefix}/items/5?q={prefix}")
                assert r.json() == {"id": 5, "q": prefix}
                big = os.urandom(300_000)
                r = await c.put(f"{prefix}/upload", content=big)
                assert r.json()["sha256"] == hashlib.sha256(big).hexdigest()
                assert (await c.get(f"{prefix}/nothing")).status_code == 404
            assert (await c.get("/elsewhere")).status_code == 404
        async with connect(f"ws://127.0.0.1:{port}/api/ws") as ws:
            await ws.send("mounted")
            assert await ws.recv() == "echo: mounted"
        async with connect(f"ws://127.0.0.1:{port}/fb/ws") as ws:
            await ws.send("fallback")
            assert await ws.recv() == "echo: fallback"
    finally:
        await stop(server)


async def test_root_path_and_path_in_the_scope() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append({k: scope[k] for k in ("path", "raw_path", "root_path", "query_string")})
        seen[-1]["client"] = scope["client"][0]
        seen[-1]["scheme"] = scope["scheme"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    application = Application([(r"/mnt/.*", ASGIContainer(app, root_path="/mnt"))])
    server, port = serve(application)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            r = await c.get(f"http://127.0.0.1:{port}/mnt/a%2Fb/%C3%A9?x=%20")
        assert r.status_code == 204
    finally:
        await stop(server)
    assert seen == [
        {
            "path": "/mnt/a/b/é",
            "raw_path": b"/mnt/a%2Fb/%C3%A9",
            "root_path": "/mnt",
            "query_string": b"x=%20",
            "client": "127.0.0.1",
            "scheme": "http",
        }
    ]
