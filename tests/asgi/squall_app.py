"""The squall application the ASGI tests serve (imported by server subprocesses too).

``uvicorn tests.asgi.squall_app:app`` serves it; every route exercises one
part of the bridge: plain answers, the request as the handler saw it, a
streamed upload, a streamed download, a long poll whose client leaves,
WebSocket echo, lifespan hooks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from typing import Any

from squall import web, websocket
from squall.asgi import lifespan_state, to_asgi

# What the hooks and handlers record, read back through /events.
EVENTS: list[str] = []


class HelloHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class EchoRequestHandler(web.RequestHandler):
    """The request as squall sees it, as JSON."""

    def _describe(self) -> None:
        connection: Any = self.request.connection
        scope = getattr(connection, "scope", {})
        self.write(
            {
                "method": self.request.method,
                "uri": self.request.uri,
                "path": self.request.path,
                "query": self.request.query,
                "remote_ip": self.request.remote_ip,
                "protocol": self.request.protocol,
                "host": self.request.host,
                "arguments": {k: self.get_argument(k) for k in self.request.arguments},
                "body": self.request.body.decode("latin-1"),
                "path_args": self.path_args,
                "state": sorted((scope.get("state") or {}).keys()),
                "cookie": self.get_cookie("c"),
            }
        )

    def get(self, *args: str) -> None:
        self._describe()

    def post(self, *args: str) -> None:
        self._describe()


class HeadersHandler(web.RequestHandler):
    def get(self) -> None:
        self.set_status(201)
        self.set_header("X-Custom", "one")
        self.add_header("X-Multi", "a")
        self.add_header("X-Multi", "b")
        self.set_cookie("k", "v")
        self.write("made")


class ErrorHandler(web.RequestHandler):
    def get(self) -> None:
        raise web.HTTPError(418)


@web.stream_request_body
class UploadHandler(web.RequestHandler):
    """Hashes the body as it arrives; answers the chunk count and digest."""

    def prepare(self) -> None:
        limit = self.get_query_argument("limit", None)
        if limit is not None:
            self.request.connection.set_max_body_size(int(limit))  # type: ignore[union-attr]
        self.digest = hashlib.sha256()
        self.size = 0
        self.chunks = 0

    async def data_received(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        self.chunks += 1
        await asyncio.sleep(0)

    def put(self) -> None:
        self.write({"size": self.size, "sha256": self.digest.hexdigest(), "chunks": self.chunks})


class DownloadHandler(web.RequestHandler):
    """``count`` chunks of ``size`` bytes, each flushed (awaited) on its own."""

    async def get(self) -> None:
        count = int(self.get_argument("count", "8"))
        size = int(self.get_argument("size", "65536"))
        for i in range(count):
            self.write(bytes([65 + i % 26]) * size)
            await self.flush()
        EVENTS.append(f"download done {count}")


class LongPollHandler(web.RequestHandler):
    """Never answers; records the client going away."""

    async def get(self) -> None:
        self.waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        EVENTS.append("poll waiting")
        await self.waiter

    def on_connection_close(self) -> None:
        EVENTS.append("poll closed")
        if not self.waiter.done():
            self.waiter.set_result(None)


class EventsHandler(web.RequestHandler):
    def get(self) -> None:
        self.write(json.dumps(EVENTS))


class EchoWebSocket(websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return origin != "http://evil.example"

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "echo.v1" if "echo.v1" in subprotocols else None

    def open(self, *args: str, **kwargs: str) -> None:
        EVENTS.append(f"ws open {self.selected_subprotocol}")

    async def on_message(self, message: str | bytes) -> None:
        if message == "close me":
            self.close(4001, "asked to")
            return
        if message == "fail":
            raise ValueError("on_message failure (expected)")
        await self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        EVENTS.append(f"ws closed {self.close_code} {self.close_reason}")


class DenyWebSocket(websocket.WebSocketHandler):
    def prepare(self) -> None:
        raise web.HTTPError(403, reason="no websockets for you")


async def startup() -> None:
    EVENTS.append("startup")
    try:
        lifespan_state()["pool"] = "ready"
    except LookupError:
        pass


def shutdown() -> None:
    EVENTS.append("shutdown")
    # A server subprocess reports its events on the way out.
    path = os.environ.get("SQUALL_ASGI_EVENTS_FILE")
    if path:
        with open(path, "w") as f:
            json.dump(EVENTS, f)


def make_application() -> web.Application:
    application = web.Application(
        [
            (r"/", HelloHandler),
            (r"/echo/(.*)", EchoRequestHandler),
            (r"/echo", EchoRequestHandler),
            (r"/headers", HeadersHandler),
            (r"/teapot", ErrorHandler),
            (r"/upload", UploadHandler),
            (r"/download", DownloadHandler),
            (r"/poll", LongPollHandler),
            (r"/events", EventsHandler),
            (r"/ws", EchoWebSocket),
            (r"/ws-deny", DenyWebSocket),
        ]
    )
    application.on_startup.append(startup)
    application.on_shutdown.append(shutdown)
    return application


app = to_asgi(make_application())
