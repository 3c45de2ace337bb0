"""``squall.http1connection.HTTP1ServerConnection`` serving a stream that a
``TCPServer`` accepted, with ``HTTP1Connection`` in the server role: real
clients on 127.0.0.1 (raw sockets, http.client, real Tornado's HTTP client
in a subprocess), keep-alive, 100-continue, and bad input answered as
Tornado answers it (a bare 400 and "Malformed HTTP message from ...")."""

from __future__ import annotations

import asyncio
import http.client
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from squall.http1connection import (
    HTTP1Connection,
    HTTP1ConnectionParameters,
    HTTP1ServerConnection,
)
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.iostream import IOStream
from squall.log import app_log, gen_log
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog, bind_unused_port


class Answer(HTTPMessageDelegate):
    """Answers each request with "<method> <path> <body>", as ``mode`` says:
    "chunked" (no length), "length", "detach" or "fail"."""

    def __init__(self, conn: HTTP1Connection, log: list[Any], mode: str) -> None:
        self.conn, self.log, self.mode = conn, log, mode
        self.body = b""

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
        self.start_line = start_line
        self.log.append(("headers", start_line.method, start_line.path))

    def data_received(self, chunk: bytes) -> None:
        self.body += chunk

    def finish(self) -> None:
        self.log.append(("finish", self.body))
        if self.mode == "fail":
            raise ValueError("delegate failure")
        if self.mode == "abandon":  # never answers; wants to hear the client go
            self.conn.set_close_callback(lambda: self.log.append(("close_callback",)))
            return
        if self.mode == "late":  # answers on a later loop turn
            asyncio.get_running_loop().call_later(0.02, self.answer)
            return
        if self.mode == "detach":
            stream = self.conn.detach()
            stream.write(b"RAW")
            stream.close()
            return
        self.answer()

    def answer(self) -> None:
        text = f"{self.start_line.method} {self.start_line.path} ".encode() + self.body
        headers = HTTPHeaders()
        if self.mode in ("length", "late"):
            headers["Content-Length"] = str(len(text))
        self.conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, text[:3])
        self.conn.write(text[3:])
        self.conn.finish()

    def on_connection_close(self) -> None:
        self.log.append(("close",))


class Serving(HTTPServerConnectionDelegate):
    def __init__(self, log: list[Any], mode: str) -> None:
        self.log, self.mode = log, mode

    def start_request(self, server_conn: Any, request_conn: Any) -> HTTPMessageDelegate:
        assert isinstance(server_conn, HTTP1ServerConnection)
        if self.mode == "refuse":
            raise ValueError("no delegate for you")
        return Answer(request_conn, self.log, self.mode)

    def on_close(self, server_conn: Any) -> None:
        self.log.append(("on_close",))


class StreamServer(TCPServer):
    def __init__(self, params: HTTP1ConnectionParameters, mode: str) -> None:
        super().__init__()
        self.params, self.mode = params, mode
        self.log: list[Any] = []
        self.connections: list[HTTP1ServerConnection] = []

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        conn = HTTP1ServerConnection(stream, self.params, address[0])
        self.connections.append(conn)
        conn.start_serving(Serving(self.log, self.mode))


@pytest.fixture
def stream_server(io_loop: Any) -> Iterator[Callable[..., tuple[int, StreamServer]]]:
    """``stream_server(mode="chunked", **params)`` -> (port, server)."""
    servers: list[StreamServer] = []

    def start(mode: str = "chunked", **params: Any) -> tuple[int, StreamServer]:
        sock, port = bind_unused_port()
        server = StreamServer(HTTP1ConnectionParameters(**params), mode)
        server.add_sockets([sock])
        servers.append(server)
        return port, server

    yield start

    async def stop() -> None:
        for server in servers:
            server.stop()
            for conn in server.connections:
                await conn.close()

    io_loop.run_sync(stop, timeout=10)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most 5 seconds) for ``condition`` to hold."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 5)


async def raw(port: int, data: bytes, until_close: bool = True) -> bytes:
    """Send ``data``; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_keep_alive_with_http_client(stream_server: Any, blocking: Any) -> None:
    port, server = stream_server()

    def fetch_twice() -> list[tuple[int, str | None, bytes]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            results = []
            for path in ("/a", "/b"):
                conn.request("POST", path, body=b"payload")
                response = conn.getresponse()
                results.append(
                    (response.status, response.getheader("Transfer-Encoding"), response.read())
                )
            return results
        finally:
            conn.close()

    assert await blocking(fetch_twice) == [
        (200, "chunked", b"POST /a payload"),
        (200, "chunked", b"POST /b payload"),
    ]
    await asyncio.sleep(0.05)
    assert server.log[:4] == [
        ("headers", "POST", "/a"),
        ("finish", b"payload"),
        ("headers", "POST", "/b"),
        ("finish", b"payload"),
    ]
    assert server.log[-1] == ("on_close",)  # once the client left


async def test_a_chunked_request_body_is_delivered(stream_server: Any) -> None:
    port, _ = stream_server(mode="length")
    answer = await raw(
        port,
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    )
    assert answer == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\nPOST /up abcde"
    )


async def test_http10_is_answered_then_closed(stream_server: Any) -> None:
    port, server = stream_server()
    answer = await raw(port, b"GET /old HTTP/1.0\r\n\r\n")
    # No length and no chunking in HTTP/1.0: the close ends the body.
    assert answer == b"HTTP/1.1 200 OK\r\n\r\nGET /old "
    await asyncio.sleep(0.05)
    assert server.log[-1] == ("on_close",)


async def test_http10_keep_alive_with_a_length(stream_server: Any) -> None:
    port, _ = stream_server(mode="length")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(2):
            writer.write(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head == (
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: Keep-Alive\r\n\r\n"
            )
            assert await asyncio.wait_for(reader.readexactly(7), 5) == b"GET /k "
    finally:
        writer.close()


async def test_expect_100_continue(stream_server: Any) -> None:
    port, _ = stream_server(mode="length")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"data")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert await asyncio.wait_for(reader.readexactly(11), 5) == b"PUT /f data"
    finally:
        writer.close()


async def test_head_answers_carry_no_body(stream_server: Any) -> None:
    port, _ = stream_server(mode="length")
    answer = await raw(port, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "params", "problem"),
    [
        (b"BAD\r\n\r\n", {}, "Malformed HTTP request line"),
        (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", {}, "Malformed HTTP request line"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", {}, "header"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", {}, "Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", {}, "Transfer-Encoding"),
        (b"GET / HTTP/1.1\r\n\r\n", {}, "Missing Host header"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n" + b"a" * 300,
            {"max_body_size": 100},
            "Content-Length too long",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
            {},
            "improperly terminated chunk",
        ),
    ],
)
async def test_bad_requests_get_a_bare_400(
    stream_server: Any, request_bytes: bytes, params: dict[str, Any], problem: str
) -> None:
    port, server = stream_server(**params)
    with ExpectLog(gen_log, f"Malformed HTTP message from 127.0.0.1: .*{problem}"):
        answer = await raw(port, request_bytes)
    assert answer == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert ("finish", b"") not in server.log


async def test_an_oversized_head_closes_without_an_answer(stream_server: Any) -> None:
    port, server = stream_server(max_header_size=100)
    with ExpectLog(gen_log, "Unsatisfiable read, closing connection"):
        answer = await raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 300 + b"\r\n\r\n")
    assert answer == b""
    await asyncio.sleep(0.05)
    assert server.log == [("on_close",)]


async def test_a_failing_delegate_closes_the_connection(stream_server: Any) -> None:
    port, server = stream_server(mode="fail")
    with ExpectLog(app_log, "Uncaught exception", level=logging.ERROR):
        answer = await raw(port, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer == b""
    await asyncio.sleep(0.05)
    assert server.log == [("headers", "GET", "/x"), ("finish", b""), ("close",), ("on_close",)]


async def test_a_later_answer_is_waited_for_before_the_next_request(stream_server: Any) -> None:
    port, server = stream_server(mode="late")
    answer = await raw(
        port,
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert answer == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nGET /1 "
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nGET /2 "
    )
    assert server.log[:3] == [("headers", "GET", "/1"), ("finish", b""), ("headers", "GET", "/2")]


async def test_the_close_callback_hears_a_client_leave(stream_server: Any) -> None:
    port, server = stream_server(mode="abandon")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    await until(lambda: ("finish", b"") in server.log)
    writer.close()
    await until(lambda: ("on_close",) in server.log)
    assert server.log == [
        ("headers", "GET", "/wait"),
        ("finish", b""),
        ("close_callback",),
        ("on_close",),
    ]
    del reader


async def test_a_failing_server_delegate_is_logged(stream_server: Any) -> None:
    port, server = stream_server(mode="refuse")
    with ExpectLog(app_log, "Uncaught exception", level=logging.ERROR):
        answer = await raw(port, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.05)
    assert answer == b""
    assert server.log == [("on_close",)]


async def test_detach_hands_over_the_stream(stream_server: Any) -> None:
    port, server = stream_server(mode="detach")
    answer = await raw(port, b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer == b"RAW"
    await asyncio.sleep(0.05)
    assert server.log[-1] == ("on_close",)


async def test_close_ends_serving(stream_server: Any) -> None:
    port, server = stream_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await until(lambda: bool(server.connections))
        await asyncio.wait_for(server.connections[0].close(), 5)
        assert server.log == [("on_close",)]
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_silent_client_is_dropped_after_header_timeout(stream_server: Any) -> None:
    port, server = stream_server(header_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\n")  # and nothing more
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
    await asyncio.sleep(0.05)
    assert server.log == [("on_close",)]


async def test_a_stalled_body_times_out(stream_server: Any) -> None:
    port, server = stream_server(body_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with ExpectLog(gen_log, "Timeout reading body from 127.0.0.1"):
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
    await asyncio.sleep(0.05)
    assert server.log == [("headers", "POST", "/"), ("close",), ("on_close",)]


TORNADO_CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from tornado.httpclient import AsyncHTTPClient

    async def main(port):
        client = AsyncHTTPClient()
        base = f"http://127.0.0.1:{port}"
        for method, body in (("GET", None), ("POST", b"x" * 100000), ("GET", None)):
            response = await client.fetch(base + "/t", method=method, body=body)
            print(response.code, len(response.body), response.body[:8])

    asyncio.run(main(int(sys.argv[1])))
    """
)


async def test_real_tornados_client_is_served(stream_server: Any) -> None:
    port, server = stream_server(chunk_size=4096)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", TORNADO_CLIENT, str(port), stdout=subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert output.decode().splitlines() == [
        "200 7 b'GET /t '",
        "200 100008 b'POST /t '",
        "200 7 b'GET /t '",
    ]
    # Tornado's simple client opens a connection per request.
    await asyncio.sleep(0.05)
    kinds = [entry[0] for entry in server.log]
    assert [kind for kind in kinds if kind != "on_close"] == ["headers", "finish"] * 3
    assert kinds.count("on_close") == 3


async def test_a_method_llhttp_does_not_know_is_served(stream_server: Any) -> None:
    # Tornado routes any token method; the web layer answers 405 if no
    # handler has it.
    port, server = stream_server(mode="length")
    answer = await raw(
        port,
        b"OTHER /o HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"OTHER /o hi")
    assert ("headers", "OTHER", "/o") in server.log
