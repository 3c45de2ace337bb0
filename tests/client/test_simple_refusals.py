"""How the simple client refuses a response, as Tornado's does.

A response the client will not read on (malformed, over a limit, a
callback that raised) is logged (``gen_log`` INFO "Malformed HTTP message
from None: <reason>", or ``app_log`` ERROR "Uncaught exception"), its
connection is dropped, and the fetch fails with ``HTTPStreamClosedError``
("Connection closed"). Real sockets on 127.0.0.1, raw replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import re
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import squall.http1connection
from squall._http1._response import ResponseError, ResponseParser
from squall._http1_client import MAX_INFORMATIONAL_RESPONSES
from squall.log import app_log, gen_log
from squall.simple_httpclient import HTTPStreamClosedError, SimpleAsyncHTTPClient
from squall.testing import ExpectLog


async def serve(raw_server: Any, *replies: bytes) -> str:
    """A server answering the n-th request on each connection with
    ``replies[n]`` (then waiting for the client to hang up); its URL."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for data in replies:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(data)
            await writer.drain()
        await reader.read(1)

    port = await raw_server(reply)
    return f"http://127.0.0.1:{port}/"


def ok(body: bytes, *fields: str) -> bytes:
    head = "".join(f"{field}\r\n" for field in fields)
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


def gzipped(body: bytes, *fields: str) -> bytes:
    return ok(body, "Content-Encoding: gzip", f"Content-Length: {len(body)}", *fields)


@contextlib.contextmanager
def malformed(reason: str) -> Iterator[None]:
    with (
        ExpectLog(gen_log, "^Malformed HTTP message from None: " + re.escape(reason) + "$"),
        pytest.raises(HTTPStreamClosedError, match=r"^Connection closed$"),
    ):
        yield


@pytest.fixture
def make(io_loop: Any) -> Iterator[Any]:
    clients: list[SimpleAsyncHTTPClient] = []

    def make(**kwargs: Any) -> SimpleAsyncHTTPClient:
        client = SimpleAsyncHTTPClient(force_instance=True, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- limits ---------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True])
async def test_content_length_over_max_body_size(
    raw_server: Any, make: Any, streaming: bool
) -> None:
    url = await serve(raw_server, ok(b"x" * 2000, "Content-Length: 2000"))
    received: list[bytes] = []
    with malformed("Content-Length too long"):
        await make(max_body_size=1000).fetch(
            url, streaming_callback=received.append if streaming else None
        )
    assert received == []  # refused before a byte of the body was taken


async def test_chunked_body_over_max_body_size(raw_server: Any, make: Any) -> None:
    chunk = b"x" * 600
    body = b"258\r\n" + chunk + b"\r\n258\r\n" + chunk + b"\r\n0\r\n\r\n"
    url = await serve(raw_server, ok(body, "Transfer-Encoding: chunked"))
    with malformed("chunked body too large"):
        await make(max_body_size=1000).fetch(url)


async def test_body_until_close_over_max_body_size(raw_server: Any, make: Any) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 2000)
        await writer.drain()

    port = await raw_server(reply)
    with malformed("Body too long"):
        await make(max_body_size=1000).fetch(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("streaming", [False, True])
async def test_inflated_body_over_max_body_size(
    raw_server: Any, make: Any, streaming: bool
) -> None:
    url = await serve(raw_server, gzipped(gzip.compress(b"\0" * 100_000)))
    with malformed("decompressed body too large"):
        await make(max_body_size=10_000).fetch(
            url, streaming_callback=(lambda data: None) if streaming else None
        )


async def test_refused_connection_is_not_reused(raw_server: Any, make: Any) -> None:
    connections = 0

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        request = await reader.readuntil(b"\r\n\r\n")
        if request.startswith(b"GET /large"):
            writer.write(ok(b"x" * 2000, "Content-Length: 2000"))
        else:
            writer.write(ok(b"ok", "Content-Length: 2"))
        await writer.drain()
        await reader.read(1)

    port = await raw_server(reply)
    client = make(max_body_size=1000)
    with malformed("Content-Length too long"):
        await client.fetch(f"http://127.0.0.1:{port}/large")
    assert (await client.fetch(f"http://127.0.0.1:{port}/small")).body == b"ok"
    assert connections == 2


async def test_streamed_gzip_bomb_is_inflated_a_piece_at_a_time(raw_server: Any, make: Any) -> None:
    expanded = 64 * 1024 * 1024
    url = await serve(raw_server, gzipped(gzip.compress(b"\0" * expanded, 9)))
    sizes: list[int] = []
    tracemalloc.start()
    try:
        await make().fetch(url, streaming_callback=lambda data: sizes.append(len(data)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == expanded
    assert max(sizes) <= 64 * 1024
    assert peak < 8 * 1024 * 1024  # nowhere near the 64 MiB it expands to


# -- gzip bodies ----------------------------------------------------------------

MEMBER = gzip.compress(b"squall " * 1000)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (MEMBER + b"\0\0", "invalid gzip data: expected a gzip member, got b'\\x00\\x00'"),
        (MEMBER + b"\0", "invalid gzip data: expected a gzip member, got b'\\x00'"),
        (MEMBER + b"garbage", "invalid gzip data: expected a gzip member, got b'ga'"),
        (MEMBER[:-2], "invalid gzip data: incomplete or truncated gzip stream"),
        (b"plain text", "invalid gzip data: expected a gzip member, got b'pl'"),
    ],
)
async def test_invalid_gzip_bodies(raw_server: Any, make: Any, body: bytes, reason: str) -> None:
    url = await serve(raw_server, gzipped(body))
    with malformed(reason):
        await make().fetch(url)


async def test_concatenated_gzip_members(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, gzipped(MEMBER + MEMBER))
    response = await make().fetch(url)
    assert response.body == b"squall " * 2000
    assert response.headers["X-Consumed-Content-Encoding"] == "gzip"


async def test_empty_gzip_body_is_accepted(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, gzipped(b""))
    assert (await make().fetch(url)).body == b""


# -- heads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        ("Content-Length: 2, 2",),
        ("Content-Length: 2,2",),
        ("Content-Length: 2", "Content-Length: 2"),
    ],
)
async def test_repeated_equal_content_lengths_are_one(
    raw_server: Any, make: Any, fields: tuple[str, ...]
) -> None:
    url = await serve(raw_server, ok(b"ok", *fields, "X-After: 1"))
    response = await make().fetch(url)
    assert response.body == b"ok"
    assert response.headers.get_list("Content-Length") == ["2"]
    assert response.headers["X-After"] == "1"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (("Content-Length: 2, 3",), "Multiple unequal Content-Lengths: '2, 3'"),
        (("Content-Length: 2", "Content-Length: 3"), "Multiple unequal Content-Lengths: '2,3'"),
        (("Content-Length: 2 , 2",), "Multiple unequal Content-Lengths: '2 , 2'"),
        (("Content-Length: 2,",), "Multiple unequal Content-Lengths: '2,'"),
        (("Content-Length: x",), "Only integer Content-Length is allowed: x"),
        (("Content-Length: -2",), "Only integer Content-Length is allowed: -2"),
        (
            ("Content-Length: 2", "Transfer-Encoding: chunked"),
            "Message with both Transfer-Encoding and Content-Length",
        ),
        (
            ("X-Folded: a", "\tb", "Content-Length: 2"),
            "header line cannot start with whitespace, folding not supported",
        ),
        (("No colon here", "Content-Length: 2"), "no colon in header line"),
        (
            ("Content-Length : 2",),  # not taken for a length: llhttp's refusal stands
            "malformed HTTP response: Invalid header field char",
        ),
    ],
)
async def test_refused_heads(
    raw_server: Any, make: Any, fields: tuple[str, ...], reason: str
) -> None:
    url = await serve(raw_server, ok(b"ok", *fields))
    with malformed(reason):
        await make().fetch(url)


@pytest.mark.parametrize(
    ("status_line", "reason"),
    [
        (b"HTTP/2.0 200 OK", "Unexpected HTTP version 'HTTP/2.0'"),
        (b"HTTP/1.1", "Error parsing response start line"),
        (b"HTTP/1.1 abc OK", "Error parsing response start line"),
    ],
)
async def test_refused_status_lines(
    raw_server: Any, make: Any, status_line: bytes, reason: str
) -> None:
    url = await serve(raw_server, status_line + b"\r\nContent-Length: 2\r\n\r\nok")
    with malformed(reason):
        await make().fetch(url)


async def test_interim_responses_limit(raw_server: Any, make: Any) -> None:
    assert squall.http1connection._MAX_1XX_RESPONSES == MAX_INFORMATIONAL_RESPONSES == 10
    final = ok(b"ok", "Content-Length: 2")
    url = await serve(raw_server, b"HTTP/1.1 100 Continue\r\n\r\n" * 10 + final)
    assert (await make().fetch(url)).body == b"ok"
    url = await serve(raw_server, b"HTTP/1.1 100 Continue\r\n\r\n" * 11 + final)
    with malformed("Too many 1xx responses"):
        await make().fetch(url)


# -- callbacks ------------------------------------------------------------------


@contextlib.contextmanager
def uncaught(message: str) -> Iterator[None]:
    with (
        ExpectLog(app_log, "^Uncaught exception$") as logged,
        pytest.raises(HTTPStreamClosedError, match=r"^Connection closed$"),
    ):
        yield
    assert logged.logged_stack  # the callback's traceback is in the log


async def test_header_callback_error(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, ok(b"ok", "Content-Length: 2"))

    def header_callback(line: str) -> None:
        raise ValueError("header callback failed")

    with uncaught("header callback failed"):
        await make().fetch(url, header_callback=header_callback)


async def test_streaming_callback_error(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, ok(b"ok", "Content-Length: 2"))

    def streaming_callback(data: bytes) -> None:
        raise ValueError("streaming callback failed")

    with uncaught("streaming callback failed"):
        await make().fetch(url, streaming_callback=streaming_callback)


async def test_streaming_coroutine_cancelled_inside(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, ok(b"ok", "Content-Length: 2"))

    async def streaming_callback(data: bytes) -> None:
        waiter = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(waiter.cancel)
        await waiter  # cancelled, but the fetch itself was not

    with uncaught("CancelledError"):
        await asyncio.wait_for(make().fetch(url, streaming_callback=streaming_callback), 10)


async def test_timeout_during_slow_streaming_coroutine_is_a_timeout(
    raw_server: Any, make: Any
) -> None:
    url = await serve(raw_server, ok(b"ok", "Content-Length: 2"))

    async def streaming_callback(data: bytes) -> None:
        await asyncio.sleep(5)

    with pytest.raises(Exception, match="Timeout during request"):
        await make().fetch(url, streaming_callback=streaming_callback, request_timeout=0.2)


# -- no garbage -----------------------------------------------------------------


def test_response_parser_is_freed_without_the_cycle_collector() -> None:
    gc.disable()
    try:
        parser = ResponseParser()
        parser.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        assert parser.feed(b"ok") == [b"ok"]
        freed = weakref.ref(parser)
        del parser
        assert freed() is None
        refused = ResponseParser()
        with pytest.raises(ResponseError):
            refused.parse_head(b"HTTP/1.1 200 OK\r\nBad\r\n\r\n")
        freed = weakref.ref(refused)
        del refused
        assert freed() is None
    finally:
        gc.enable()


async def test_fetch_leaves_no_parser_garbage(raw_server: Any, make: Any) -> None:
    url = await serve(raw_server, ok(b"ok", "Content-Length: 2"))
    client = make()
    gc.collect()
    gc.disable()
    try:
        await client.fetch(url)
        garbage_before = len(gc.garbage)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        parsers = [o for o in gc.garbage[garbage_before:] if isinstance(o, ResponseParser)]
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        gc.enable()
    assert parsers == []


# -- responses that may not have a body ------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nok",
            "Response with code 204 should not have body",
        ),
        (
            b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "Response with code 204 should not have body",
        ),
        (
            b"HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "Response code 100 cannot have body",
        ),
    ],
)
async def test_body_announced_where_none_may_be(
    raw_server: Any, make: Any, reply: bytes, reason: str
) -> None:
    url = await serve(raw_server, reply)
    with malformed(reason):
        await make().fetch(url)


async def test_empty_bodies_announced_as_such_are_fine(raw_server: Any, make: Any) -> None:
    client = make()
    url = await serve(raw_server, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    assert (await client.fetch(url)).code == 204
    # A 304 describes the representation it stands for: its length is not a body's.
    url = await serve(raw_server, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n")
    response = await client.fetch(url, raise_error=False)
    assert (response.code, response.body) == (304, b"")
