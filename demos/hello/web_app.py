"""The seeds' hello world as a small site: a page, a JSON endpoint, a form.

Built only on squall's public API: ``squall.web`` handlers and routes,
``get_argument``, ``write(dict)``, ``HTTPError``, ``reverse_url``.
"""

from __future__ import annotations

from squall.escape import xhtml_escape
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.web import Application, HTTPError, RequestHandler, url

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>squall</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:3em auto}}</style></head>
<body><h1>Hello from squall</h1>
<p>A web framework in the Tornado tradition, on asyncio, httptools and uvloop.</p>
<form action="{greet}" method="get">
<label>Your name <input name="name" maxlength="64"></label> <button>Greet me</button>
</form>
<p>{greeting}</p>
<p><a href="{info}">request info as JSON</a></p>
</body></html>
"""

# A name longer than this is refused with 400 rather than echoed.
MAX_NAME_LENGTH = 64


class MainHandler(RequestHandler):
    def get(self) -> None:
        name = self.get_argument("name", "")
        if len(name) > MAX_NAME_LENGTH:
            raise HTTPError(400, "name too long", reason="Name too long")
        greeting = f"Hello, {xhtml_escape(name)}!" if name else ""
        self.write(
            PAGE.format(
                greet=self.reverse_url("home"), info=self.reverse_url("info"), greeting=greeting
            )
        )


class InfoHandler(RequestHandler):
    def get(self) -> None:
        self.write(
            {
                "method": self.request.method,
                "path": self.request.path,
                "remote_ip": self.request.remote_ip,
                "headers": dict(self.request.headers),
            }
        )


def make_app() -> Application:
    return Application(
        [url(r"/", MainHandler, name="home"), url(r"/info", InfoHandler, name="info")]
    )


def main(port: int = 8888, address: str = "127.0.0.1", processes: int = 1) -> None:
    server = HTTPServer(make_app())
    server.bind(port, address=address)
    server.start(processes)
    IOLoop.current().start()
