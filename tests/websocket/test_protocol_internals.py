"""The protocol object's Tornado-named internals, over real sockets.

Tornado programs (and Tornado's own tests) reach into ``handler.ws_connection``
and ``client.protocol``: traffic counters, ``_handle_message``,
``_write_frame``. These tests pin what those names do on squall, plus the
fairness rules behind them (pong coalescing, yielding during floods).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct

import pytest

from squall._websocket_frames import ProtocolError, apply_mask
from squall.util import _websocket_mask, _websocket_mask_python
from squall.web import Application
from squall.websocket import WebSocketHandler, websocket_connect

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


class Shared:
    def __init__(self) -> None:
        self.handler: WebSocketHandler | None = None
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self.messages: list[str | bytes] = []
        self.close_args: tuple[int | None, str | None] = (None, None)


class Echo(WebSocketHandler):
    def initialize(self, shared: Shared, compress: bool) -> None:
        self.shared = shared
        self.compress = compress

    def get_compression_options(self):
        return {} if self.compress else None

    def open(self) -> None:
        self.shared.handler = self
        self.shared.opened.set()

    def on_message(self, message):
        self.shared.messages.append(message)
        if message != "quiet":
            self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.shared.close_args = (self.close_code, self.close_reason)
        self.shared.closed.set()


@pytest.fixture
def shared():
    return Shared()


@pytest.fixture
def settings():
    return {}


@pytest.fixture
def compress():
    return False


@pytest.fixture
def app(shared, settings, compress):
    return Application([("/ws", Echo, {"shared": shared, "compress": compress})], **settings)


@pytest.fixture
def url(http_server, http_server_port):
    return f"ws://127.0.0.1:{http_server_port[1]}/ws"


def masked(opcode: int, payload: bytes) -> bytes:
    """One client frame (FIN, masked), payload under 126 bytes."""
    mask = os.urandom(4)
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + apply_mask(mask, payload)


async def raw_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


def counters(protocol: object) -> tuple[int, int, int, int]:
    return (
        protocol._message_bytes_in,  # type: ignore[attr-defined]
        protocol._message_bytes_out,  # type: ignore[attr-defined]
        protocol._wire_bytes_in,  # type: ignore[attr-defined]
        protocol._wire_bytes_out,  # type: ignore[attr-defined]
    )


# -- traffic counters ----------------------------------------------------------


async def test_counters_without_compression(url, shared):
    conn = await websocket_connect(url)
    assert counters(conn.protocol) == (0, 0, 0, 0)
    await conn.write_message("a" * 100)
    assert await conn.read_message() == "a" * 100
    # Text counts as UTF-8 bytes; 300 bytes need the 16-bit length form.
    await conn.write_message("é" * 150)
    assert await conn.read_message() == "é" * 150
    server = shared.handler.ws_connection
    # Client frames: 2-byte (or 4-byte) header + 4-byte mask; server: no mask.
    assert counters(conn.protocol) == (400, 400, 2 + 100 + 4 + 300, 6 + 100 + 8 + 300)
    assert counters(server) == (400, 400, 6 + 100 + 8 + 300, 2 + 100 + 4 + 300)
    # A ping and its pong travel on the wire but are no message.
    conn.ping(b"hello")
    await conn.write_message("x")
    assert await conn.read_message() == "x"
    assert counters(conn.protocol) == (401, 401, 406 + 7 + 3, 414 + 11 + 7)
    conn.close()
    await shared.closed.wait()


@pytest.mark.parametrize("compress", [True])
async def test_counters_with_compression(url, shared):
    conn = await websocket_connect(url, compression_options={})
    message = "squall " * 1000
    for _ in range(3):
        await conn.write_message(message)
        assert await conn.read_message() == message
    server = shared.handler.ws_connection
    message_in, message_out, wire_in, wire_out = counters(conn.protocol)
    assert message_in == message_out == 3 * len(message)
    # Compressed: far fewer bytes on the wire than in the messages.
    assert 0 < wire_in < message_in // 10 and 0 < wire_out < message_out // 10
    assert counters(server) == (message_out, message_in, wire_out, wire_in)
    conn.close()
    await shared.closed.wait()


# -- _handle_message and ping timeouts -----------------------------------------


@pytest.mark.parametrize(
    "settings", [{"websocket_ping_interval": 0.05, "websocket_ping_timeout": 0.05}]
)
async def test_unanswered_pings_close_gracefully_without_logging(url, shared, caplog):
    conn = await websocket_connect(url)
    original = conn.protocol._handle_message
    seen: list[int] = []

    def drop_pings(opcode: int, data: bytes):
        seen.append(opcode)
        return None if opcode == 0x9 else original(opcode, data)

    conn.protocol._handle_message = drop_pings
    with caplog.at_level(logging.INFO, logger="squall"):
        # The server gives up and starts the closing handshake.
        assert await conn.read_message() is None
        await shared.closed.wait()
    assert 0x9 in seen and 0x8 in seen
    assert shared.close_args[0] == 1000
    assert conn.close_code == 1000 and conn.close_reason == "ping timed out"
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "pong" in r.message]


async def test_handle_message_dispatches_by_opcode(url, shared):
    conn = await websocket_connect(url)
    await shared.opened.wait()
    server = shared.handler.ws_connection
    # Called directly, as a wrapper would: text and binary reach on_message.
    server._handle_message(0x1, "héllo".encode())
    server._handle_message(0x2, b"\x00\x01")
    assert shared.messages == ["héllo", b"\x00\x01"]
    assert await conn.read_message() == "héllo"
    assert await conn.read_message() == b"\x00\x01"
    with pytest.raises(ProtocolError) as info:
        server._handle_message(0x1, b"\xff\xfe")
    assert info.value.code == 1007
    with pytest.raises(ProtocolError) as info:
        server._handle_message(0x3, b"")
    assert info.value.code == 1002
    # A close frame through the hook starts the closing handshake.
    server._handle_message(0x8, struct.pack("!H", 4001) + b"done")
    assert await conn.read_message() is None
    await shared.closed.wait()
    assert shared.close_args == (4001, "done")


# -- pongs answer the latest ping -------------------------------------------------


async def test_pongs_wait_for_the_one_in_flight(url, shared, http_server_port):
    _reader, writer = await raw_client(http_server_port[1])
    await shared.opened.wait()
    server = shared.handler.ws_connection
    written: list[tuple[int, bytes]] = []
    stalled: list[asyncio.Future[None]] = []

    def record(fin: bool, opcode: int, data: bytes, flags: int = 0) -> asyncio.Future[None]:
        # A write the kernel has not taken yet.
        written.append((opcode, data))
        future = asyncio.get_running_loop().create_future()
        stalled.append(future)
        return future

    server._write_frame = record
    writer.write(masked(0x9, b"0"))
    while not written:
        await asyncio.sleep(0.005)
    writer.write(masked(0x9, b"1") + masked(0x9, b"2") + masked(0x1, b"quiet"))
    while not shared.messages:
        await asyncio.sleep(0.005)
    assert written == [(0xA, b"0")]
    stalled[0].set_result(None)
    while len(written) < 2:
        await asyncio.sleep(0.005)
    # Only the most recent ping is answered (RFC 6455 section 5.5.3).
    assert written == [(0xA, b"0"), (0xA, b"2")]
    stalled[1].set_result(None)
    await asyncio.sleep(0.01)
    assert len(written) == 2
    writer.close()
    await writer.wait_closed()
    await shared.closed.wait()


async def test_ping_payload_limit(url, shared):
    conn = await websocket_connect(url)
    with pytest.raises(ValueError, match="125"):
        conn.protocol.ping(b"x" * 126)
    conn.protocol.write_ping(b"y" * 125)
    conn.close()
    await shared.closed.wait()


# -- fairness under floods -----------------------------------------------------


async def test_flood_of_small_frames_lets_the_loop_run(url, shared, http_server_port):
    _reader, writer = await raw_client(http_server_port[1])
    await shared.opened.wait()
    count = 3000
    seen_at: list[int] = []
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    shared.handler.on_message = lambda message: seen_at.append(ticks)
    task = asyncio.create_task(ticker())
    # All frames in one write: they are parsed from very few reads.
    writer.write(b"".join(masked(0x1, b"m") for _ in range(count)))
    while len(seen_at) < count:
        await asyncio.sleep(0.005)
    done = True
    await task
    # The read loop let other tasks run every few hundred frames.
    assert seen_at[-1] - seen_at[0] >= count // 512
    writer.close()
    await writer.wait_closed()
    await shared.closed.wait()


async def test_awaiting_write_message_yields(url, shared):
    conn = await websocket_connect(url)
    await shared.opened.wait()
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    for _ in range(50):
        await shared.handler.write_message("tick")
    assert ticks - before >= 50
    # Writes of one loop iteration share one Future, resolved on the next.
    first = shared.handler.write_message("a")
    second = shared.handler.write_message("b")
    assert first is second and not first.done()
    await first
    done = True
    await task
    for _ in range(52):
        assert await conn.read_message() in ("tick", "a", "b")
    conn.close()
    await shared.closed.wait()


# -- the masking helpers in squall.util ----------------------------------------


def test_websocket_mask_helpers():
    for mask_fn in (_websocket_mask_python, _websocket_mask):
        assert mask_fn(b"abcd", b"") == b""
        assert mask_fn(b"abcd", b"data asdf") == b"\x05\x03\x17\x05A\x03\x10\x00\x07"
        # Masking twice gives the data back; any bytes-like input works.
        data = os.urandom(1001)
        assert mask_fn(b"\x01\x02\x03\x04", mask_fn(b"\x01\x02\x03\x04", data)) == data
        assert mask_fn(bytearray(b"abcd"), memoryview(b"xy")) == b"\x19\x1b"
        for bad in (b"", b"abc", b"abcde"):
            with pytest.raises(ValueError, match="4 bytes"):
                mask_fn(bad, b"data")
        with pytest.raises(TypeError):
            mask_fn("abcd", b"data")
        with pytest.raises(TypeError):
            mask_fn(b"abcd", "data")


async def test_flood_stops_being_delivered_once_the_connection_drops(url, shared, http_server_port):
    _reader, writer = await raw_client(http_server_port[1])
    await shared.opened.wait()
    seen: list[str] = []

    def on_message(message):
        seen.append(message)
        if len(seen) == 10:
            shared.handler.ws_connection.abort()

    shared.handler.on_message = on_message
    writer.write(b"".join(masked(0x1, b"m") for _ in range(3000)))
    await shared.closed.wait()
    await asyncio.sleep(0.05)
    # The frames parsed from the same reads are not handed over after the
    # drop (at most the rest of one batch between two loop turns).
    assert 10 <= len(seen) <= 10 + 256
    writer.close()
    await writer.wait_closed()
