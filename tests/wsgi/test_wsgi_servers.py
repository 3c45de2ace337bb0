"""A squall WSGIApplication served by real WSGI servers in subprocesses:
gunicorn (sync and gthread workers), waitress, wsgiref.simple_server (with
wsgiref.validate around it), gevent.pywsgi (seed 004) and CGI (seed 001)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import textwrap
from collections.abc import Iterator

import pytest
from wsgi_helpers import PYTHON, fetch, free_port, start_server, stop_server, subprocess_env

XSRF = "00112233445566778899aabbccddeeff"  # a version 1 token: hex
XSRF_HEADERS = {"Cookie": f"_xsrf={XSRF}", "X-Xsrftoken": XSRF}

WSGIREF_VALIDATED = """
import sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
from wsgiref.validate import validator
import wsgi_squall_app

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", int(sys.argv[1]), validator(wsgi_squall_app.{name}),
                     handler_class=Quiet)
server.serve_forever()
"""

WAITRESS = """
import sys
from waitress import serve
import wsgi_squall_app
serve(wsgi_squall_app.{name}, host="127.0.0.1", port=int(sys.argv[1]), threads=4)
"""


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def server_argv(kind: str, port: int, name: str = "application") -> list[str]:
    if kind.startswith("gunicorn"):
        needs("gunicorn")
        worker = kind.split("-")[1]
        extra = ["--threads", "4"] if worker == "gthread" else []
        return [
            PYTHON, "-m", "gunicorn", "--workers", "1", "--worker-class", worker, *extra,
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            f"wsgi_squall_app:{name}",
        ]  # fmt: skip
    if kind == "waitress":
        needs("waitress")
        return [PYTHON, "-c", WAITRESS.format(name=name), str(port)]
    assert kind == "wsgiref"
    return [PYTHON, "-c", WSGIREF_VALIDATED.format(name=name), str(port)]


SERVERS = ["gunicorn-sync", "gunicorn-gthread", "waitress", "wsgiref"]


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    kind = request.param
    port = free_port()
    # The gthread server runs the WSGIAdapter form, the others WSGIApplication.
    name = "adapted" if kind == "gunicorn-gthread" else "application"
    proc = start_server(server_argv(kind, port, name), port)
    yield kind, port
    output = stop_server(proc)
    # The only failure these tests provoke is the deliberate crash.
    assert "WSGIUnsupportedError" not in output
    assert output.count("Traceback") == 1 and "ValueError: handler crashed on purpose" in output


def test_hello_world(served: tuple[str, int]) -> None:
    _, port = served
    reply = fetch(port, "/")
    assert (reply.status, reply.body) == (200, b"Hello, world")
    assert reply.header("Content-Length") == "12"
    assert fetch(port, "/story/7").body == b"You requested the story 7"
    assert fetch(port, "/nowhere").status == 404


def test_template_and_remote_ip(served: tuple[str, int]) -> None:
    _, port = served
    reply = fetch(port, "/hello/ada")
    assert reply.status == 200
    assert b"<h1>Hello, ADA.</h1>" in reply.body
    assert b"You must still be working on this." in reply.body


def test_query_and_percent_encoded_path(served: tuple[str, int]) -> None:
    _, port = served
    data = json.loads(fetch(port, "/json?x=1&x=%C3%A9").body)
    assert data["arguments"] == {"x": ["1", "é"]}
    assert data["remote_ip"] == "127.0.0.1" and data["protocol"] == "http"
    echoed = json.loads(fetch(port, "/echo/caf%C3%A9%20x").body)
    assert echoed == {"path": "/echo/caf%C3%A9%20x", "arg": "café x"}


def test_cookies_signed_cookies_and_xsrf(served: tuple[str, int]) -> None:
    _, port = served
    first = fetch(port, "/secure-cookie")
    assert first.body == b"Your cookie was not set yet!"
    cookie = first.header("Set-Cookie").split(";")[0]
    again = fetch(port, "/secure-cookie", headers={"Cookie": cookie})
    assert again.body == b"Your cookie was set! myvalue"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert fetch(port, "/message", "POST", b"message=hi", form).status == 403
    ok = fetch(port, "/message", "POST", b"message=hi", {**form, **XSRF_HEADERS})
    assert (ok.status, ok.body) == (200, b"You wrote hi")


def test_upload_and_static(served: tuple[str, int]) -> None:
    _, port = served
    payload = bytes(range(256)) * 2000
    boundary = "zzbound"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="p.bin"\r\n\r\n'
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", **XSRF_HEADERS}
    reply = fetch(port, "/upload", "POST", body, headers)
    assert json.loads(reply.body)["files"] == {"f": ["p.bin", hashlib.sha256(payload).hexdigest()]}
    css = fetch(port, "/static/site.css")
    assert (css.status, css.body) == (200, b"body { color: teal; }\n")
    assert css.header("Content-Type") == "text/css"


def test_error_pages(served: tuple[str, int]) -> None:
    _, port = served
    crash = fetch(port, "/crash")
    assert (crash.status, crash.body) == (500, b"custom error page 500")
    legacy = fetch(port, "/legacy-error")
    assert (legacy.status, legacy.body) == (418, b"<p>legacy error page 418</p>")
    assert fetch(port, "/forbidden").status == 403


def test_unsupported_features_fail_with_named_limitation() -> None:
    port = free_port()
    proc = start_server(server_argv("gunicorn-sync", port), port)
    try:
        statuses = {
            path: fetch(port, path).status
            for path in ("/waiting-coroutine", "/async-client", "/asynchronous", "/flush")
        }
        # The server is still healthy afterwards.
        assert fetch(port, "/").body == b"Hello, world"
    finally:
        output = stop_server(proc)
    assert set(statuses.values()) == {500}, statuses
    assert output.count("WSGIUnsupportedError") >= 4, output[-3000:]
    assert "a coroutine handler waited on I/O or a timer" in output
    assert "@asynchronous handlers cannot finish later under WSGI" in output
    assert "flush() cannot send output to the client" in output


def test_seed_001_cgi_handler() -> None:
    """The 1.x walkthrough's App Engine example, as written, with squall."""
    script = textwrap.dedent(
        """
        import squall.web
        import squall.wsgi
        import wsgiref.handlers

        class MainHandler(squall.web.RequestHandler):
            def get(self):
                self.write("Hello, world")

        if __name__ == "__main__":
            application = squall.wsgi.WSGIApplication([
                (r"/", MainHandler),
            ])
            wsgiref.handlers.CGIHandler().run(application)
        """
    )
    cgi_env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "REMOTE_ADDR": "127.0.0.1",
    }
    result = subprocess.run(
        [PYTHON, "-c", script],
        env={**subprocess_env(), **cgi_env},
        capture_output=True,
        timeout=60,
        check=True,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK\r\n")
    assert b"Content-Type: text/html; charset=UTF-8" in head
    assert body == b"Hello, world"
    missing = subprocess.run(
        [PYTHON, "-c", script],
        env={**subprocess_env(), **cgi_env, "PATH_INFO": "/missing"},
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert missing.stdout.startswith(b"Status: 404 Not Found\r\n")


def test_seed_004_under_gevent_pywsgi() -> None:
    needs("gevent")
    port = free_port()
    script = textwrap.dedent(
        f"""
        import gevent.pywsgi
        from squall.web import RequestHandler

        class Handler(RequestHandler):
            def get(self):
                self.write("Hello from gevent, " + self.request.remote_ip)

        from squall.wsgi import WSGIApplication
        app = WSGIApplication([("/", Handler)])
        # for giggles...
        server = gevent.pywsgi.WSGIServer(('127.0.0.1', {port}), app, log=None)
        server.serve_forever()
        """
    )
    proc = start_server([PYTHON, "-c", script], port)
    try:
        reply = fetch(port, "/")
    finally:
        stop_server(proc)
    assert (reply.status, reply.body) == (200, b"Hello from gevent, 127.0.0.1")
