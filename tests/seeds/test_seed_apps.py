"""The seeds' hello-world programs, as written with ``squall`` for
``tornado``, run as real processes and requested over real sockets."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SEED_000 = """
import squall.httpserver
import squall.ioloop
import squall.web

class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

application = squall.web.Application([
    (r"/", MainHandler),
])

if __name__ == "__main__":
    http_server = squall.httpserver.HTTPServer(application)
    http_server.listen(PORT)
    squall.ioloop.IOLoop.instance().start()
"""

SEED_001 = """
import squall.ioloop
import squall.web

class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

application = squall.web.Application([
    (r"/", MainHandler),
])

if __name__ == "__main__":
    application.listen(PORT)
    squall.ioloop.IOLoop.instance().start()
"""

SEED_003 = """
import asyncio
import squall.web

class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

def make_app():
    return squall.web.Application([
        (r"/", MainHandler),
    ])

async def main():
    app = make_app()
    app.listen(PORT)
    await asyncio.Event().wait()

if __name__ == "__main__":
    asyncio.run(main())
"""

SEED_004 = """
from squall.web import Application, RequestHandler
from squall.ioloop import IOLoop

class HomeHandler(RequestHandler):
    def get(self):
        self.set_header("Content-type", "text/plain")
        self.write("Hello, world!")

if __name__ == "__main__":
    app = Application([("/", HomeHandler)])
    app.listen(PORT)
    IOLoop.instance().start()
"""

MULTI_PROCESS = """
import os
import squall.web
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop

class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write(str(os.getpid()))

if __name__ == "__main__":
    server = HTTPServer(squall.web.Application([(r"/", MainHandler)]))
    server.bind(PORT, address="127.0.0.1")
    server.start(0)  # one process per CPU
    IOLoop.current().start()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(tmp_path: Path, source: str):
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source).replace("PORT", str(port)))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", str(script)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                pytest.fail(f"server did not start: {err.decode()}")
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err.decode()


def get(port: int, path: str = "/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    result = r.status, dict(r.getheaders()), r.read()
    conn.close()
    return result


@pytest.mark.parametrize(
    "source", [SEED_000, SEED_001, SEED_003], ids=["seed000", "seed001", "seed003"]
)
def test_seed_hello_world_programs(tmp_path, source):
    proc, port = run_script(tmp_path, source)
    try:
        status, headers, body = get(port)
    finally:
        err = stop(proc)
    assert (status, body) == (200, b"Hello, world")
    assert headers["Content-Type"] == "text/html; charset=UTF-8"
    assert headers["Content-Length"] == "12"
    assert headers["Etag"] == '"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8"'
    assert "Traceback" not in err


def test_seed_004_talk_hello(tmp_path):
    proc, port = run_script(tmp_path, SEED_004)
    try:
        status, headers, body = get(port)
    finally:
        stop(proc)
    assert (status, body) == (200, b"Hello, world!")
    assert headers["Content-Type"] == "text/plain"


def test_bind_start_zero_forks_one_process_per_cpu(tmp_path):
    proc, port = run_script(tmp_path, MULTI_PROCESS)
    try:
        pids = set()
        deadline = time.monotonic() + 20
        from squall.process import cpu_count

        expected = cpu_count()
        while len(pids) < expected and time.monotonic() < deadline:
            status, _, body = get(port)
            assert status == 200
            pids.add(int(body))
    finally:
        stop(proc)
    assert len(pids) == expected
    assert proc.pid not in pids  # the parent only supervises
