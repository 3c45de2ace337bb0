"""Behaviours unchanged Tornado programs rely on, each found by running one.

Real servers on 127.0.0.1, real clients (squall's and http.client).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import http.client
import os
import socket
import subprocess
import sys
import textwrap
import threading
import unittest
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squall import concurrent, gen, testing, util, web, websocket
from squall.websocket import WebSocketClosedError, websocket_connect

ROOT = Path(__file__).resolve().parents[2]
# A child interpreter's whole run.
CHILD_TIMEOUT = 60.0

# -- gen.Future, util.exec_in, testing helpers -----------------------------------


def test_gen_future_is_the_concurrent_future() -> None:
    assert gen.Future is concurrent.Future is asyncio.Future
    assert gen.Multi is gen.multi
    assert gen.ReturnValueIgnoredError is concurrent.ReturnValueIgnoredError


def test_exec_in_runs_source_and_code_objects() -> None:
    namespace: dict[str, Any] = {}
    util.exec_in("x = 6 * 7", namespace)
    assert namespace["x"] == 42
    local: dict[str, Any] = {}
    util.exec_in(compile("y = x + 1", "<test>", "exec"), namespace, local)
    assert local == {"y": 43}
    # Source is compiled without this module's __future__ flags: a
    # function annotation is evaluated, not kept as a string.
    util.exec_in("def f(a: int): pass\nann = f.__annotations__['a']", namespace)
    assert namespace["ann"] is int
    with pytest.raises(SyntaxError):
        util.exec_in("def (", {})
    assert util.bytes_type is bytes


def test_setup_with_context_manager_exits_at_cleanup() -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def resource() -> Iterator[str]:
        events.append("enter")
        yield "value"
        events.append("exit")

    class Case(unittest.TestCase):
        def setUp(self) -> None:
            self.value = testing.setup_with_context_manager(self, resource())

        def test_it(self) -> None:
            events.append(f"test {self.value}")

    result = unittest.TestResult()
    Case("test_it").run(result)
    assert result.wasSuccessful()
    assert events == ["enter", "test value", "exit"]


def test_default_ssl_options_name_the_bundled_certificate() -> None:
    options = testing.AsyncHTTPSTestCase.default_ssl_options()
    assert set(options) == {"certfile", "keyfile"}
    assert all(os.path.isfile(path) for path in options.values())


def test_is_absolute_and_http_error_message() -> None:
    assert [web.is_absolute(p) for p in ("/a", "http://x", "https:", "a/b", "HTTP://x")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert web.HTTPError(404, "no %s here", "cake").get_message() == "no cake here"
    assert web.HTTPError(404, "100%").get_message() == "100%"
    assert web.HTTPError(404).get_message() is None


# -- request.scheme and request.connection.stream (HTTP layer) -------------------


class SchemeHandler(web.RequestHandler):
    def get(self) -> None:
        self.write({"scheme": self.request.scheme, "protocol": self.request.protocol})


class StreamHandler(web.RequestHandler):
    def get(self) -> None:
        stream = self.request.connection.stream
        stream.set_close_callback(lambda: None)
        self.write({"closed": stream.closed()})


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    return web.Application([("/scheme", SchemeHandler), ("/stream", StreamHandler)])


async def test_request_scheme_matches_protocol(fetch: Any) -> None:
    response = await fetch("/scheme", headers={"X-Forwarded-Proto": "https"})
    assert response.code == 200
    assert response.body == b'{"scheme": "http", "protocol": "http"}'


async def test_request_connection_stream(fetch: Any) -> None:
    response = await fetch("/stream")
    assert response.code == 200
    assert response.body == b'{"closed": false}'


# -- StaticFileHandler extension points ------------------------------------------


class MultiRootStatic(web.StaticFileHandler):
    """Looks for a file in each directory of a list, first match wins."""

    @classmethod
    def get_absolute_path(cls, root: Any, path: str) -> str:
        for directory in root:
            candidate = os.path.join(directory, path)
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        return os.path.abspath(os.path.join(root[0], path))

    def validate_absolute_path(self, root: Any, absolute_path: str) -> str | None:
        if not os.path.isfile(absolute_path):
            raise web.HTTPError(404)
        return absolute_path


class NoSuperInit(web.StaticFileHandler):
    def initialize(self, path: str) -> None:  # type: ignore[override]
        self.root = path  # deliberately skips StaticFileHandler.initialize


async def _serve(io_loop: Any, application: web.Application) -> tuple[Any, int]:
    from squall.httpserver import HTTPServer

    sock, port = testing.bind_unused_port()
    server = HTTPServer(application)
    server.add_sockets([sock])
    return server, port


async def _get(port: int, path: str) -> tuple[int, bytes]:
    def blocking() -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    return await asyncio.get_running_loop().run_in_executor(None, blocking)


async def test_static_handler_class_with_a_list_of_directories(
    io_loop: Any, tmp_path: Path
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "a.css").write_bytes(b"from one")
    (second / "b.js").write_bytes(b"from two")
    (tmp_path / "page.html").write_text("{{ static_url('b.js') }}|{{ static_url('a.css') }}")

    class Page(web.RequestHandler):
        def get(self) -> None:
            self.render("page.html")

    application = web.Application(
        [("/page", Page)],
        static_path=[str(first), str(second)],
        static_handler_class=MultiRootStatic,
        template_path=str(tmp_path),
    )
    MultiRootStatic.reset()
    server, port = await _serve(io_loop, application)
    try:
        assert await _get(port, "/static/b.js") == (200, b"from two")
        assert await _get(port, "/static/a.css") == (200, b"from one")
        assert (await _get(port, "/static/missing.txt"))[0] == 404
        status, body = await _get(port, "/page")
        assert status == 200
        two_url, one_url = body.decode().split("|")
        assert two_url.startswith("/static/b.js?v=") and len(two_url) > len("/static/b.js?v=")
        assert one_url.startswith("/static/a.css?v=")
        assert await _get(port, two_url) == (200, b"from two")
    finally:
        server.stop()
        await server.close_all_connections()


async def test_static_path_as_pathlib_and_subclass_without_super_init(
    io_loop: Any, tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello")
    (tmp_path.parent / "outside.txt").write_bytes(b"secret")
    application = web.Application(
        [
            (r"/path/(.*)", web.StaticFileHandler, {"path": tmp_path}),
            (r"/bare/(.*)", NoSuperInit, {"path": str(tmp_path)}),
        ],
        static_path=tmp_path,
    )
    web.StaticFileHandler.reset()
    server, port = await _serve(io_loop, application)
    try:
        assert await _get(port, "/path/hello.txt") == (200, b"hello")
        assert await _get(port, "/bare/hello.txt") == (200, b"hello")
        assert await _get(port, "/static/hello.txt") == (200, b"hello")
        # The path checks still hold for both.
        assert (await _get(port, "/path/../outside.txt"))[0] in (403, 404)
        assert (await _get(port, "/bare/%2e%2e/outside.txt"))[0] == 403
        assert (await _get(port, "/bare/nothing.txt"))[0] == 404
    finally:
        server.stop()
        await server.close_all_connections()


# -- WebSocket --------------------------------------------------------------------


class CloseThenWrite(websocket.WebSocketHandler):
    outcome: asyncio.Future[str] | None = None

    def open(self) -> None:
        self.close(1001, "going away")
        try:
            self.write_message("too late")
        except WebSocketClosedError:
            result = "WebSocketClosedError"
        else:
            result = "no error"
        assert CloseThenWrite.outcome is not None
        CloseThenWrite.outcome.set_result(result)


async def test_write_after_close_raises_and_client_sees_the_handshake(io_loop: Any) -> None:
    CloseThenWrite.outcome = asyncio.get_running_loop().create_future()
    server, port = await _serve(io_loop, web.Application([("/ws", CloseThenWrite)]))
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
        assert client.code == 101
        assert client.headers is not None
        assert client.headers["Upgrade"].lower() == "websocket"
        assert await client.read_message() is None  # the server closed
        assert (client.close_code, client.close_reason) == (1001, "going away")
        assert await CloseThenWrite.outcome == "WebSocketClosedError"
        client.close()
    finally:
        server.stop()
        await server.close_all_connections()


# -- IOLoop ------------------------------------------------------------------------


async def test_add_handler_leaves_a_blocking_fd_blocking(io_loop: Any) -> None:
    read_fd, write_fd = os.pipe()
    try:
        seen = asyncio.get_running_loop().create_future()
        io_loop.add_handler(
            read_fd,
            lambda fd, events: seen.done() or seen.set_result(os.read(fd, 10)),
            io_loop.READ,
        )
        assert not fcntl.fcntl(read_fd, fcntl.F_GETFL) & os.O_NONBLOCK
        # A thread writing to a blocking pipe, as the programs that hit this did.
        writer = threading.Thread(target=os.write, args=(write_fd, b"ping"))
        writer.start()
        assert await seen == b"ping"
        writer.join()
        io_loop.update_handler(read_fd, io_loop.READ | io_loop.WRITE)
        assert not fcntl.fcntl(read_fd, fcntl.F_GETFL) & os.O_NONBLOCK
        io_loop.remove_handler(read_fd)
        assert not fcntl.fcntl(read_fd, fcntl.F_GETFL) & os.O_NONBLOCK
        # A caller's non-blocking fd stays non-blocking.
        os.set_blocking(write_fd, False)
        io_loop.add_handler(write_fd, lambda fd, events: None, io_loop.WRITE)
        assert fcntl.fcntl(write_fd, fcntl.F_GETFL) & os.O_NONBLOCK
        io_loop.remove_handler(write_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def _run_child(code: str, *, strict: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    flags = ["-X", "dev", "-W", "error"] if strict else []
    return subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT,
        check=False,
    )


STOP_IN_HANDLER = """
        import http.client, threading
        from squall import web, ioloop, httpserver
        from squall.testing import bind_unused_port

        class Stop(web.RequestHandler):
            async def get(self):
                ioloop.IOLoop.current().stop()
                self.write("sent before the loop stopped")

        loop = ioloop.IOLoop()
        sock, port = bind_unused_port()
        server = httpserver.HTTPServer(web.Application([("/stop", Stop)]))
        server.add_sockets([sock])
        out = {}
        def client():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/stop")
            r = c.getresponse()
            out["got"] = (r.status, r.read())
            c.close()
        t = threading.Thread(target=client)
        t.start()
        loop.start()
        t.join()
        print(out["got"])
        server.stop()
        loop.close(all_fds=True)
        """


def test_stop_in_a_coroutine_handler_still_sends_the_response() -> None:
    result = _run_child(STOP_IN_HANDLER, strict=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(200, b'sent before the loop stopped')"


def test_close_after_stop_in_handler_leaves_no_resource_warning() -> None:
    result = _run_child(STOP_IN_HANDLER)
    assert result.returncode == 0, result.stderr


def test_normally_closed_connections_leave_no_resource_warning() -> None:
    result = _run_child(
        """
        import gc
        from squall import web, ioloop, httpserver, httpclient, websocket
        from squall.testing import bind_unused_port

        class Hello(web.RequestHandler):
            def get(self):
                self.write("hi")

        class Echo(websocket.WebSocketHandler):
            def on_message(self, message):
                self.write_message(message)

        async def main():
            sock, port = bind_unused_port()
            server = httpserver.HTTPServer(web.Application([("/", Hello), ("/ws", Echo)]))
            server.add_sockets([sock])
            client = httpclient.AsyncHTTPClient(force_instance=True)
            response = await client.fetch(f"http://127.0.0.1:{port}/")
            ws = await websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
            await ws.write_message("x")
            assert await ws.read_message() == "x"
            ws.close()
            client.close()
            server.stop()
            await server.close_all_connections()
            return response.body

        loop = ioloop.IOLoop()
        print(loop.run_sync(main))
        loop.close()
        gc.collect()
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ResourceWarning" not in result.stderr, result.stderr
    assert result.stdout.strip() == "b'hi'"


def test_close_aborts_a_connection_with_unsent_data() -> None:
    # The peer never reads, so the server's transport still holds most of
    # the data when the loop closes; close() must neither hang nor warn.
    result = _run_child(
        """
        import gc, socket
        from squall import ioloop, tcpserver, tcpclient

        class Flood(tcpserver.TCPServer):
            async def handle_stream(self, stream, address):
                stream.write(b"x" * 20_000_000)

        async def main():
            server = Flood()
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(5)
            server.add_sockets([sock])
            client = await tcpclient.TCPClient().connect("127.0.0.1", sock.getsockname()[1])
            await client.read_bytes(1)
            server.stop()
            return client

        loop = ioloop.IOLoop()
        client = loop.run_sync(main)
        loop.close()
        del client
        gc.collect()
        print("closed")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "closed"
    assert "ResourceWarning" not in result.stderr, result.stderr


# -- platform.asyncio ----------------------------------------------------------------


async def test_selector_thread_reports_readiness_on_the_loop_thread() -> None:
    from squall.platform.asyncio import AddThreadSelectorEventLoop, SelectorThread

    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    selector = SelectorThread(loop)
    try:
        got = loop.create_future()

        def on_readable() -> None:
            assert threading.current_thread() is threading.main_thread()
            if not got.done():
                got.set_result(left.recv(10))

        selector.add_reader(left, on_readable)
        right.send(b"ready")
        assert await got == b"ready"
        assert selector.remove_reader(left) is True
        assert selector.remove_reader(left) is False
        writable = loop.create_future()
        selector.add_writer(right.fileno(), lambda: writable.done() or writable.set_result(1))
        assert await writable == 1
        selector.remove_writer(right.fileno())
    finally:
        selector.close()
        selector.close()
        left.close()
        right.close()
    with pytest.raises(RuntimeError):
        selector.add_reader(0, lambda: None)

    real = asyncio.new_event_loop()
    wrapped = AddThreadSelectorEventLoop(real)
    assert wrapped.time() == pytest.approx(real.time(), abs=5)
    wrapped.close()
    assert real.is_closed()


def test_any_thread_event_loop_policy_is_deprecated() -> None:
    import squall.platform.asyncio as platform_asyncio

    with pytest.warns(DeprecationWarning):
        policy_class = platform_asyncio.AnyThreadEventLoopPolicy
    policy = policy_class()
    seen: list[bool] = []

    def in_thread() -> None:
        loop = policy.get_event_loop()
        seen.append(isinstance(loop, asyncio.AbstractEventLoop))
        loop.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [True]
    with pytest.raises(AttributeError):
        platform_asyncio.NoSuchThing  # noqa: B018


def test_warnings_module_still_errors() -> None:
    # Guard for this file: the suite's "warnings are errors" stays on.
    with pytest.raises(UserWarning):
        warnings.warn("x", UserWarning, stacklevel=1)


# -- the HTTP client's defaults ------------------------------------------------------


class EchoForm(web.RequestHandler):
    def post(self) -> None:
        self.write(
            {
                "type": self.request.headers.get("Content-Type"),
                "arg": self.get_body_argument("arg", None),
                "agent": self.request.headers.get("User-Agent"),
            }
        )

    put = post


async def test_client_labels_an_untyped_body_as_a_form(io_loop: Any) -> None:
    from squall.httpclient import AsyncHTTPClient

    server, port = await _serve(io_loop, web.Application([("/form", EchoForm)]))
    client = AsyncHTTPClient(force_instance=True)
    try:
        url = f"http://127.0.0.1:{port}/form"
        response = await client.fetch(url, method="POST", body="arg=value")
        assert response.body.startswith(
            b'{"type": "application/x-www-form-urlencoded", "arg": "value", "agent": "squall/'
        )
        typed = await client.fetch(
            url, method="PUT", body="arg=value", headers={"Content-Type": "text/plain"}
        )
        assert typed.body.startswith(b'{"type": "text/plain", "arg": null')
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


def test_client_user_agent_under_the_alias_is_tornados() -> None:
    result = _run_child(
        """
        from squall.compat import install_tornado
        install_tornado()
        from tornado.simple_httpclient import _default_user_agent
        print(_default_user_agent())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Tornado/6.6.1"


class CancelsInOnMessage(websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        raise asyncio.CancelledError()


async def test_cancelled_error_in_on_message_is_an_uncaught_exception(io_loop: Any) -> None:
    from squall.testing import ExpectLog

    server, port = await _serve(io_loop, web.Application([("/ws", CancelsInOnMessage)]))
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
        with ExpectLog("squall.application", "Uncaught exception"):
            # Awaiting the write lets the server run: it may fail at once.
            await client.write_message("hello")
            assert await client.read_message() is None
        assert (client.close_code, client.close_reason) == (1011, "internal error")
        client.close()
    finally:
        server.stop()
        await server.close_all_connections()


class EchoAuth(web.RequestHandler):
    def get(self) -> None:
        self.write(self.request.headers.get("Authorization", "none"))


async def test_client_credentials_from_the_url_and_nfc(io_loop: Any) -> None:
    import base64

    from squall.httpclient import AsyncHTTPClient

    server, port = await _serve(io_loop, web.Application([("/auth", EchoAuth)]))
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://me:s%40cret@127.0.0.1:{port}/auth")
        assert response.body == b"Basic " + base64.b64encode(b"me:s@cret")
        # Decomposed input is sent composed (RFC 7617 section 2.1).
        response = await client.fetch(
            f"http://127.0.0.1:{port}/auth", auth_username="jose\u0301", auth_password="x"
        )
        assert response.body == b"Basic " + base64.b64encode("jos\u00e9:x".encode())
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


async def test_error_of_a_cancelled_fetch_is_logged(io_loop: Any) -> None:
    from squall.httpclient import AsyncHTTPClient
    from squall.testing import ExpectLog

    server, port = await _serve(io_loop, web.Application([]))
    client = AsyncHTTPClient(force_instance=True)
    try:
        pending = client.fetch(f"http://127.0.0.1:{port}/missing")
        assert pending.cancel()
        with ExpectLog("squall.application", "Exception after Future was cancelled") as log:
            for _ in range(200):  # until the 404 comes back and is logged
                await asyncio.sleep(0.01)
                if log.matched:
                    break
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()


def test_speedups_websocket_mask() -> None:
    from squall.speedups import websocket_mask

    assert websocket_mask(b"abcd", b"hello") == b"\t\x07\x0f\x08\x0e"
    assert websocket_mask(b"abcd", b"") == b""
    assert websocket_mask(b"abcd", websocket_mask(b"abcd", b"round trip")) == b"round trip"
    for bad in (b"abc", b"abcde", b""):
        with pytest.raises(ValueError, match="mask must be 4 bytes"):
            websocket_mask(bad, b"x")


async def test_read_until_close_reports_an_error_close(io_loop: Any) -> None:
    from squall.iostream import IOStream, StreamClosedError

    left, right = socket.socketpair()
    server, client = IOStream(left), IOStream(right)
    try:
        pending = client.read_until_close()
        await server.write(b"hello")
        await asyncio.sleep(0.01)
        client.close(exc_info=OSError("boom"))
        # Not the buffered "hello" as if the body were complete.
        with pytest.raises(StreamClosedError) as info:
            await pending
        assert isinstance(info.value.real_error, OSError)
    finally:
        server.close()
        client.close()


async def test_connection_refused_names_the_os_error(io_loop: Any) -> None:
    import errno

    from squall.httpclient import AsyncHTTPClient, HTTPClientError
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()  # nothing listens there now
    client = AsyncHTTPClient(force_instance=True)
    try:
        with pytest.raises(HTTPClientError) as info:
            await client.fetch(f"http://127.0.0.1:{port}/")
        text = str(info.value)
        assert str(errno.ECONNREFUSED) in text
        assert os.strerror(errno.ECONNREFUSED) in text
        assert isinstance(info.value, OSError)  # as Tornado's socket.error
    finally:
        client.close()


async def test_connect_resolves_before_writes_made_while_connecting(io_loop: Any) -> None:
    from squall.iostream import IOStream
    from squall.testing import bind_unused_port

    listener, port = bind_unused_port()
    stream = IOStream(socket.socket())
    order: list[str] = []
    try:
        connecting = stream.connect(("127.0.0.1", port))
        writing = stream.write(b"early")
        connecting.add_done_callback(lambda _: order.append("connect"))
        writing.add_done_callback(lambda _: order.append("write"))
        await asyncio.gather(connecting, writing)
        assert order == ["connect", "write"]
        peer, _ = listener.accept()
        peer.settimeout(5)
        assert peer.recv(5) == b"early"
        peer.close()
    finally:
        stream.close()
        listener.close()
