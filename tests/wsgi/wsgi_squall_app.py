"""A squall application served as WSGI (by gunicorn, waitress, wsgiref and
CGI in the tests): the features that work under WSGI, and handlers for
each feature that cannot."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from squall import web
from squall.httpclient import AsyncHTTPClient
from squall.ioloop import IOLoop
from squall.websocket import WebSocketHandler
from squall.wsgi import WSGIAdapter, WSGIApplication

SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "squall_site")
COOKIE_SECRET = "61oETzKXQAGaYdkL5gEmGeJJFuYh7EQnp2XdTP1o/Vo="


class MainHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class StoryHandler(web.RequestHandler):
    def get(self, story_id: str) -> None:
        self.write("You requested the story " + story_id)


class MessageHandler(web.RequestHandler):
    def get(self) -> None:
        self.write('<form action="/message" method="post">' + self.xsrf_form_html() + "</form>")

    def post(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write("You wrote " + self.get_argument("message"))


class TemplateHandler(web.RequestHandler):
    def get(self, username: str) -> None:
        self.render("template.html", ip=self.request.remote_ip, username=username)


class CookieHandler(web.RequestHandler):
    def get(self) -> None:
        if not self.get_cookie("mycookie"):
            self.set_cookie("mycookie", "myvalue")
            self.write("Your cookie was not set yet!")
        else:
            self.write("Your cookie was set!")


class SecureCookieHandler(web.RequestHandler):
    def get(self) -> None:
        value = self.get_secure_cookie("mycookie")
        if not value:
            self.set_secure_cookie("mycookie", "myvalue")
            self.write("Your cookie was not set yet!")
        else:
            self.write("Your cookie was set! " + value.decode())


class JSONHandler(web.RequestHandler):
    def get(self) -> None:
        self.write(
            {
                "remote_ip": self.request.remote_ip,
                "protocol": self.request.protocol,
                "host": self.request.host,
                "path": self.request.path,
                "query": self.request.query,
                "arguments": {k: self.get_arguments(k) for k in self.request.arguments},
            }
        )

    def put(self) -> None:
        self.write(
            {"length": len(self.request.body), "type": self.request.headers.get("Content-Type")}
        )


class UploadHandler(web.RequestHandler):
    def post(self) -> None:
        import hashlib

        files = {
            name: [f.filename, hashlib.sha256(f.body).hexdigest()]
            for name, infos in self.request.files.items()
            for f in infos
        }
        self.write({"files": files, "title": self.get_body_argument("title", "")})


@web.stream_request_body
class StreamedBodyHandler(web.RequestHandler):
    def prepare(self) -> None:
        self.pieces = 0
        self.size = 0

    def data_received(self, chunk: bytes) -> None:
        self.pieces += 1
        self.size += len(chunk)

    def put(self) -> None:
        self.write({"pieces": self.pieces, "size": self.size})


class EchoPathHandler(web.RequestHandler):
    def get(self, arg: str) -> None:
        self.write({"path": self.request.path, "arg": arg})


class ForbiddenHandler(web.RequestHandler):
    def get(self) -> None:
        raise web.HTTPError(403)


class CrashHandler(web.RequestHandler):
    def get(self) -> None:
        raise ValueError("handler crashed on purpose")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.write(f"custom error page {status_code}")


class LegacyErrorHandler(web.RequestHandler):
    def get(self) -> None:
        raise web.HTTPError(418)

    def get_error_html(self, status_code: int, **kwargs: Any) -> str:
        return f"<p>legacy error page {status_code}</p>"


class CoroutineHandler(web.RequestHandler):
    async def get(self) -> None:
        # A coroutine that never waits on the loop completes under WSGI.
        await asyncio.sleep(0)
        self.write("coroutine finished without waiting")


class WaitingCoroutineHandler(web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(3600)
        self.write("never")


class AsyncClientHandler(web.RequestHandler):
    async def get(self) -> None:
        response = await AsyncHTTPClient().fetch(f"http://{self.request.host}/")
        self.write(response.body)


class AsynchronousHandler(web.RequestHandler):
    @web.asynchronous
    def get(self) -> None:
        IOLoop.current().call_later(3600, self.finish)


class FlushHandler(web.RequestHandler):
    def get(self) -> None:
        self.write("first part")
        self.flush()
        self.write("second part")


class EchoWebSocket(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


def make_handlers() -> list[Any]:
    return [
        (r"/", MainHandler),
        (r"/story/([0-9]+)", StoryHandler),
        (r"/message", MessageHandler),
        (r"/hello/(\w+)", TemplateHandler),
        (r"/cookie", CookieHandler),
        (r"/secure-cookie", SecureCookieHandler),
        (r"/json", JSONHandler),
        (r"/upload", UploadHandler),
        (r"/streamed-body", StreamedBodyHandler),
        (r"/echo/(.*)", EchoPathHandler),
        (r"/forbidden", ForbiddenHandler),
        (r"/crash", CrashHandler),
        (r"/legacy-error", LegacyErrorHandler),
        (r"/coroutine", CoroutineHandler),
        (r"/waiting-coroutine", WaitingCoroutineHandler),
        (r"/async-client", AsyncClientHandler),
        (r"/asynchronous", AsynchronousHandler),
        (r"/flush", FlushHandler),
        (r"/websocket", EchoWebSocket),
    ]


SETTINGS: dict[str, Any] = {
    "cookie_secret": COOKIE_SECRET,
    "template_path": os.path.join(SITE, "templates"),
    "static_path": os.path.join(SITE, "static"),
    "xsrf_cookies": True,
}

# Tornado 1.x style: the application is the WSGI callable.
application = WSGIApplication(make_handlers(), **SETTINGS)

# Tornado 4/5 style: an ordinary Application wrapped by WSGIAdapter.
adapted = WSGIAdapter(web.Application(make_handlers(), **SETTINGS))
