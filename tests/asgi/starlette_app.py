"""A Starlette application for the container tests (also served by uvicorn).

Routes cover what the comparison looks at: JSON, path and query, a
streamed upload and download, lifespan state, errors, WebSocket echo with
a subprotocol, a close with a code, and a refused handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

# Lifespan events, read by in-process tests.
EVENTS: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    EVENTS.append("startup")
    yield {"greeting": "hello from lifespan"}
    EVENTS.append("shutdown")


async def home(request: Request) -> Response:
    return JSONResponse(
        {
            "path": request.url.path,
            "root_path": request.scope.get("root_path"),
            "query": dict(request.query_params),
            "client_is_local": request.client is not None and request.client.host == "127.0.0.1",
            "scheme": request.url.scheme,
            "state": request.state.greeting,
        }
    )


async def item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"], "q": request.query_params.get("q")})


async def echo(request: Request) -> Response:
    body = await request.json()
    return JSONResponse({"echo": body}, status_code=201, headers={"X-Echo": "yes"})


async def upload(request: Request) -> Response:
    digest = hashlib.sha256()
    size = 0
    chunks = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
        chunks += 1 if chunk else 0
    return JSONResponse({"size": size, "sha256": digest.hexdigest(), "streamed": chunks > 1})


async def download(request: Request) -> Response:
    count = int(request.query_params.get("count", "16"))

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(count):
            yield bytes([97 + i % 26]) * 32768
            await asyncio.sleep(0)

    return StreamingResponse(pieces(), media_type="application/octet-stream")


async def boom(request: Request) -> Response:
    raise RuntimeError("boom (expected)")


async def text(request: Request) -> Response:
    return PlainTextResponse("plain text", headers={"Set-Cookie": "a=b; Path=/"})


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept(
        subprotocol="chat" if "chat" in websocket.scope["subprotocols"] else None
    )
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "bye":
                await websocket.close(code=4000, reason="see you")
                return
            if message.get("text") is not None:
                await websocket.send_text("echo: " + message["text"])
            else:
                await websocket.send_bytes(message["bytes"][::-1])
    except WebSocketDisconnect:
        return


async def ws_refuse(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/items/{item_id:int}", item),
        Route("/echo", echo, methods=["POST"]),
        Route("/upload", upload, methods=["POST", "PUT"]),
        Route("/download", download),
        Route("/boom", boom),
        Route("/text", text),
        WebSocketRoute("/ws", ws_echo),
        WebSocketRoute("/ws-refuse", ws_refuse),
    ],
    lifespan=lifespan,
)
