"""Differential checks against Tornado's own WSGIContainer (observed over
sockets, in the same event loop): where PEP 3333 leaves room, squall's
container answers with the same statuses, bodies and headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from squall.testing import bind_unused_port
from squall.wsgi import WSGIApplication, WSGIContainer

tornado_wsgi = pytest.importorskip("tornado.wsgi")
tornado_httpserver = pytest.importorskip("tornado.httpserver")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/typed":
        start_response("200 OK", [("Content-Type", "application/json"), ("X-A", "1")])
        return [b'{"a": ', b"1}"]
    if path == "/created":
        start_response("201 Created", [("Location", "/typed")])
        return [b"made"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such thing"]
    start_response("200 OK", [])  # no Content-Type: the container picks one
    return [path.encode("latin-1"), b"|", environ["QUERY_STRING"].encode()]


IGNORED = {"date", "server"}

PATHS = ["/", "/caf%C3%A9?x=%20", "/typed", "/created", "/empty", "/missing"]


async def test_same_answers_as_tornados_container(serve: Any, get: Any) -> None:
    # GET only: Tornado's container answers HEAD to an application that
    # returns a body by failing ("more data than Content-Length").
    method = "GET"
    ours = serve(WSGIContainer(app))
    sock, theirs = bind_unused_port()
    server = tornado_httpserver.HTTPServer(tornado_wsgi.WSGIContainer(app))
    server.add_sockets([sock])
    try:
        for path in PATHS:
            a = await get(ours, path, method=method)
            b = await get(theirs, path, method=method)
            assert (a.status, a.reason, a.body) == (b.status, b.reason, b.body), path
            ours_headers = sorted((k, v) for k, v in a.headers.items() if k.lower() not in IGNORED)
            their_headers = sorted((k, v) for k, v in b.headers.items() if k.lower() not in IGNORED)
            if path == "/empty":
                # Tornado adds Content-Length: 0 and a Content-Type to a 204;
                # RFC 9110 §8.6 forbids Content-Length there, so we do not.
                assert ours_headers == []
                continue
            assert ours_headers == their_headers, path
    finally:
        server.stop()
        await server.close_all_connections()


async def test_squall_wsgi_application_inside_squall_container(serve: Any, get: Any) -> None:
    """Both directions at once: a squall WSGIApplication served through a
    WSGIContainer (its pool threads each get a private loop, closed when
    the pool stops, with no ResourceWarning)."""
    from squall.web import RequestHandler

    class Handler(RequestHandler):
        def get(self) -> None:
            self.set_cookie("seen", "yes")
            self.write({"ip": self.request.remote_ip, "arg": self.get_argument("a", "")})

    container = WSGIContainer(WSGIApplication([(r"/", Handler)]), max_workers=2)
    port = serve(container)
    for n in range(4):
        reply = await get(port, f"/?a={n}")
        assert reply.status == 200
        assert reply.body == b'{"ip": "127.0.0.1", "arg": "%d"}' % n
        assert reply.header("Set-Cookie").startswith("seen=yes")
