"""squall.iostream over real sockets on 127.0.0.1, on uvloop and on asyncio's loop."""

from __future__ import annotations

import array
import asyncio
import contextlib
import io
import os
import re
import socket
import ssl
import struct
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme
from net_loops import LOOPS, each_loop

from squall import netutil
from squall.ioloop import IOLoop
from squall.iostream import (
    READ_BUFFER_HIGH_WATER,
    IOStream,
    PipeIOStream,
    SSLIOStream,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
)
from squall.log import app_log, gen_log
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog, bind_unused_port

# Every test, async or not, runs on both loops.
pytestmark = pytest.mark.usefixtures("io_loop")


@pytest.fixture(params=LOOPS)
def io_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test here runs once on each loop squall can make."""
    yield from each_loop(request.param, monkeypatch)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class Acceptor(TCPServer):
    """Queues the streams of accepted connections for the test to use."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams: asyncio.Queue[IOStream] = asyncio.Queue()

    def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.streams.put_nowait(stream)


class EchoServer(TCPServer):
    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        try:
            while True:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)
        except StreamClosedError:
            pass


@contextlib.asynccontextmanager
async def listening(server: TCPServer) -> AsyncIterator[int]:
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        yield port
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def stream_pair(
    server_kwargs: dict[str, Any] | None = None, **client_kwargs: Any
) -> AsyncIterator[tuple[IOStream, IOStream]]:
    """(accepted stream, connected client stream) over TCP."""
    server = Acceptor(**(server_kwargs or {}))
    async with listening(server) as port:
        client = IOStream(socket.socket(), **client_kwargs)
        served: IOStream | None = None
        try:
            await client.connect(("127.0.0.1", port))
            served = await server.streams.get()
            yield served, client
        finally:
            client.close()
            if served is not None:
                served.close()


@contextlib.asynccontextmanager
async def raw_client(**server_kwargs: Any) -> AsyncIterator[tuple[IOStream, socket.socket]]:
    """(accepted stream, raw non-blocking client socket with TCP_NODELAY)."""
    server = Acceptor(**server_kwargs)
    async with listening(server) as port:
        raw = socket.socket()
        raw.setblocking(False)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        served: IOStream | None = None
        try:
            await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
            served = await server.streams.get()
            yield served, raw
        finally:
            raw.close()
            if served is not None:
                served.close()


async def send_slowly(raw: socket.socket, data: bytes) -> None:
    """Byte by byte, letting the loop run between: delimiters split across reads."""
    loop = asyncio.get_running_loop()
    for i in range(len(data)):
        await loop.sock_sendall(raw, data[i : i + 1])
        await asyncio.sleep(0.002)


async def wait_until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


# -- errors -------------------------------------------------------------------


def test_error_tree() -> None:
    assert issubclass(StreamClosedError, IOError)
    error = StreamClosedError(real_error=ValueError("x"))
    assert str(error) == "Stream is closed"
    assert isinstance(error.real_error, ValueError)
    assert StreamClosedError().real_error is None
    assert not issubclass(UnsatisfiableReadError, StreamClosedError)
    assert not issubclass(StreamBufferFullError, StreamClosedError)


# -- echo and the read patterns -----------------------------------------------


async def test_echo_over_tcpserver() -> None:
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        assert await stream.connect(("127.0.0.1", port)) is stream
        for message in (b"hello", b"x" * 100_000, b"\x00\xff" * 10):
            await stream.write(message)
            assert await stream.read_bytes(len(message)) == message
        stream.close()
        assert stream.closed()


async def test_large_transfer_both_ways_is_intact() -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", port))
        writing = stream.write(payload)
        assert await stream.read_bytes(len(payload)) == payload
        await writing
        stream.close()


async def test_read_bytes_waits_for_all_and_partial_does_not() -> None:
    async with raw_client() as (stream, raw):
        loop = asyncio.get_running_loop()
        reading = stream.read_bytes(6)
        await loop.sock_sendall(raw, b"abc")
        await asyncio.sleep(0.02)
        assert not reading.done()
        assert stream.reading()
        await loop.sock_sendall(raw, b"defgh")
        assert await reading == b"abcdef"
        assert not stream.reading()
        # "gh" is buffered: a partial read returns it without waiting.
        assert await stream.read_bytes(100, partial=True) == b"gh"
        await loop.sock_sendall(raw, b"ij")
        assert await stream.read_bytes(100, partial=True) == b"ij"
        assert await stream.read_bytes(0) == b""


async def test_read_bytes_rejects_bad_sizes() -> None:
    async with stream_pair() as (_served, client):
        with pytest.raises(TypeError, match="num_bytes must be an int"):
            client.read_bytes(2.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.read_bytes(True)
        with pytest.raises(ValueError, match="must not be negative"):
            client.read_bytes(-1)
        assert not client.reading()


async def test_read_until_with_delimiter_split_across_packets() -> None:
    async with raw_client() as (stream, raw):
        reading = stream.read_until(b"\r\n\r\n")
        await send_slowly(raw, b"GET / HTTP/1.0\r\n\r")
        assert not reading.done()
        await send_slowly(raw, b"\nbody")
        assert await reading == b"GET / HTTP/1.0\r\n\r\n"
        assert await stream.read_bytes(4) == b"body"


async def test_read_until_several_messages_in_one_packet() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"one\ntwo\nthree\npartial")
        assert await stream.read_until(b"\n") == b"one\n"
        assert await stream.read_until("\n") == b"two\n"
        assert await stream.read_until(bytearray(b"\n")) == b"three\n"
        reading = stream.read_until(b"\n")
        await asyncio.sleep(0.01)
        assert not reading.done()
        await asyncio.get_running_loop().sock_sendall(raw, b"!\n")
        assert await reading == b"partial!\n"


async def test_read_until_rejects_bad_delimiter_type() -> None:
    async with stream_pair() as (_served, client):
        with pytest.raises(TypeError, match="delimiter must be bytes or str"):
            client.read_until(42)  # type: ignore[arg-type]


async def test_read_until_max_bytes_fits_exactly() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"0123\n56789")
        assert await stream.read_until(b"\n", max_bytes=5) == b"0123\n"
        assert not stream.closed()


async def test_read_until_max_bytes_overflow_as_data_arrives() -> None:
    async with raw_client() as (stream, raw):
        reading = stream.read_until(b"\n", max_bytes=10)
        with ExpectLog(gen_log, "Unsatisfiable read"):
            await send_slowly(raw, b"0123456789")
            with pytest.raises(UnsatisfiableReadError) as info:
                await reading
        # Tornado code catches StreamClosedError: the same exception is one.
        assert isinstance(info.value, StreamClosedError)
        assert isinstance(info.value.real_error, UnsatisfiableReadError)
        assert "not found within 10 bytes" in str(info.value)
        assert stream.closed()
        assert isinstance(stream.error, UnsatisfiableReadError)


async def test_read_until_max_bytes_overflow_already_buffered() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"0123456789")
        await stream.read_bytes(1)
        with ExpectLog(gen_log, "Unsatisfiable read"):
            reading = stream.read_until(b"9", max_bytes=8)
            with pytest.raises(StreamClosedError):
                await reading
        assert stream.closed()


async def test_read_until_regex() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"BYTES: 12  rest\nmore\n")
        assert await stream.read_until_regex(rb"BYTES: \d+\s+") == b"BYTES: 12  "
        assert await stream.read_until_regex("re.t\n") == b"rest\n"
        assert await stream.read_until_regex(re.compile("^m.*\n")) == b"more\n"
        reading = stream.read_until_regex(re.compile(rb"(\d)\1"))
        await send_slowly(raw, b"1213344")
        assert await reading == b"12133"
        assert await stream.read_bytes(2) == b"44"


async def test_read_until_regex_max_bytes() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"aaaa;bbbbbbbb;")
        assert await stream.read_until_regex(b";", max_bytes=5) == b"aaaa;"
        with ExpectLog(gen_log, "Unsatisfiable read"):
            with pytest.raises(UnsatisfiableReadError, match="not matched within 5 bytes"):
                await stream.read_until_regex(b";", max_bytes=5)
    async with raw_client() as (stream, raw):
        reading = stream.read_until_regex(b";", max_bytes=5)
        with ExpectLog(gen_log, "Unsatisfiable read"):
            await asyncio.get_running_loop().sock_sendall(raw, b"abcdefg")
            with pytest.raises(StreamClosedError):
                await reading


async def test_read_until_close_gathers_everything() -> None:
    async with raw_client() as (stream, raw):
        reading = stream.read_until_close()
        await asyncio.get_running_loop().sock_sendall(raw, b"abc" * 1000)
        await asyncio.sleep(0.01)
        assert not reading.done()
        raw.close()
        assert await reading == b"abc" * 1000
        assert stream.closed()
        # Nothing left, and reading a closed stream's end again is allowed.
        assert await stream.read_until_close() == b""


async def test_read_until_close_with_streaming_callback() -> None:
    chunks: list[bytes] = []
    payload = os.urandom(500_000)
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"early")
        await asyncio.sleep(0.01)
        reading = stream.read_until_close(streaming_callback=chunks.append)
        await asyncio.get_running_loop().sock_sendall(raw, payload)
        raw.close()
        assert await reading == b""
    assert b"".join(chunks) == b"early" + payload
    assert all(chunks)


async def test_read_bytes_with_streaming_callback() -> None:
    chunks: list[bytes] = []
    async with raw_client() as (stream, raw):
        reading = stream.read_bytes(10, streaming_callback=chunks.append)
        await send_slowly(raw, b"0123456789tail")
        assert await reading == b""
        assert b"".join(chunks) == b"0123456789"
        assert await stream.read_bytes(4) == b"tail"
        assert await stream.read_bytes(0, streaming_callback=chunks.append) == b""


async def test_peer_close_in_the_middle_of_a_read() -> None:
    closes: list[bool] = []
    async with raw_client() as (stream, raw):
        stream.set_close_callback(lambda: closes.append(True))
        reading = stream.read_bytes(10)
        await asyncio.get_running_loop().sock_sendall(raw, b"abc")
        raw.close()
        with pytest.raises(StreamClosedError) as info:
            await reading
        assert info.value.real_error is None
        assert stream.closed()
        # What arrived before the close can still be read.
        assert await stream.read_bytes(3) == b"abc"
        with pytest.raises(StreamClosedError):
            await stream.read_bytes(1)
        await wait_until(lambda: closes)
        assert closes == [True]


async def test_reset_sets_real_error() -> None:
    async with raw_client() as (stream, raw):
        reading = stream.read_bytes(10)
        # SO_LINGER 0: close() sends an RST instead of a FIN.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        with pytest.raises(StreamClosedError) as info:
            await reading
        assert isinstance(info.value.real_error, ConnectionResetError)
        assert stream.error is info.value.real_error


async def test_local_close_fails_pending_read_and_write() -> None:
    async with stream_pair() as (served, client):
        reading = client.read_bytes(10)
        client.close()
        with pytest.raises(StreamClosedError) as info:
            await reading
        assert info.value.real_error is None
        with pytest.raises(StreamClosedError):
            client.write(b"x")
        # Reading a closed stream with nothing buffered fails at once, as
        # in Tornado 6.6 (not through the Future).
        with pytest.raises(StreamClosedError):
            client.read_until(b"\n")
        assert not client.reading()
        assert not client.writing()
        client.close()  # a second close is harmless
        # The peer sees the close as the end of the stream.
        assert await served.read_until_close() == b""


async def test_close_with_exc_info_records_the_error() -> None:
    async with stream_pair() as (_served, client):
        reading = client.read_bytes(1)
        try:
            raise ValueError("boom")
        except ValueError:
            client.close(exc_info=True)
        with pytest.raises(StreamClosedError) as info:
            await reading
        assert isinstance(info.value.real_error, ValueError)
        assert client.error is info.value.real_error
    async with stream_pair() as (_served, client):
        error = KeyError("k")
        client.close(exc_info=(KeyError, error, None))
        assert client.error is error
    async with stream_pair() as (_served, client):
        client.close(exc_info=True)  # nothing being handled: no error recorded
        assert client.error is None


async def test_only_one_read_at_a_time() -> None:
    async with stream_pair() as (_served, client):
        client.read_bytes(1)
        with pytest.raises(AssertionError, match="Already reading"):
            client.read_until(b"\n")
        with pytest.raises(AssertionError, match="Already reading"):
            client.read_bytes(1)


async def test_read_into_full_and_partial() -> None:
    async with raw_client() as (stream, raw):
        loop = asyncio.get_running_loop()
        buf = bytearray(10)
        reading = stream.read_into(buf)
        await loop.sock_sendall(raw, b"01234")
        await asyncio.sleep(0.01)
        assert not reading.done()
        await loop.sock_sendall(raw, b"56789ABC")
        assert await reading == 10
        assert buf == b"0123456789"
        # "ABC" is buffered; a partial read takes what there is.
        small = bytearray(2)
        assert await stream.read_into(small, partial=True) == 2
        assert small == b"AB"
        big = bytearray(100)
        assert await stream.read_into(big, partial=True) == 1
        assert big[:1] == b"C"
        reading = stream.read_into(memoryview(big)[10:20], partial=True)
        await loop.sock_sendall(raw, b"xyz")
        assert await reading == 3
        assert big[10:13] == b"xyz"


async def test_read_into_typed_array_and_readonly_buffer() -> None:
    async with raw_client() as (stream, raw):
        numbers = array.array("i", [0, 0])
        reading = stream.read_into(numbers)
        await asyncio.get_running_loop().sock_sendall(raw, struct.pack("=ii", 7, -3))
        assert await reading == 8
        assert list(numbers) == [7, -3]
        with pytest.raises(TypeError, match="writable"):
            stream.read_into(b"readonly")


async def test_read_into_fails_when_closed_before_full() -> None:
    async with raw_client() as (stream, raw):
        buf = bytearray(10)
        reading = stream.read_into(buf)
        await asyncio.get_running_loop().sock_sendall(raw, b"abc")
        raw.close()
        with pytest.raises(StreamClosedError):
            await reading


# -- callbacks ----------------------------------------------------------------


async def test_callback_forms() -> None:
    events: list[Any] = []
    done = asyncio.get_running_loop().create_future()
    server = Acceptor()
    async with listening(server) as port:
        stream = IOStream(socket.socket())

        def on_connect() -> None:
            events.append("connected")
            stream.write(b"ping\n", on_write)
            stream.read_until(b"\n", on_line)

        def on_write() -> None:
            events.append("written")

        def on_line(data: bytes) -> None:
            events.append(data)
            stream.read_bytes(4, on_bytes)

        def on_bytes(data: bytes) -> None:
            events.append(data)
            stream.read_until_close(on_finish, on_chunk)

        def on_chunk(data: bytes) -> None:
            events.append(("chunk", data))

        def on_finish(data: bytes) -> None:
            events.append(("finish", data))

        stream.set_close_callback(lambda: done.set_result(None))
        stream.connect(("127.0.0.1", port), on_connect)
        # The accepted side echoes the line and four bytes, then closes.
        served = await server.streams.get()
        line = await served.read_until(b"\n")
        await served.write(line + b"abcd")
        await asyncio.sleep(0.01)
        await served.write(b"tail")
        served.close()
        await done
    assert events[0] == "connected"
    assert "written" in events
    rest = [e for e in events if e not in ("connected", "written")]
    assert rest[:2] == [b"ping\n", b"abcd"]
    assert b"".join(e[1] for e in rest[2:-1]) == b"tail"
    assert rest[-1] == ("finish", b"")


async def test_callback_that_raises_is_logged_and_closes() -> None:
    async with raw_client() as (stream, raw):

        def bad(data: bytes) -> None:
            raise ZeroDivisionError

        stream.read_bytes(1, bad)
        with ExpectLog(app_log, "Uncaught exception in stream callback"):
            await asyncio.get_running_loop().sock_sendall(raw, b"x")
            await wait_until(stream.closed)
        assert isinstance(stream.error, ZeroDivisionError)


async def test_coroutine_callback_failure_is_logged_and_closes() -> None:
    async with raw_client() as (stream, raw):

        async def bad(data: bytes) -> None:
            await asyncio.sleep(0)
            raise ZeroDivisionError

        stream.read_bytes(1, bad)
        with ExpectLog(app_log, "Uncaught exception in stream callback"):
            await asyncio.get_running_loop().sock_sendall(raw, b"x")
            await wait_until(stream.closed)


async def test_close_callback_set_after_close_still_runs() -> None:
    async with stream_pair() as (_served, client):
        client.close()
        calls: list[int] = []
        client.set_close_callback(lambda: calls.append(1))
        await wait_until(lambda: calls)
        await asyncio.sleep(0.01)
        assert calls == [1]


async def test_close_callback_cleared() -> None:
    async with stream_pair() as (_served, client):
        calls: list[int] = []
        client.set_close_callback(lambda: calls.append(1))
        client.set_close_callback(None)
        client.close()
        await asyncio.sleep(0.02)
        assert calls == []


# -- flow control and limits --------------------------------------------------


async def test_slow_reader_keeps_bounded_buffer_and_stalls_writer() -> None:
    total = 16 * 1024 * 1024
    chunk = os.urandom(64 * 1024)
    async with stream_pair() as (served, client):
        written = 0
        pending: list[asyncio.Future[None]] = []
        # Write far more than the kernel's buffers hold while nobody reads.
        while written < total:
            pending.append(client.write(chunk))
            written += len(chunk)
        await asyncio.sleep(0.1)
        assert client.writing()
        assert not pending[-1].done()
        # The reading side stopped taking data off the socket early on.
        assert len(served._read_buffer) <= READ_BUFFER_HIGH_WATER + served.read_chunk_size
        received = 0
        while received < total:
            data = await served.read_bytes(256 * 1024, partial=True)
            assert len(served._read_buffer) <= READ_BUFFER_HIGH_WATER + served.read_chunk_size
            assert data == (chunk * 5)[received % len(chunk) :][: len(data)]
            received += len(data)
            if received % (2 * 1024 * 1024) < len(data):
                await asyncio.sleep(0.005)  # a slow consumer
        await asyncio.gather(*pending)
        assert not client.writing()


async def test_write_future_waits_for_the_kernel() -> None:
    async with stream_pair() as (served, client):
        assert await client.write(b"small") is None
        big = client.write(b"x" * (8 * 1024 * 1024))
        await asyncio.sleep(0.05)
        assert not big.done()
        assert client.writing()
        assert await served.read_bytes(5 + 8 * 1024 * 1024) == b"small" + b"x" * (8 * 1024 * 1024)
        await big
        assert await client.write(b"") is None


async def test_max_write_buffer_size() -> None:
    async with stream_pair(max_write_buffer_size=1024 * 1024) as (served, client):
        with pytest.raises(StreamBufferFullError, match="Reached maximum write buffer size"):
            client.write(b"x" * (1024 * 1024 + 1))
        assert not client.closed()
        await client.write(b"fits")
        assert await served.read_bytes(4) == b"fits"


async def test_max_buffer_size_caps_a_single_read() -> None:
    async with raw_client(max_buffer_size=1024) as (stream, raw):
        reading = stream.read_until(b"\n")
        with ExpectLog(gen_log, "Reached maximum read buffer size"):
            await asyncio.get_running_loop().sock_sendall(raw, b"x" * 5000)
            with pytest.raises(StreamBufferFullError) as info:
                await reading
        assert isinstance(info.value, StreamClosedError)
        assert "Reached maximum read buffer size" in str(info.value)
        assert stream.closed()
    async with raw_client(max_buffer_size=1024) as (stream, raw):
        reading = stream.read_until_close()
        with ExpectLog(gen_log, "Reached maximum read buffer size"):
            await asyncio.get_running_loop().sock_sendall(raw, b"x" * 5000)
            with pytest.raises(StreamBufferFullError):
                await reading
    async with raw_client(max_buffer_size=1024) as (stream, raw):
        # Streaming reads are not limited: nothing accumulates.
        chunks: list[bytes] = []
        reading = stream.read_until_close(streaming_callback=chunks.append)
        await asyncio.get_running_loop().sock_sendall(raw, b"x" * 50000)
        raw.close()
        assert await reading == b""
        assert len(b"".join(chunks)) == 50000


async def test_buffer_settings() -> None:
    stream = IOStream(socket.socket(), max_buffer_size=1000, read_chunk_size=4096)
    assert stream.max_buffer_size == 1000
    assert stream.read_chunk_size == 500  # at most half the buffer, as Tornado
    default = IOStream(socket.socket())
    assert default.max_buffer_size == 100 * 1024 * 1024
    assert default.read_chunk_size == 65536
    assert default.max_write_buffer_size is None
    stream.close()
    default.close()
    assert default.socket.fileno() == -1


async def test_set_nodelay() -> None:
    async with stream_pair() as (served, client):
        client.set_nodelay(False)
        sock = client.socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        client.set_nodelay(True)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        served.set_nodelay(False)
        await client.write(b"still works")
        assert await served.read_bytes(11) == b"still works"


# -- connecting ---------------------------------------------------------------


async def test_connect_refused() -> None:
    sock, port = bind_unused_port()
    sock.close()
    stream = IOStream(socket.socket())
    closed: list[bool] = []
    stream.set_close_callback(lambda: closed.append(True))
    with pytest.raises(StreamClosedError) as info:
        await stream.connect(("127.0.0.1", port))
    assert isinstance(info.value.real_error, ConnectionRefusedError)
    assert stream.closed()
    assert isinstance(stream.error, ConnectionRefusedError)
    assert stream.socket.fileno() == -1
    await wait_until(lambda: closed)


async def test_writes_and_reads_before_connect_completes() -> None:
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        connecting = stream.connect(("127.0.0.1", port))
        buf = bytearray(b"queued")
        writing = stream.write(buf)
        buf[:] = b"XXXXXX"  # the stream copied it
        assert stream.writing()
        reading = stream.read_bytes(6)
        await connecting
        await writing
        assert await reading == b"queued"
        stream.close()


async def test_connect_twice_is_an_error() -> None:
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", port))
        with pytest.raises(RuntimeError, match="already connected"):
            stream.connect(("127.0.0.1", port))
        stream.close()


async def test_close_before_connect_runs() -> None:
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        connecting = stream.connect(("127.0.0.1", port))
        stream.close()
        with pytest.raises(StreamClosedError):
            await connecting
        assert stream.socket.fileno() == -1
        # connect() on a closed stream fails the same way.
        again = IOStream(socket.socket())
        again.close()
        with pytest.raises(StreamClosedError):
            await again.connect(("127.0.0.1", port))


async def test_accepted_socket_is_taken_over() -> None:
    a, b = socket.socketpair()
    left, right = IOStream(a), IOStream(b)
    # Usable at once: these wait for the transports.
    reading = right.read_until(b"!")
    left.write(b"hi!")
    assert await reading == b"hi!"
    assert left.fileno() is a
    left.close()
    assert await right.read_until_close() == b""
    assert a.fileno() == -1


async def test_close_before_accepted_socket_is_attached() -> None:
    a, b = socket.socketpair()
    left, right = IOStream(a), IOStream(b)
    left.close()
    assert a.fileno() == -1
    assert await right.read_until_close() == b""
    right.close()


async def test_get_fd_error() -> None:
    async with stream_pair() as (_served, client):
        assert client.get_fd_error() is None


# -- taking over a transport --------------------------------------------------


async def test_from_transport_takes_over_with_initial_data() -> None:
    loop = asyncio.get_running_loop()

    class FirstProtocol(asyncio.Protocol):
        def __init__(self) -> None:
            self.data = b""
            self.got = loop.create_future()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.data += data
            if b"\n" in self.data and not self.got.done():
                self.got.set_result(None)

    protocols: list[FirstProtocol] = []

    def factory() -> FirstProtocol:
        protocols.append(FirstProtocol())
        return protocols[-1]

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = IOStream(socket.socket())
        await client.connect(("127.0.0.1", port))
        await client.write(b"UPGRADE\nleftover")
        await protocols[0].got
        head, _, rest = protocols[0].data.partition(b"\n")
        assert head == b"UPGRADE"
        # Pause like an HTTP server would before handing the connection on.
        protocols[0].transport.pause_reading()  # type: ignore[attr-defined]
        stream = IOStream._from_transport(protocols[0].transport, initial_data=rest)
        assert type(stream) is IOStream
        await client.write(b" and more")
        assert await stream.read_bytes(len(rest) + 9) == rest + b" and more"
        await stream.write(b"reply")
        assert await client.read_bytes(5) == b"reply"
        client.close()
        assert await stream.read_until_close() == b""
    finally:
        server.close()


async def test_from_transport_of_a_closed_transport() -> None:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, a)
    transport.close()
    stream = IOStream._from_transport(transport, initial_data=b"left")
    assert stream.closed()
    assert await stream.read_until_close() == b"left"
    b.close()
    await asyncio.sleep(0)


# -- TLS ----------------------------------------------------------------------


async def test_tls_echo_with_context_and_dict(
    ca: trustme.CA, server_context: ssl.SSLContext, client_context: ssl.SSLContext, tmp_path: Any
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with listening(EchoServer(ssl_options=server_context)) as port:
        for options in (client_context, {"ca_certs": str(ca_file)}):
            stream = SSLIOStream(socket.socket(), ssl_options=options)
            await stream.connect(("127.0.0.1", port), server_hostname="localhost")
            assert await stream.wait_for_handshake() is stream
            payload = os.urandom(300_000)
            await stream.write(payload)
            assert await stream.read_bytes(len(payload)) == payload
            stream.close()


async def test_tls_server_stream_handshake_done(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = Acceptor(ssl_options=server_context)
    async with listening(server) as port:
        client = SSLIOStream(socket.socket(), ssl_options=client_context)
        handshake = client.wait_for_handshake()
        await client.connect(("127.0.0.1", port), server_hostname="localhost")
        assert handshake.done()
        served = await server.streams.get()
        assert isinstance(served, SSLIOStream)
        assert await served.wait_for_handshake() is served
        await client.write(b"secret")
        assert await served.read_bytes(6) == b"secret"
        client.close()
        served.close()


async def test_tls_default_context_rejects_unknown_ca(server_context: ssl.SSLContext) -> None:
    async with listening(EchoServer(ssl_options=server_context)) as port:
        stream = SSLIOStream(socket.socket())
        handshake = stream.wait_for_handshake()
        # The handshake's own error, as Tornado reports it, and logged.
        with ExpectLog(gen_log, r"SSL Error on \d+ \('127\.0\.0\.1', \d+\): .*CERTIFICATE_VERIFY"):
            with pytest.raises(ssl.SSLCertVerificationError):
                await stream.connect(("127.0.0.1", port), server_hostname="localhost")
        assert isinstance(stream.error, ssl.SSLCertVerificationError)
        with pytest.raises(StreamClosedError):
            await handshake
        # wait_for_handshake on a stream that failed fails too.
        with pytest.raises(StreamClosedError):
            await stream.wait_for_handshake()


async def test_tls_hostname_mismatch_rejected(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with listening(EchoServer(ssl_options=server_context)) as port:
        stream = SSLIOStream(socket.socket(), ssl_options=client_context)
        with pytest.raises(ssl.SSLCertVerificationError, match=r"example\.com"):
            await stream.connect(("127.0.0.1", port), server_hostname="example.com")
        assert stream.closed()
        # The host in the address is checked when no name is given: the
        # certificate names 127.0.0.1 too.
        ok = SSLIOStream(socket.socket(), ssl_options=client_context)
        await ok.connect(("127.0.0.1", port))
        ok.close()


async def test_tls_server_side_on_accepted_socket(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    listener, port = bind_unused_port()
    loop = asyncio.get_running_loop()
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    connecting = client.connect(("127.0.0.1", port), server_hostname="localhost")
    conn, _ = await loop.sock_accept(listener)
    listener.close()
    served = SSLIOStream(conn, ssl_options=server_context)
    await connecting
    assert await served.wait_for_handshake() is served
    await served.write(b"from server")
    assert await client.read_bytes(11) == b"from server"
    client.close()
    served.close()


async def test_tls_client_over_connected_ssl_socket(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with listening(EchoServer(ssl_options=server_context)) as port:
        raw = socket.create_connection(("127.0.0.1", port))
        wrapped = client_context.wrap_socket(
            raw, server_hostname="localhost", do_handshake_on_connect=False
        )
        stream = SSLIOStream(wrapped)
        await stream.wait_for_handshake()
        await stream.write(b"echo me")
        assert await stream.read_bytes(7) == b"echo me"
        stream.close()


async def test_tls_server_options_required() -> None:
    a, b = socket.socketpair()
    with pytest.raises(ValueError, match="needs ssl_options"):
        SSLIOStream(a)
    a.close()
    b.close()


async def test_start_tls_both_sides(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with stream_pair() as (served, client):
        closes: list[str] = []
        served.set_close_callback(lambda: closes.append("server"))
        await client.write(b"STARTTLS\n")
        assert await served.read_until(b"\n") == b"STARTTLS\n"
        await served.write(b"GO\n")
        assert await client.read_until(b"\n") == b"GO\n"
        server_tls = served.start_tls(True, server_context)
        client_tls = client.start_tls(False, client_context, server_hostname="localhost")
        assert served.closed() and client.closed()
        tls_served, tls_client = await server_tls, await client_tls
        assert isinstance(tls_served, SSLIOStream) and isinstance(tls_client, SSLIOStream)
        await tls_client.write(b"over tls")
        assert await tls_served.read_bytes(8) == b"over tls"
        assert tls_served.socket is not None
        tls_client.close()
        assert await tls_served.read_until_close() == b""
        await wait_until(lambda: closes)
        assert closes == ["server"]


async def test_start_tls_requires_idle_stream(client_context: ssl.SSLContext) -> None:
    async with stream_pair() as (_served, client):
        client.read_bytes(1)
        with pytest.raises(ValueError, match="not idle"):
            client.start_tls(False, client_context)
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"unread")
        await wait_until(lambda: stream._read_buffer)
        with pytest.raises(ValueError, match="not idle"):
            stream.start_tls(True)


async def test_start_tls_handshake_failure(server_context: ssl.SSLContext) -> None:
    async with stream_pair() as (served, client):
        server_tls = served.start_tls(True, server_context)
        # Default client context: our test CA is not trusted.
        client_tls = client.start_tls(False, server_hostname="localhost")
        with pytest.raises(ssl.SSLCertVerificationError):
            await client_tls
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await server_tls


async def test_start_tls_server_side_needs_options() -> None:
    async with stream_pair() as (served, _client):
        with pytest.raises(ValueError, match="needs ssl_options"):
            served.start_tls(True)
        assert not served.closed()


async def test_start_tls_cancelled_closes_the_connection(server_context: ssl.SSLContext) -> None:
    async with stream_pair() as (served, client):
        server_tls = served.start_tls(True, server_context)
        server_tls.cancel()
        # The client's handshake fails since the server gave up.
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            await client.start_tls(False, server_hostname="localhost")


async def test_from_transport_of_tls_gives_sslstream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    loop = asyncio.get_running_loop()
    transports: list[asyncio.BaseTransport] = []

    class Holder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)

    server = await loop.create_server(Holder, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        client = SSLIOStream(socket.socket(), ssl_options=client_context)
        await client.connect(("127.0.0.1", port), server_hostname="localhost")
        await wait_until(lambda: transports)
        stream = IOStream._from_transport(transports[0])
        assert isinstance(stream, SSLIOStream)
        assert (await stream.wait_for_handshake()) is stream
        await client.write(b"tls takeover")
        assert await stream.read_bytes(12) == b"tls takeover"
        client.close()
        stream.close()
    finally:
        server.close()


# -- unix sockets and pipes -----------------------------------------------------


async def test_unix_socket_echo(tmp_path: Any) -> None:
    path = str(tmp_path / "echo.sock")
    server = EchoServer()
    server.add_socket(netutil.bind_unix_socket(path))
    try:
        stream = IOStream(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        await stream.connect(path)
        await stream.write(b"over a unix socket")
        assert await stream.read_bytes(18) == b"over a unix socket"
        stream.set_nodelay(True)  # meaningless here, and harmless
        stream.close()
    finally:
        server.stop()


async def test_tls_over_unix_socket(
    tmp_path: Any, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    path = str(tmp_path / "tls.sock")
    server = EchoServer(ssl_options=server_context)
    server.add_socket(netutil.bind_unix_socket(path))
    try:
        stream = SSLIOStream(socket.socket(socket.AF_UNIX), ssl_options=client_context)
        await stream.connect(path, server_hostname="localhost")
        await stream.write(b"tls/unix")
        assert await stream.read_bytes(8) == b"tls/unix"
        stream.close()
    finally:
        server.stop()


async def test_pipe_iostream() -> None:
    read_fd, write_fd = os.pipe()
    reader, writer = PipeIOStream(read_fd), PipeIOStream(write_fd)
    assert reader.fileno() == read_fd
    await writer.write(b"line one\nline two\n")
    assert await reader.read_until(b"\n") == b"line one\n"
    big = os.urandom(1024 * 1024)
    writing = writer.write(big)
    assert await reader.read_bytes(9) == b"line two\n"
    assert await reader.read_bytes(len(big)) == big
    await writing
    with pytest.raises(io.UnsupportedOperation):
        reader.write(b"x")
    with pytest.raises(io.UnsupportedOperation):
        writer.read_bytes(1)
    await writer.write(b"the end")
    writer.close()
    assert await reader.read_until_close() == b"the end"
    assert reader.closed()


async def test_pipe_reader_gone_fails_writer() -> None:
    read_fd, write_fd = os.pipe()
    reader, writer = PipeIOStream(read_fd), PipeIOStream(write_fd)
    await writer.write(b"x")
    reader.close()
    closed = asyncio.get_running_loop().create_future()
    writer.set_close_callback(lambda: closed.set_result(None))
    with contextlib.suppress(StreamClosedError):
        while True:
            await writer.write(b"y" * 65536)
    await closed
    assert writer.closed()


async def test_pipe_closed_before_attached() -> None:
    read_fd, write_fd = os.pipe()
    reader = PipeIOStream(read_fd)
    reader.close()
    with pytest.raises(OSError):
        os.fstat(read_fd)
    os.close(write_fd)


# -- the seed ---------------------------------------------------------------------

# Seed 004's IOStream snippet, with squall for tornado and a local server for
# google.com; the reads are chained from callbacks as a real client would.
SEED_004 = r"""
ioloop = IOLoop.instance()
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
stream = IOStream(sock, io_loop=ioloop)
stream.connect(("127.0.0.1", port), connect_callback)
"""

SEED_004_CALLBACKS = """
def connect_callback():
    stream.write("Foobar!", write_callback)
    stream.read_bytes(4096, read_callback)

def read_callback(data):
    log.append(("bytes", data))
    # read until exact string match
    stream.read_until("\\n\\n", header_callback)

def header_callback(data):
    log.append(("header", data))
    # read until a regular expression is matched
    stream.read_until_regex("BYTES: \\d+\\s+", bytes_callback)

def bytes_callback(data):
    log.append(("regex", data))
    # read until the socket closes -- optional streaming
    stream.read_until_close(finish_callback, streaming_callback)

def streaming_callback(data):
    log.append(("stream", data))

def finish_callback(data):
    log.append(("finish", data))

def write_callback():
    log.append(("written",))
    # if a socket is closed, call a callback
    stream.set_close_callback(on_close)
    log.append(("state", stream.closed() or stream.reading() or stream.writing()))

def on_close():
    log.append(("closed", stream.closed()))
    ioloop.stop()
"""


class SeedServer(TCPServer):
    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        assert await stream.read_bytes(7) == b"Foobar!"
        await stream.write(b"B" * 4096 + b"Header: 1\n\nBYTES: 42 \r\n")
        await stream.write(b"streamed body")
        stream.close()


def test_seed_004_snippet(io_loop: IOLoop) -> None:
    sock, port = bind_unused_port()
    server = SeedServer()
    server.add_socket(sock)
    log: list[tuple[Any, ...]] = []
    namespace: dict[str, Any] = {
        "IOLoop": IOLoop,
        "IOStream": IOStream,
        "socket": socket,
        "port": port,
        "log": log,
    }
    with warnings.catch_warnings():
        # The seed's "BYTES: \d+\s+" is not a raw string; compiling it warns.
        warnings.simplefilter("ignore")
        exec(compile(SEED_004_CALLBACKS, "<seed 004>", "exec"), namespace)
    exec(compile(SEED_004, "<seed 004>", "exec"), namespace)
    timeout = io_loop.call_later(5, io_loop.stop)
    io_loop.start()
    io_loop.remove_timeout(timeout)
    server.stop()
    assert log[0] == ("written",)
    assert log[1] == ("state", True)  # a read is pending
    assert log[2] == ("bytes", b"B" * 4096)
    assert log[3] == ("header", b"Header: 1\n\n")
    assert log[4] == ("regex", b"BYTES: 42 \r\n")
    streamed = b"".join(entry[1] for entry in log if entry[0] == "stream")
    assert streamed == b"streamed body"
    assert log[-2:] == [("finish", b""), ("closed", True)]
    namespace["stream"].close()


# -- odds and ends ----------------------------------------------------------------


async def test_reset_during_read_until_close_keeps_the_data() -> None:
    # As Tornado: what arrived before a reset is read_until_close's answer.
    async with raw_client() as (stream, raw):
        reading = stream.read_until_close()
        await asyncio.get_running_loop().sock_sendall(raw, b"partial answer")
        await wait_until(lambda: stream._read_buffer)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        assert await reading == b"partial answer"
        assert isinstance(stream.error, ConnectionResetError)


async def test_streaming_read_until_close_on_a_closed_stream() -> None:
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"left over")
        raw.close()
        await wait_until(stream.closed)
        chunks: list[bytes] = []
        assert await stream.read_until_close(streaming_callback=chunks.append) == b""
        assert chunks == [b"left over"]


async def test_nodelay_set_before_connecting() -> None:
    async with listening(EchoServer()) as port:
        stream = IOStream(socket.socket())
        stream.set_nodelay(False)
        await stream.connect(("127.0.0.1", port))
        assert stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        stream.close()


async def test_earlier_write_futures_resolve_with_later_ones() -> None:
    async with stream_pair() as (served, client):
        first = client.write(b"a" * (4 * 1024 * 1024))
        assert not first.done()
        reading = served.read_bytes(4 * 1024 * 1024 + 1)
        await first
        assert await client.write(b"b") is None
        assert len(await reading) == 4 * 1024 * 1024 + 1


async def test_wait_for_handshake_callback_and_after_failure(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    calls: list[str] = []
    async with listening(EchoServer(ssl_options=server_context)) as port:
        stream = SSLIOStream(socket.socket(), ssl_options=client_context)
        await stream.connect(("127.0.0.1", port), server_hostname="localhost")
        await stream.wait_for_handshake(lambda: calls.append("done"))
        await wait_until(lambda: calls)
        assert calls == ["done"]
        stream.close()
        failed = SSLIOStream(socket.socket())
        failed.close()
        with pytest.raises(StreamClosedError):
            await failed.wait_for_handshake()


async def test_start_tls_server_side_with_dict_options(
    ca: trustme.CA, client_context: ssl.SSLContext, tmp_path: Any
) -> None:
    pem = tmp_path / "server.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    async with stream_pair() as (served, client):
        server_tls = served.start_tls(True, {"certfile": str(pem)})
        client_tls = await client.start_tls(False, client_context, server_hostname="localhost")
        tls_served = await server_tls
        await tls_served.write(b"dict options")
        assert await client_tls.read_bytes(12) == b"dict options"
        client_tls.close()
        tls_served.close()


async def test_tornado6_positional_arguments() -> None:
    # Tornado 6 dropped callback=, so its second positional arguments are
    # partial, max_bytes and server_hostname: those calls keep working.
    async with raw_client() as (stream, raw):
        await asyncio.get_running_loop().sock_sendall(raw, b"ab\ncd\nef;rest")
        assert await stream.read_bytes(100, True) == b"ab\ncd\nef;rest"
        await asyncio.get_running_loop().sock_sendall(raw, b"line\nxy;")
        assert await stream.read_until(b"\n", 10) == b"line\n"
        assert await stream.read_until_regex(b";", 10) == b"xy;"
        with ExpectLog(gen_log, "Unsatisfiable read"):
            await asyncio.get_running_loop().sock_sendall(raw, b"0123456789")
            with pytest.raises(UnsatisfiableReadError):
                await stream.read_until(b"\n", 5)


async def test_tornado6_positional_server_hostname(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with listening(EchoServer(ssl_options=server_context)) as port:
        stream = SSLIOStream(socket.socket(), ssl_options=client_context)
        with pytest.raises(ssl.SSLCertVerificationError, match=r"example\.com"):
            await stream.connect(("127.0.0.1", port), "example.com")


async def test_callback_must_be_callable() -> None:
    async with stream_pair() as (_served, client):
        with pytest.raises(TypeError, match="callback must be callable"):
            client.read_until_close("not callable")  # type: ignore[arg-type]
        assert not client.reading()
        with pytest.raises(TypeError, match="callback must be callable"):
            client.write(b"x", callback=42)  # type: ignore[arg-type]
