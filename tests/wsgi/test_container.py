"""WSGIContainer over real sockets: environ, responses, PEP 3333 rules."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wsgi_helpers import raw_exchange

from squall.log import app_log
from squall.testing import ExpectLog
from squall.web import Application, FallbackHandler, RequestHandler
from squall.wsgi import ClientDisconnected, WSGIContainer

Start = Callable[..., Any]


def environ_app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
    shown = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int, tuple))}
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def test_environ_basics(serve: Any, get: Any) -> None:
    port = serve(WSGIContainer(environ_app))
    reply = await get(
        port,
        "/a%20b/%C3%A9%2Fx?q=1&r=%20",
        headers={"X-Custom": "v", "X-Under_Score": "spoof", "Cookie": "a=1"},
    )
    env = json.loads(reply.body)
    # Percent-decoded, one latin-1 character per byte (PEP 3333).
    assert env["PATH_INFO"] == "/a b/\xc3\xa9/x"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/a b/é/x"
    assert env["SCRIPT_NAME"] == ""
    assert env["QUERY_STRING"] == "q=1&r=%20"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_X_CUSTOM"] == "v"
    assert env["HTTP_COOKIE"] == "a=1"
    # A header with an underscore could impersonate one with a dash.
    assert "HTTP_X_UNDER_SCORE" not in env
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.multithread"] is True
    assert env["wsgi.input_terminated"] is True
    assert "CONTENT_LENGTH" not in env


async def test_xheaders_set_remote_addr_and_scheme(serve: Any, get: Any) -> None:
    port = serve(WSGIContainer(environ_app), xheaders=True)
    reply = await get(port, "/", headers={"X-Real-Ip": "10.1.2.3", "X-Scheme": "https"})
    env = json.loads(reply.body)
    assert env["REMOTE_ADDR"] == "10.1.2.3"
    assert env["wsgi.url_scheme"] == "https"
    assert env["SERVER_PORT"] == str(port)
    # Without xheaders the same headers change nothing.
    port2 = serve(WSGIContainer(environ_app))
    env2 = json.loads(
        (await get(port2, "/", headers={"X-Real-Ip": "10.1.2.3", "X-Scheme": "https"})).body
    )
    assert env2["REMOTE_ADDR"] == "127.0.0.1"
    assert env2["wsgi.url_scheme"] == "http"


async def test_response_headers_and_defaults(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        start_response(
            "201 Created", [("X-One", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        )
        return [b"ab", b"c"]

    reply = await get(serve(WSGIContainer(app)), "/")
    assert (reply.status, reply.reason, reply.body) == (201, "Created", b"abc")
    assert reply.header("Content-Length") == "3"
    # Tornado's WSGIContainer default, kept.
    assert reply.header("Content-Type") == "text/html; charset=UTF-8"
    assert reply.headers.get_all("Set-Cookie") == ["a=1", "b=2"]


async def test_head_and_no_content(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        if environ["PATH_INFO"] == "/204":
            start_response("204 No Content", [])
            return []
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"twelve bytes"]

    port = serve(WSGIContainer(app))
    head = await get(port, "/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == "12"
    empty = await get(port, "/204")
    assert empty.status == 204 and empty.body == b""
    assert empty.header("Content-Type") is None


async def test_streamed_iterable_and_write_callable(serve: Any, get: Any) -> None:
    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b""  # empty chunks send nothing (not even the head)
            yield b"one,"
            yield b"two"

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Start) -> Any:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/write":
            write(b"written,")
        return Body()

    port = serve(WSGIContainer(app))
    reply = await get(port, "/")
    assert reply.body == b"one,two"
    assert reply.header("Transfer-Encoding") == "chunked"
    assert closed.is_set()
    closed.clear()
    reply = await get(port, "/write")
    assert reply.body == b"written,one,two"
    assert closed.is_set()


async def test_large_streamed_response_arrives_whole(serve: Any, get: Any) -> None:
    block = os.urandom(64 * 1024)

    def app(environ: dict[str, Any], start_response: Start) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for _ in range(64):  # 4 MiB, far over the write window
            yield block

    reply = await get(serve(WSGIContainer(app)), "/")
    assert reply.body == block * 64


async def test_exc_info_rules(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> Any:
        path = environ["PATH_INFO"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        if path == "/replace":
            # Before the head is sent, exc_info replaces the response.
            try:
                raise KeyError("x")
            except KeyError:
                start_response("502 Bad Gateway", [("X-Err", "1")], sys.exc_info())
            return [b"replaced"]
        if path == "/twice":
            start_response("200 OK", [])
            return [b"never"]

        def late() -> Iterator[bytes]:
            yield b"part"
            try:
                raise ValueError("late failure")
            except ValueError:
                # After the head went out, start_response re-raises.
                start_response("500 Oops", [], sys.exc_info())
            yield b"never"

        return late()

    port = serve(WSGIContainer(app))
    reply = await get(port, "/replace")
    assert (reply.status, reply.body, reply.header("X-Err")) == (502, b"replaced", "1")
    with ExpectLog(app_log, "Uncaught exception in WSGI application"):
        twice = await get(port, "/twice")
    assert twice.status == 500
    with ExpectLog(app_log, "Uncaught exception in WSGI application"):
        raw = await _raw(port, b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
    # The head and "part" went out; the response is cut short, never completed.
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"part" in raw and b"never" not in raw
    assert not raw.endswith(b"0\r\n\r\n")


async def _raw(port: int, data: bytes) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, raw_exchange, port, data)


async def test_application_errors_give_500(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> Any:
        path = environ["PATH_INFO"]
        if path == "/raise":
            raise RuntimeError("boom")
        if path == "/nostart":
            return [b"x"]
        if path == "/badstatus":
            start_response("OK", [])
        if path == "/badheader":
            start_response("200 OK", [("X-A", "1\r\nInjected: yes")])
        if path == "/str":
            start_response("200 OK", [])
            return ["text is not bytes"]
        return []

    port = serve(WSGIContainer(app))
    for path in ("/raise", "/nostart", "/badstatus", "/badheader", "/str"):
        with ExpectLog(app_log, "Uncaught exception in WSGI application"):
            reply = await get(port, path)
        assert reply.status == 500, path
        assert b"500: Internal Server Error" in reply.body
        assert reply.header("Injected") is None


async def test_content_length_mismatch_is_cut(serve: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "10")])
        return [b"short"]

    port = serve(WSGIContainer(app))
    with ExpectLog(app_log, "Error writing the WSGI response"):
        raw = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 10" in head
    assert body == b"short"  # and the connection closed: the client knows


async def test_request_body_streams_through_wsgi_input(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        stream = environ["wsgi.input"]
        first = stream.readline()
        second = stream.readline(3)
        rest = list(stream)
        start_response("200 OK", [("Content-Type", "application/json")])
        out = {
            "first": first.decode(),
            "second": second.decode(),
            "rest": [r.decode() for r in rest],
            "length": environ.get("CONTENT_LENGTH"),
            "again": stream.read().decode(),
        }
        return [json.dumps(out).encode()]

    port = serve(WSGIContainer(app))
    reply = await get(port, "/", method="POST", body=b"line1\nabcdef\nx\ny")
    out = json.loads(reply.body)
    assert out == {
        "first": "line1\n",
        "second": "abc",
        "rest": ["def\n", "x\n", "y"],
        "length": "16",
        "again": "",
    }
    # A chunked body (no Content-Length) ends with b"" as well.
    chunked = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"6\r\nline1\n\r\n3\r\nab\n\r\n0\r\n\r\n"
    )
    raw = await _raw(port, chunked)
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert (body["first"], body["second"], body["rest"]) == ("line1\n", "ab\n", [])
    assert body["length"] is None


async def test_large_upload_sha256(serve: Any, get: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        digest = hashlib.sha256()
        stream = environ["wsgi.input"]
        while True:
            chunk = stream.read(100_000)
            if not chunk:
                break
            digest.update(chunk)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [digest.hexdigest().encode()]

    data = os.urandom(5 * 1024 * 1024 + 7)
    reply = await get(serve(WSGIContainer(app)), "/", method="PUT", body=data)
    assert reply.body.decode() == hashlib.sha256(data).hexdigest()


async def test_unread_body_does_not_break_keep_alive(serve: Any, call: Any) -> None:
    import http.client

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    port = serve(WSGIContainer(app))

    def two_requests() -> list[bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            out = []
            for path in ("/first", "/second"):
                conn.request("POST", path, body=b"z" * 300_000)
                out.append(conn.getresponse().read())
            return out
        finally:
            conn.close()

    assert await call(two_requests) == [b"/first", b"/second"]


async def test_file_wrapper_sends_file(serve: Any, get: Any, tmp_path: Any) -> None:
    path = tmp_path / "blob.bin"
    data = os.urandom(300_000)
    path.write_bytes(data)
    opened: list[Any] = []

    def app(environ: dict[str, Any], start_response: Start) -> Any:
        f = open(path, "rb")  # the server closes it (PEP 3333)
        opened.append(f)
        if environ["PATH_INFO"] == "/offset":
            f.seek(1000)
            start_response(
                "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", "5000")]
            )
        else:
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)

    port = serve(WSGIContainer(app))
    reply = await get(port, "/")
    assert reply.body == data
    assert reply.header("Content-Length") == str(len(data))
    part = await get(port, "/offset")
    assert part.body == data[1000:6000]
    head = await get(port, "/", method="HEAD")
    assert head.body == b"" and head.header("Content-Length") == str(len(data))
    assert all(f.closed for f in opened)


async def test_file_wrapper_over_non_file_iterates(serve: Any, get: Any) -> None:
    import io

    def app(environ: dict[str, Any], start_response: Start) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 20000), 1000)

    reply = await get(serve(WSGIContainer(app)), "/")
    assert reply.body == b"x" * 20000


async def test_client_disconnect_stops_the_application(serve: Any, call: Any) -> None:
    import socket

    stopped = threading.Event()
    produced = []

    def app(environ: dict[str, Any], start_response: Start) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        try:
            for _ in range(100_000):  # 6.5 GB if nobody stopped it
                produced.append(1)
                yield b"x" * 65536
        finally:
            stopped.set()

    port = serve(WSGIContainer(app))

    def read_a_little_then_leave() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(65536)
        assert stopped.wait(20)

    await call(read_a_little_then_leave)
    assert len(produced) < 100_000


async def test_disconnect_during_upload_raises_in_application(serve: Any, call: Any) -> None:
    import socket

    seen: list[BaseException] = []
    done = threading.Event()

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except ClientDisconnected as e:
            seen.append(e)
        finally:
            done.set()
        start_response("200 OK", [])
        return [b""]

    port = serve(WSGIContainer(app))

    def send_half_and_leave() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
        assert done.wait(20)

    await call(send_half_and_leave)
    assert len(seen) == 1 and isinstance(seen[0], OSError)


async def test_through_fallback_handler(serve: Any, get: Any) -> None:
    class Native(RequestHandler):
        def get(self) -> None:
            self.write("native")

    container = WSGIContainer(environ_app)
    app = Application([(r"/native", Native), (r".*", FallbackHandler, {"fallback": container})])
    port = serve(app)
    try:
        assert (await get(port, "/native")).body == b"native"
        reply = await get(port, "/wsgi/x?y=1", method="POST", body=b"k=v")
        env = json.loads(reply.body)
        assert env["PATH_INFO"] == "/wsgi/x" and env["QUERY_STRING"] == "y=1"
        assert env["CONTENT_LENGTH"] == "3"
    finally:
        container.close()


async def test_environ_method_for_complete_request() -> None:
    from squall.httputil import HTTPHeaders, HTTPServerRequest

    request = HTTPServerRequest(
        "POST", "/p%41th?x=1", "HTTP/1.1", HTTPHeaders({"Host": "example.com:8080"}), b"body"
    )
    environ = WSGIContainer(environ_app).environ(request)
    assert environ["PATH_INFO"] == "/pAth"
    assert environ["SERVER_NAME"] == "example.com" and environ["SERVER_PORT"] == "8080"
    assert environ["wsgi.input"].read() == b"body"


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        WSGIContainer(environ_app, max_workers=0)
    with pytest.raises(ValueError, match="max_queued"):
        WSGIContainer(environ_app, max_queued=-1)


def echo_body_app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
    data = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode() + b":" + data]


async def test_expect_continue_then_body(serve: Any, call: Any) -> None:
    import socket

    port = serve(WSGIContainer(echo_body_app))

    def exchange() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(
                b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
            )
            interim = sock.recv(1024)
            sock.sendall(b"hello")
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
            return interim, rest

    interim, rest = await call(exchange)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"/e:hello")


async def test_pipelined_requests_answered_in_order(serve: Any) -> None:
    port = serve(WSGIContainer(echo_body_app))
    raw = await _raw(
        port,
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
        b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nbc",
    )
    assert raw.count(b"HTTP/1.1 200 OK") == 3
    assert raw.index(b"/1:a") < raw.index(b"/2:") < raw.index(b"/3:bc")


async def test_missing_host_is_a_400_not_an_application_call(serve: Any) -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    port = serve(WSGIContainer(app))
    raw = await _raw(port, b"GET / HTTP/1.1\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert calls == []


async def test_slow_client_holds_back_the_application(serve: Any, call: Any) -> None:
    """Back-pressure: a client that stops reading stops the producer once
    the socket and the write window are full, instead of the response
    piling up in memory."""
    import socket
    import time

    block = b"y" * 65536
    limit = 2000  # 125 MiB if nothing held the application back
    produced: list[int] = []
    finished = threading.Event()

    def app(environ: dict[str, Any], start_response: Start) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        try:
            for n in range(limit):
                produced.append(n)
                yield block
        finally:
            finished.set()

    port = serve(WSGIContainer(app))

    def stall_then_leave() -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1)
            # Wait (bounded) for the producer to stop advancing.
            last, steady = -1, 0
            for _ in range(400):
                time.sleep(0.025)
                count = len(produced)
                steady = steady + 1 if count == last else 0
                last = count
                if steady >= 8 or count >= limit:
                    break
            held_at = len(produced)
        assert finished.wait(20)  # leaving ends the application
        return held_at

    held_at = await call(stall_then_leave)
    assert held_at < limit // 4, f"produced {held_at} blocks for a client that read 1 byte"


async def test_hop_by_hop_headers_from_the_application_are_dropped(serve: Any) -> None:
    def app(environ: dict[str, Any], start_response: Start) -> Iterator[bytes]:
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive"),
                ("Keep-Alive", "timeout=5"),
                ("X-Kept", "yes"),
            ],
        )
        yield b"framed by the server"

    port = serve(WSGIContainer(app))
    raw = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.count(b"Transfer-Encoding: chunked") == 1  # ours, once
    assert b"Keep-Alive" not in head and b"X-Kept: yes" in head
    assert body == b"14\r\nframed by the server\r\n0\r\n\r\n"


async def test_access_log_lines_match_tornados_container(serve: Any, get: Any) -> None:
    import logging

    from squall.log import access_log

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        status = "404 Not Found" if environ["PATH_INFO"] == "/gone" else "200 OK"
        start_response(status, [])
        return [b""]

    port = serve(WSGIContainer(app))
    with ExpectLog(
        access_log, r"200 GET /a\?b=1 \(127\.0\.0\.1\) \d+\.\d\dms$", level=logging.INFO
    ):
        await get(port, "/a?b=1")
    with ExpectLog(access_log, r"404 GET /gone \(127\.0\.0\.1\) ", level=logging.WARNING):
        await get(port, "/gone")


class _UnreadableFile(io.FileIO):
    """A file whose bytes can only leave by sendfile (read() is refused)."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the file was read through Python, not sent by sendfile")


async def test_file_wrapper_uses_sendfile_on_plain_connections(
    serve: Any, get: Any, tmp_path: Any
) -> None:
    path = tmp_path / "blob.bin"
    data = os.urandom(200_000)
    path.write_bytes(data)

    def app(environ: dict[str, Any], start_response: Start) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](_UnreadableFile(path))

    reply = await get(serve(WSGIContainer(app)), "/")
    assert reply.body == data


async def test_file_wrapper_over_tls_streams_the_file(serve: Any, call: Any, tmp_path: Any) -> None:
    import http.client
    import ssl

    import squall.testing

    cert_dir = os.path.dirname(squall.testing.__file__)  # the test certificate
    path = tmp_path / "blob.bin"
    data = os.urandom(300_000)
    path.write_bytes(data)

    def app(environ: dict[str, Any], start_response: Start) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 65536)  # closed by the server

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(
        os.path.join(cert_dir, "test.crt"), os.path.join(cert_dir, "test.key")
    )
    port = serve(WSGIContainer(app), ssl_options=server_ctx)

    def fetch_tls() -> tuple[int, str | None, bytes]:
        client_ctx = ssl.create_default_context()
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=client_ctx)
        try:
            conn.request("GET", "/")
            r = conn.getresponse()
            return r.status, r.getheader("Content-Length"), r.read()
        finally:
            conn.close()

    status, length, body = await call(fetch_tls)
    assert (status, length) == (200, str(len(data)))
    assert body == data


async def test_container_as_a_route_target(serve: Any, get: Any) -> None:
    # A rule's target may be an HTTPServerConnectionDelegate: the container
    # then streams the request as when it is the server's delegate.
    container = WSGIContainer(echo_body_app)
    try:
        port = serve(Application([(r"/w/.*", container)]))
        reply = await get(port, "/w/x", method="POST", body=b"routed")
        assert (reply.status, reply.body) == (200, b"/w/x:routed")
        assert (await get(port, "/elsewhere")).status == 404
    finally:
        container.close()


async def test_body_over_the_servers_limit_stops_the_reader(serve: Any) -> None:
    seen: list[str] = []
    done = threading.Event()

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
            seen.append("read everything")
        except ClientDisconnected:
            seen.append("disconnected")
        finally:
            done.set()
        start_response("200 OK", [])
        return [b"never sent"]

    port = serve(WSGIContainer(app), max_body_size=1000)
    chunk = b"x" * 500
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"1f4\r\n" + chunk + b"\r\n") * 10
        + b"0\r\n\r\n"
    )
    from squall.log import gen_log

    with ExpectLog(gen_log, ".*", required=False):
        raw = await _raw(port, request)
    assert raw.startswith(b"HTTP/1.1 413 ")
    assert b"never sent" not in raw
    # Waited for on a thread: the abort reaches the application via the loop.
    assert await asyncio.get_running_loop().run_in_executor(None, done.wait, 20)
    assert seen == ["disconnected"]


async def test_closed_container_refuses_with_503(serve: Any, get: Any) -> None:
    container = WSGIContainer(echo_body_app)
    port = serve(container)
    assert (await get(port, "/a")).status == 200
    container.close()
    reply = await get(port, "/b")
    assert reply.status == 503 and reply.header("Retry-After") == "1"


async def test_absolute_form_target_gives_the_path(serve: Any) -> None:
    port = serve(WSGIContainer(environ_app))
    raw = await _raw(
        port,
        b"GET http://example.com/abs%20path?q=1 HTTP/1.1\r\nHost: example.com\r\n"
        b"Connection: close\r\n\r\n",
    )
    env = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/abs path", "q=1")
    assert env["SERVER_NAME"] == "example.com" and env["SERVER_PORT"] == "80"
