"""Test plumbing: WSGI providers in a thread, a squall app on a free port,
and a browser (a requests Session: cookies, redirects) run off the loop."""

from __future__ import annotations

import socketserver
import threading
import urllib.parse
import wsgiref.simple_server
from collections.abc import Callable
from typing import Any

import requests

from squall.auth import AuthError


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    block_on_close = True


class WSGIThread:
    """Serve a WSGI app on 127.0.0.1 (a free port) from a thread."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.server = wsgiref.simple_server.make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


class Browser:
    """A visitor: a requests Session (cookie jar, follows redirects)."""

    def __init__(self, io_loop: Any) -> None:
        self.io_loop = io_loop
        self.session = requests.Session()

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 10)
        return self.io_loop.run_in_executor(None, lambda: self.session.get(url, **kwargs))

    def close(self) -> None:
        self.session.close()


async def walk(browser: Browser, url: str, stop: Callable[[str], bool] | None = None) -> Any:
    """Follow redirects one by one from ``url``. Returns the final response,
    or, when ``stop(next_url)`` is true, that next URL without requesting it."""
    for _ in range(20):
        response = await browser.get(url, allow_redirects=False)
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        url = requests.compat.urljoin(url, response.headers["Location"])
        if stop is not None and stop(url):
            return url
    raise AssertionError("redirect loop")


def here(handler):
    return f"{handler.request.protocol}://{handler.request.host}{handler.request.path}"


class AuthErrorAs403:
    """Handler mixin: an AuthError becomes a 403 whose JSON names it."""

    def write_error(self, status_code, **kwargs):
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, AuthError):
            self.write({"error": str(error)})
        else:
            super().write_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb):
        if not isinstance(value, AuthError):
            super().log_exception(typ, value, tb)

    def send_error(self, status_code=500, **kwargs):
        exc = kwargs.get("exc_info", (None, None))[1]
        super().send_error(403 if isinstance(exc, AuthError) else status_code, **kwargs)


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def with_query(url, **changes):
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


class TornadoThread:
    """A Tornado application on its own asyncio loop in a thread, for
    comparing squall's mixins with Tornado's against the same provider."""

    def __init__(self, make_app: Callable[[int], Any]) -> None:
        import asyncio
        import socket

        self._asyncio = asyncio
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._make_app = make_app
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        self._asyncio.run(self._serve())

    async def _serve(self) -> None:
        from tornado.httpclient import AsyncHTTPClient
        from tornado.httpserver import HTTPServer as TornadoServer

        self._stop = self._asyncio.Event()
        self._loop = self._asyncio.get_running_loop()
        server = TornadoServer(self._make_app(self.port))
        server.add_sockets([self._sock])
        self._ready.set()
        await self._stop.wait()
        server.stop()
        await server.close_all_connections()
        AsyncHTTPClient().close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
