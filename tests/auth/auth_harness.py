"""Test plumbing: WSGI providers in a thread, a squall app on a free port,
and a browser (a requests Session: cookies, redirects) run off the loop."""

from __future__ import annotations

import socketserver
import threading
import wsgiref.simple_server
from collections.abc import Callable
from typing import Any

import requests


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
