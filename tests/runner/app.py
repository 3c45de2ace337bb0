"""The application the runner tests serve (``python -m squall tests.runner.app:app``)."""

from __future__ import annotations

import asyncio
import os

from squall import web, websocket
from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("hello")


class Pid(web.RequestHandler):
    def get(self) -> None:
        self.write(str(os.getpid()))


class Slow(web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("seconds", "1")))
        self.write("slow done")


class Forever(web.RequestHandler):
    async def get(self) -> None:
        self.write("started\n")
        await self.flush()
        await asyncio.Event().wait()


class Who(web.RequestHandler):
    def get(self) -> None:
        self.write({"remote_ip": self.request.remote_ip, "protocol": self.request.protocol})


class Echo(websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def make_app() -> web.Application:
    return web.Application(
        [
            (r"/", Hello),
            (r"/pid", Pid),
            (r"/slow", Slow),
            (r"/forever", Forever),
            (r"/who", Who),
            (r"/ws", Echo),
        ]
    )


app = make_app()


def plain_callback(request: HTTPServerRequest) -> None:
    """A request callable (HTTPServer's oldest interface)."""
    body = b"callback"
    headers = HTTPHeaders({"Content-Length": str(len(body))})
    assert request.connection is not None
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
    request.connection.finish()


not_servable = 42


class LongPoll(web.RequestHandler):
    """Waits for a message that never comes, as a chat client's poll does;
    ends when the client leaves (on_connection_close)."""

    async def get(self) -> None:
        self.waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        except asyncio.CancelledError:
            return
        self.write("message")

    def on_connection_close(self) -> None:
        self.waiter.cancel()


app.add_handlers(".*", [(r"/poll", LongPoll)])
