"""Tornado 6.3's own demos, unchanged, under ``python -m squall.tornado``.

The demos come from Tornado's source distribution on PyPI, downloaded at
test time into a cache directory outside the repository (never stored
here). Each demo runs as its own process; real clients drive it: http.client
and squall's own clients (not the demo's code), a websockets-library peer
where one is installed, and the demos' own client programs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMOS_VERSION = "6.3"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "squall-compat"
# pip fetching one source archive from the index.
DOWNLOAD_TIMEOUT = 300.0
# A demo process: start-up until its port answers, and a client program's run.
START_TIMEOUT = 20.0
CLIENT_TIMEOUT = 30.0
# One HTTP exchange with a demo (a long poll included).
REQUEST_TIMEOUT = 10.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demos() -> Path:
    """Tornado 6.3's demos/ directory, extracted once into the cache."""
    target = CACHE / f"tornado-{DEMOS_VERSION}-demos"
    marker = target / ".complete"
    if not marker.exists():
        sdists = CACHE / "sdist"
        sdists.mkdir(parents=True, exist_ok=True)
        archive = sdists / f"tornado-{DEMOS_VERSION}.tar.gz"
        if not archive.exists():
            result = subprocess.run(
                [
                    *(sys.executable, "-m", "pip", "download", "-q", "--no-deps"),
                    *("--no-binary", ":all:", "-d", str(sdists), f"tornado=={DEMOS_VERSION}"),
                ],
                capture_output=True,
                text=True,
                timeout=DOWNLOAD_TIMEOUT,
                check=False,
            )
            if result.returncode != 0 or not archive.exists():
                pytest.skip(
                    f"cannot download Tornado {DEMOS_VERSION}'s sdist: {result.stderr[-300:]}"
                )
        prefix = f"tornado-{DEMOS_VERSION}/demos/"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.isreg()]
            for member in members:
                member.name = member.name[len(prefix) :]
                tar.extract(member, target, filter="data")
        marker.touch()
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"demo exited early:\n{process.communicate()[1][-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"demo did not listen on {port} within {START_TIMEOUT}s")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SQUALL_AS_TORNADO"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@contextlib.contextmanager
def _running(
    script: Path, *args: str, port: int, real_tornado: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """The demo ``script`` under ``python -m squall.tornado`` (or, as the
    reference, under the real Tornado installed here), until the block ends."""
    runner = [] if real_tornado else ["-m", "squall.tornado"]
    process = subprocess.Popen(
        [sys.executable, *runner, str(script), *args],
        cwd=str(script.parent),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _run_client(
    script: Path, *args: str, real_tornado: bool = False
) -> subprocess.CompletedProcess[str]:
    runner = [] if real_tornado else ["-m", "squall.tornado"]
    return subprocess.run(
        [sys.executable, *runner, str(script), *args],
        cwd=str(script.parent),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )


def _request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes, list[str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        cookies = response.headers.get_all("Set-Cookie") or []
        return response.status, dict(response.headers), response.read(), cookies
    finally:
        connection.close()


def test_helloworld(demos: Path) -> None:
    port = _free_port()
    with _running(demos / "helloworld" / "helloworld.py", f"--port={port}", port=port):
        status, headers, body, _ = _request(port, "GET", "/")
        assert (status, body) == (200, b"Hello, world")
        assert headers["Content-Type"] == "text/html; charset=UTF-8"
        assert _request(port, "GET", "/missing")[0] == 404


def test_tcpecho_server_and_client(demos: Path) -> None:
    port = _free_port()
    with _running(demos / "tcpecho" / "server.py", f"--port={port}", port=port):
        with socket.create_connection(("127.0.0.1", port), REQUEST_TIMEOUT) as sock:
            sock.sendall(b"first line\nsecond")
            received = b""
            while not received.endswith(b"first line\n"):
                chunk = sock.recv(100)
                assert chunk, "server closed early"
                received += chunk
            assert received == b"first line\n"
        result = _run_client(
            demos / "tcpecho" / "client.py", "--host=127.0.0.1", f"--port={port}", "--message=hi"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["Sent to server: hi", "Response from server: hi"]


def test_chat_long_polling(demos: Path) -> None:
    port = _free_port()
    with _running(demos / "chat" / "chatdemo.py", f"--port={port}", "--debug=false", port=port):
        status, _, page, cookies = _request(port, "GET", "/")
        assert status == 200
        assert b"<title>Tornado Chat Demo</title>" in page
        xsrf = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("_xsrf="))
        cookie = {"Cookie": f"_xsrf={xsrf}"}
        form = {"Content-Type": "application/x-www-form-urlencoded", **cookie}
        # Without the token the post is refused.
        refused = _request(port, "POST", "/a/message/new", b"body=hi", form)
        assert refused[0] == 403
        post = urllib.parse.urlencode({"body": "hello <world>", "_xsrf": xsrf}).encode()
        status, _, body, _ = _request(port, "POST", "/a/message/new", post, form)
        assert status == 200
        message = json.loads(body)
        assert message["body"] == "hello <world>"
        assert "hello &lt;world&gt;" in message["html"]
        # A long poll with no cursor gets what is there; with the latest
        # cursor it waits for the next message, posted meanwhile.
        updates = urllib.parse.urlencode({"_xsrf": xsrf}).encode()
        status, _, body, _ = _request(port, "POST", "/a/message/updates", updates, form)
        assert [m["id"] for m in json.loads(body)["messages"]] == [message["id"]]
        poll = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            waiting = urllib.parse.urlencode({"_xsrf": xsrf, "cursor": message["id"]}).encode()
            poll.request("POST", "/a/message/updates", body=waiting, headers=form)
            time.sleep(0.2)  # let the poll reach the server and wait
            second = urllib.parse.urlencode({"body": "second", "_xsrf": xsrf}).encode()
            assert _request(port, "POST", "/a/message/new", second, form)[0] == 200
            answer = poll.getresponse()
            assert answer.status == 200
            assert [m["body"] for m in json.loads(answer.read())["messages"]] == ["second"]
        finally:
            poll.close()


def test_websocket_chat(demos: Path) -> None:
    websockets_sync = pytest.importorskip("websockets.sync.client")
    port = _free_port()
    with _running(demos / "websocket" / "chatdemo.py", f"--port={port}", port=port):
        status, _, page, _ = _request(port, "GET", "/")
        assert status == 200 and b"<title>Tornado Chat Demo</title>" in page
        url = f"ws://127.0.0.1:{port}/chatsocket"
        with (
            websockets_sync.connect(url, origin=f"http://127.0.0.1:{port}") as alice,
            websockets_sync.connect(url, origin=f"http://127.0.0.1:{port}") as bob,
        ):
            time.sleep(0.1)  # both registered as waiters before the message
            alice.send(json.dumps({"body": "hi <bob>"}))
            for peer in (alice, bob):
                chat = json.loads(peer.recv(timeout=REQUEST_TIMEOUT))
                assert chat["body"] == "hi <bob>"
                assert "hi &lt;bob&gt;" in chat["html"]
        # A page from another origin may not connect.
        with pytest.raises(Exception, match="403"):
            websockets_sync.connect(url, origin="http://evil.example", open_timeout=5)


def test_file_upload_receiver(demos: Path, tmp_path: Path) -> None:
    # The receiver hard-codes port 8888.
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8888))
        except OSError:
            pytest.skip("port 8888, which the demo hard-codes, is in use")
    receiver = demos / "file_upload" / "file_receiver.py"
    with _running(receiver, "--logging=info", port=8888) as server:
        # A streamed PUT (chunked, as the demo's uploader sends), then a
        # multipart POST as a browser form sends it.
        connection = http.client.HTTPConnection("127.0.0.1", 8888, timeout=REQUEST_TIMEOUT)
        try:
            pieces = (b"y" * 30_000 for _ in range(4))
            connection.request(
                "PUT",
                "/big%20file.bin",
                body=pieces,
                headers={"Content-Type": "application/octet-stream"},
                encode_chunked=True,
            )
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (200, b"OK")
        finally:
            connection.close()
        boundary = "squallboundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + b"\x00\x01" * 10
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, _, reply, _ = _request(8888, "POST", "/post", body, headers)
        assert (status, reply) == (200, b"OK")
        server.terminate()
        _, log = server.communicate(timeout=START_TIMEOUT)
    assert 'PUT "big file.bin" "application/octet-stream" 120000 bytes' in log
    assert 'POST "a.bin" "application/octet-stream" 20 bytes' in log


def test_file_uploader_fails_as_on_tornado(demos: Path, tmp_path: Path) -> None:
    # Tornado 6.3's uploader hands asyncio.run() the Future of a
    # @gen.coroutine, which asyncio refuses; it fails the same way on the
    # real Tornado installed here, before any connection is made.
    upload = tmp_path / "payload.txt"
    upload.write_bytes(b"data")
    uploader = demos / "file_upload" / "file_uploader.py"
    ours = _run_client(uploader, str(upload))
    reference = _run_client(uploader, str(upload), real_tornado=True)
    assert ours.returncode == reference.returncode == 1
    last_line = "ValueError: a coroutine was expected, got <Future pending"
    assert ours.stderr.strip().splitlines()[-1].startswith(last_line)
    assert reference.stderr.strip().splitlines()[-1].startswith(last_line)


SPIDER_RUNNER = """
import runpy, sys
from tornado.netutil import OverrideResolver, Resolver
# The spider crawls www.tornadoweb.org; here that name leads to a local site.
Resolver.configure(
    OverrideResolver,
    resolver=Resolver(),
    mapping={{("www.tornadoweb.org", 80): ("127.0.0.1", {port})}},
)
runpy.run_path({script!r}, run_name="__main__")
"""


def test_webspider_crawls_a_site(demos: Path, tmp_path: Path) -> None:
    # A small site of linked pages, one of them missing, served by squall.
    site = tmp_path / "site.py"
    site.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from squall import web
            PAGES = {
                "": ["a.html", "b.html", "https://elsewhere.example/"],
                "a.html": ["b.html", "c.html"],
                "b.html": ["missing.html", "a.html#top"],
                "c.html": [],
            }
            class Page(web.RequestHandler):
                def get(self, name):
                    if name not in PAGES:
                        raise web.HTTPError(404)
                    links = "".join(f'<a href="{href}">x</a>' for href in PAGES[name])
                    self.write(f"<html><body>{links}</body></html>")
            async def main():
                app = web.Application([(r"/en/stable/(.*)", Page)])
                app.listen(int(sys.argv[1]), address="127.0.0.1")
                await asyncio.Event().wait()
            asyncio.run(main())
            """
        )
    )
    port = _free_port()
    runner = tmp_path / "spider_runner.py"
    runner.write_text(
        SPIDER_RUNNER.format(port=port, script=str(demos / "webspider" / "webspider.py"))
    )
    server = subprocess.Popen(
        [sys.executable, str(site), str(port)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, server)
        result = _run_client(runner)
    finally:
        server.terminate()
        server.communicate(timeout=START_TIMEOUT)
    assert result.returncode == 0, result.stderr
    fetched = set(re.findall(r"^fetched (\S+)$", result.stdout, re.MULTILINE))
    base = "http://www.tornadoweb.org/en/stable/"
    assert fetched == {base, base + "a.html", base + "b.html", base + "c.html"}
    assert "fetched 4 URLs." in result.stdout
    assert "Unable to fetch 1 URLs." in result.stdout


S3_REQUESTS = [
    ("PUT", "/photos", None),  # no trailing slash: not a bucket route
    ("PUT", "/photos/", None),
    ("GET", "/", None),
    ("GET", "/photos/", None),
    ("GET", "/photos/?prefix=c&max-keys=1", None),
    # The demo's object routes call urllib.unquote, gone in Python 3: a 500
    # on Tornado too.
    ("PUT", "/photos/cat.jpg", b"meow"),
    ("GET", "/nothing/", None),
    ("DELETE", "/photos/", None),
    ("DELETE", "/photos/", None),
]


def _s3_session(port: int) -> list[tuple[int, bytes]]:
    answers = []
    for method, path, body in S3_REQUESTS:
        status, _, reply, _ = _request(port, method, path, body)
        # Creation times differ between the two runs.
        answers.append((status, re.sub(rb"<CreationDate>[^<]*<", b"<CreationDate>T<", reply)))
    return answers


def test_s3server_answers_as_on_tornado(demos: Path, tmp_path: Path) -> None:
    script = demos / "s3server" / "s3server.py"
    sessions = []
    for real in (True, False):
        port = _free_port()
        root = tmp_path / ("tornado" if real else "squall")
        root.mkdir()
        args = (f"--port={port}", f"--root_directory={root}")
        with _running(script, *args, port=port, real_tornado=real):
            sessions.append(_s3_session(port))
    reference, ours = sessions
    assert [status for status, _ in reference] == [404, 200, 200, 200, 200, 500, 404, 204, 404]
    assert ours == reference
