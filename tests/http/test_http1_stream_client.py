"""``squall.http1connection.HTTP1Connection`` as a client over an IOStream:
requests written by the HTTP/1 core, responses read from a raw peer on
127.0.0.1 (good ones, and the malformed ones Tornado refuses, with its log
lines), and from real servers (squall's, and real Tornado's in a subprocess).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from squall.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from squall.iostream import IOStream, StreamClosedError
from squall.log import app_log, gen_log
from squall.testing import ExpectLog

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Recorder(HTTPMessageDelegate):
    """Writes down every call; ``fail`` names a method that raises."""

    def __init__(self, fail: str | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.fail = fail

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
        self.events.append(("headers", tuple(start_line), sorted(headers.get_all())))
        if self.fail == "headers_received":
            raise ValueError("delegate failure")

    def data_received(self, chunk: bytes) -> None:
        self.events.append(("data", chunk))
        if self.fail == "data_received":
            raise ValueError("delegate failure")

    def finish(self) -> None:
        self.events.append(("finish",))
        if self.fail == "finish":
            raise ValueError("delegate failure")

    def on_connection_close(self) -> None:
        self.events.append(("close",))

    @property
    def body(self) -> bytes:
        return b"".join(e[1] for e in self.events if e[0] == "data")

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


@pytest.fixture
def peer(io_loop: Any) -> Iterator[Callable[[Handler], Awaitable[int]]]:
    """``await peer(handler)`` -> port of a raw asyncio server on 127.0.0.1."""
    servers: list[asyncio.base_events.Server] = []
    handlers: list[tuple[asyncio.Task[Any], asyncio.StreamWriter]] = []

    async def start(handler: Handler) -> int:
        async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.append((asyncio.current_task(), writer))  # type: ignore[arg-type]
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start

    async def stop() -> None:
        for server in servers:
            server.close()
            await server.wait_closed()
        for _, writer in handlers:
            writer.transport.abort()  # a handler waiting for the client ends
        await asyncio.gather(*(task for task, _ in handlers))

    io_loop.run_sync(stop, timeout=10)


def sends(*replies: bytes, then_close: bool = True) -> Handler:
    """A peer that reads the request head and answers with ``replies``, then
    closes, or waits for the client to close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for reply in replies:
            writer.write(reply)
            await writer.drain()
        if not then_close:
            await reader.read()

    return handler


async def connect(port: int) -> IOStream:
    stream = IOStream(socket.socket())
    await stream.connect(("127.0.0.1", port))
    return stream


def get(conn: HTTP1Connection, target: str = "/", method: str = "GET") -> None:
    conn.write_headers(RequestStartLine(method, target, "HTTP/1.1"), HTTPHeaders({"Host": "x"}))
    conn.finish()


async def exchange(
    port: int, params: HTTP1ConnectionParameters | None = None, fail: str | None = None
) -> tuple[Recorder, bool | BaseException, IOStream]:
    stream = await connect(port)
    conn = HTTP1Connection(stream, True, params)
    get(conn)
    delegate = Recorder(fail)
    try:
        result: bool | BaseException = await asyncio.wait_for(conn.read_response(delegate), 5)
    except StreamClosedError as e:
        result = e
    return delegate, result, stream


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


async def test_a_response_is_delivered_and_the_stream_kept(peer: Any) -> None:
    port = await peer(sends(OK, then_close=False))
    delegate, result, stream = await exchange(port)
    assert delegate.events == [
        ("headers", ("HTTP/1.1", 200, "OK"), [("Content-Length", "5")]),
        ("data", b"hello"),
        ("finish",),
    ]
    assert result is True
    assert not stream.closed()
    stream.close()


async def test_requests_are_written_by_the_core(peer: Any) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        heads.append(await reader.readuntil(b"0\r\n\r\n"))
        writer.write(OK)
        await reader.read()

    stream = await connect(await peer(handler))
    conn = HTTP1Connection(stream, True)
    # POST without a length: the body goes out chunked (as Tornado does).
    conn.write_headers(RequestStartLine("POST", "/p?q=1", "HTTP/1.1"), HTTPHeaders({"Host": "h"}))
    conn.write(b"abc")
    conn.write(b"de")
    conn.finish()
    assert await asyncio.wait_for(conn.read_response(Recorder()), 5) is True
    assert heads == [
        b"POST /p?q=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    ]
    stream.close()


async def test_keep_alive_reuses_the_stream_without_overreading(peer: Any) -> None:
    # Both answers arrive in one packet: the first exchange must leave the
    # second's bytes (chunked, with a trailer) in the stream.
    second = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
    third = b"HTTP/1.1 204 No Content\r\n\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK + second + third)
        await reader.read()

    stream = await connect(await peer(handler))
    bodies = []
    conns = [HTTP1Connection(stream, True) for _ in range(3)]
    for conn in conns:
        get(conn)
    for conn in conns:
        delegate = Recorder()
        assert await asyncio.wait_for(conn.read_response(delegate), 5) is True
        bodies.append((delegate.events[0][1][1], delegate.body))
    assert bodies == [(200, b"hello"), (200, b"abc"), (204, b"")]
    stream.close()


async def test_tiny_chunks_are_coalesced_and_the_loop_keeps_turning(peer: Any) -> None:
    body = b"".join(b"1\r\n%c\r\n" % (97 + i % 26) for i in range(3000)) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    port = await peer(sends(head + body, then_close=False))
    turns = 0
    running = True

    def tick() -> None:
        nonlocal turns
        turns += 1
        if running:
            asyncio.get_running_loop().call_soon(tick)

    stream = await connect(port)
    conn = HTTP1Connection(stream, True)
    get(conn)
    delegate = Recorder()
    asyncio.get_running_loop().call_soon(tick)
    assert await asyncio.wait_for(conn.read_response(delegate), 5) is True
    running = False
    assert delegate.body == bytes(97 + i % 26 for i in range(3000))
    assert delegate.kinds().count("data") < 10
    assert turns > 10
    stream.close()


async def test_chunk_size_bounds_each_delivery(peer: Any) -> None:
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"
    port = await peer(sends(reply, then_close=False))
    delegate, result, stream = await exchange(port, HTTP1ConnectionParameters(chunk_size=4))
    assert [e[1] for e in delegate.events if e[0] == "data"] == [b"0123", b"4567", b"89"]
    assert result is True
    stream.close()


async def test_interim_responses_come_before_the_final_one(peer: Any) -> None:
    reply = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK
    port = await peer(sends(reply, then_close=False))
    delegate, result, stream = await exchange(port)
    assert delegate.events == [
        ("headers", ("HTTP/1.1", 103, "Early Hints"), [("Link", "</a>")]),
        ("headers", ("HTTP/1.1", 200, "OK"), [("Content-Length", "5")]),
        ("data", b"hello"),
        ("finish",),
    ]
    assert result is True
    stream.close()


async def test_http10_body_runs_to_the_close(peer: Any) -> None:
    port = await peer(sends(b"HTTP/1.0 200 OK\r\n\r\n", b"hello ", b"world"))
    delegate, result, stream = await exchange(port)
    assert delegate.body == b"hello world"
    assert delegate.kinds()[-1] == "finish"
    assert result is True
    assert stream.closed()  # a body delimited by the close ends the connection


async def test_connection_close_ends_the_stream(peer: Any) -> None:
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    port = await peer(sends(reply, then_close=False))
    delegate, result, stream = await exchange(port)
    assert delegate.body == b"hi"
    assert result is True
    assert stream.closed()


async def test_head_response_has_no_body(peer: Any) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    stream = await connect(await peer(sends(reply, OK, then_close=False)))
    conn = HTTP1Connection(stream, True)
    get(conn, method="HEAD")
    delegate = Recorder()
    assert await asyncio.wait_for(conn.read_response(delegate), 5) is True
    assert delegate.kinds() == ["headers", "finish"]
    stream.close()


async def test_gzip_bodies_are_inflated_when_asked(peer: Any) -> None:
    packed = gzip.compress(b"hello" * 3)
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
    port = await peer(sends(reply + packed, then_close=False))
    delegate, result, stream = await exchange(port, HTTP1ConnectionParameters(decompress=True))
    assert delegate.body == b"hello" * 3
    headers = dict(delegate.events[0][2])
    assert headers["X-Consumed-Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in headers
    assert result is True
    stream.close()


# -- bad input: Tornado's exceptions and log lines ----------------------------------

MALFORMED = [
    (b"HTTP/9.9 oops\r\n\r\n", "Error parsing response start line"),
    (b"hello world\r\n\r\n", "Error parsing response start line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "Error parsing response start line"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
        "improperly terminated chunk",
    ),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", "invalid chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhi", "Unsupported Transfer-Encoding"),
    (b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello" + OK, "cannot have body"),
    (b"HTTP/1.1 102 Processing\r\n\r\n" * 12 + OK, "Too many 1xx responses"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "204 should not have body"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nhi", "whitespace"),
]


@pytest.mark.parametrize(("reply", "problem"), MALFORMED)
async def test_malformed_responses_are_refused(peer: Any, reply: bytes, problem: str) -> None:
    port = await peer(sends(reply, then_close=False))
    with ExpectLog(gen_log, f"Malformed HTTP message from None: .*{problem}", level=logging.INFO):
        delegate, result, stream = await exchange(port)
    assert result is False
    assert delegate.kinds()[-1] == "close"  # the delegate hears of it
    assert "finish" not in delegate.kinds()
    assert stream.closed()


@pytest.mark.parametrize(
    ("reply", "params", "problem"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n", {}, "Content-Length too long"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"a" * 100 + b"\r\n",
            {},
            "chunked body too large",
        ),
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * 200, {}, "Body too long"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
            {"decompress": True},
            "invalid gzip data",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
            % (len(gzip.compress(b"a" * 1000)), gzip.compress(b"a" * 1000)),
            {"decompress": True},
            "gzip body larger than max_body_size",
        ),
    ],
)
async def test_bodies_over_the_limit_are_refused(
    peer: Any, reply: bytes, params: dict[str, Any], problem: str
) -> None:
    port = await peer(sends(reply, then_close=False))
    limits = HTTP1ConnectionParameters(max_body_size=50, **params)
    with ExpectLog(gen_log, f"Malformed HTTP message from None: {problem}", level=logging.INFO):
        delegate, result, stream = await exchange(port, limits)
    assert result is False
    assert delegate.kinds()[-1] == "close"
    assert stream.closed()


async def test_a_head_over_max_header_size_closes_the_stream(peer: Any) -> None:
    reply = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 300 + b"\r\nContent-Length: 0\r\n\r\n"
    port = await peer(sends(reply, then_close=False))
    with ExpectLog(gen_log, "Unsatisfiable read, closing connection"):
        delegate, result, stream = await exchange(
            port, HTTP1ConnectionParameters(max_header_size=100)
        )
    assert isinstance(result, StreamClosedError)
    assert delegate.events == []
    assert stream.closed()


async def test_a_truncated_body_raises_stream_closed(peer: Any) -> None:
    port = await peer(sends(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi"))
    delegate, result, stream = await exchange(port)
    assert isinstance(result, StreamClosedError)
    assert delegate.kinds() == ["headers", "data", "close"]
    assert stream.closed()


async def test_a_peer_that_closes_at_once_raises_stream_closed(peer: Any) -> None:
    port = await peer(sends())
    delegate, result, stream = await exchange(port)
    assert isinstance(result, StreamClosedError)
    assert delegate.events == []
    assert stream.closed()


@pytest.mark.parametrize("method", ["headers_received", "data_received", "finish"])
async def test_a_failing_delegate_is_logged_and_the_stream_closed(peer: Any, method: str) -> None:
    port = await peer(sends(OK, then_close=False))
    with ExpectLog(app_log, "Uncaught exception", level=logging.ERROR):
        delegate, result, stream = await exchange(port, fail=method)
    assert result is False
    assert delegate.kinds()[-1] == "close"
    assert stream.closed()


# -- writing -------------------------------------------------------------------------


async def test_content_length_is_enforced_on_writes(peer: Any) -> None:
    port = await peer(sends(OK, then_close=False))
    stream = await connect(port)
    conn = HTTP1Connection(stream, True)
    conn.write_headers(
        RequestStartLine("POST", "/", "HTTP/1.1"), HTTPHeaders({"Content-Length": "2"})
    )
    with pytest.raises(HTTPOutputError, match="more data than Content-Length"):
        conn.write(b"abc")
    assert stream.closed()

    stream = await connect(port)
    conn = HTTP1Connection(stream, True)
    conn.write_headers(
        RequestStartLine("POST", "/", "HTTP/1.1"), HTTPHeaders({"Content-Length": "9"})
    )
    conn.write(b"abc")
    with pytest.raises(HTTPOutputError, match="6 bytes less than Content-Length"):
        conn.finish()
    assert stream.closed()


async def test_an_invalid_head_is_refused_before_a_byte_is_sent(peer: Any) -> None:
    stream = await connect(await peer(sends(OK)))
    conn = HTTP1Connection(stream, True)
    with pytest.raises(ValueError, match="request target"):
        conn.write_headers(RequestStartLine("GET", "/a b", "HTTP/1.1"), HTTPHeaders())
    with pytest.raises(TypeError):
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
    stream.close()


async def test_writes_after_close_fail_in_the_future(peer: Any) -> None:
    stream = await connect(await peer(sends(OK)))
    conn = HTTP1Connection(stream, True)
    conn.close()
    future = conn.write_headers(RequestStartLine("GET", "/", "HTTP/1.1"), HTTPHeaders())
    with pytest.raises(StreamClosedError):
        await future


async def test_detach_hands_the_stream_over(peer: Any) -> None:
    port = await peer(
        sends(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nRAW", then_close=False)
    )
    stream = await connect(port)
    conn = HTTP1Connection(stream, True)
    get(conn)
    taken: list[IOStream] = []

    class Upgrader(Recorder):
        def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
            super().headers_received(start_line, headers)
            taken.append(conn.detach())

    delegate = Upgrader()
    assert await asyncio.wait_for(conn.read_response(delegate), 5) is False
    assert taken == [stream]
    assert delegate.kinds() == ["headers"]  # no on_connection_close: it detached
    assert await asyncio.wait_for(stream.read_bytes(3), 5) == b"RAW"
    stream.close()


# -- real servers --------------------------------------------------------------------


async def test_reads_squalls_own_server(serve: Any) -> None:
    def app(request: Any) -> None:
        body = b"you asked for " + request.uri.encode()
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}),
        )
        request.connection.write(body)
        request.connection.finish()

    stream = await connect(serve(app))
    for target in ("/one", "/two"):  # two exchanges on one kept-alive stream
        conn = HTTP1Connection(stream, True)
        get(conn, target)
        delegate = Recorder()
        assert await asyncio.wait_for(conn.read_response(delegate), 5) is True
        assert delegate.body == b"you asked for " + target.encode()
    stream.close()


TORNADO_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    import tornado.web

    class Stream(tornado.web.RequestHandler):
        async def get(self):
            for piece in (b"one ", b"two ", b"three"):
                self.write(piece)
                await self.flush()

    class Fixed(tornado.web.RequestHandler):
        def get(self):
            self.write("fixed body")

    async def main():
        app = tornado.web.Application([("/stream", Stream), ("/fixed", Fixed)])
        server = app.listen(0, "127.0.0.1")
        port = list(server._sockets.values())[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
    """
)


@pytest.fixture
def tornado_server() -> Any:
    process = subprocess.Popen(
        [sys.executable, "-c", TORNADO_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    port = int(process.stdout.readline())
    yield port
    process.stdin.close()
    process.wait(timeout=10)
    process.stdout.close()


async def test_reads_real_tornados_server(tornado_server: int) -> None:
    stream = await connect(tornado_server)
    results = []
    for target in ("/stream", "/fixed", "/stream"):
        conn = HTTP1Connection(stream, True)
        get(conn, target)
        delegate = Recorder()
        assert await asyncio.wait_for(conn.read_response(delegate), 10) is True
        headers = dict(delegate.events[0][2])
        results.append((delegate.body, headers.get("Transfer-Encoding")))
    assert results == [
        (b"one two three", "chunked"),
        (b"fixed body", None),
        (b"one two three", "chunked"),
    ]
    assert not stream.closed()
    stream.close()
