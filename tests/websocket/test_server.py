"""WebSocketHandler and websocket_connect against each other, over sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

import squall._websocket_conn as conn_module
from squall.httpclient import HTTPClientError, HTTPRequest
from squall.testing import ExpectLog
from squall.web import Application
from squall.websocket import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandler,
    websocket_connect,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
}


class Recorder:
    """What the handlers saw, shared with the test."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.closed = asyncio.Event()
        self.handler: WebSocketHandler | None = None


class Echo(WebSocketHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    async def open(self, *args: str, **kwargs: str) -> None:
        self.rec.handler = self
        # Messages that arrive while open is running wait for it.
        await asyncio.sleep(0.01)
        self.rec.events.append(("open", args))

    async def on_message(self, message):
        self.rec.events.append(("start", message))
        if message == "slow":
            await asyncio.sleep(0.02)
        elif message == "close-me":
            self.close(4002, "as asked")
            return
        elif message == "boom":
            raise RuntimeError("boom")
        self.rec.events.append(("end", message))
        await self.write_message(message, binary=isinstance(message, bytes))

    def on_ping(self, data):
        self.rec.events.append(("ping", data))

    def on_pong(self, data):
        self.rec.events.append(("pong", data))

    def select_subprotocol(self, subprotocols):
        return "chat" if "chat" in subprotocols else None

    def on_close(self):
        self.rec.events.append(("close", self.close_code, self.close_reason))
        with pytest.raises(WebSocketClosedError):
            self.write_message("late")
        self.rec.closed.set()


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def settings():
    return {}


@pytest.fixture
def app(rec, settings):
    return Application([(r"/ws/(\w*)", Echo, {"rec": rec})], **settings)


@pytest.fixture
def ws_url(http_server, http_server_port):
    return f"ws://127.0.0.1:{http_server_port[1]}/ws/"


async def test_echo_text_binary_and_json(ws_url, rec):
    conn = await websocket_connect(ws_url + "abc")
    await conn.write_message("héllo")
    assert await conn.read_message() == "héllo"
    await conn.write_message(b"\x00\xff", binary=True)
    assert await conn.read_message() == b"\x00\xff"
    await conn.write_message({"a": [1, 2]})
    assert json.loads(await conn.read_message()) == {"a": [1, 2]}
    conn.close(4000, "bye")
    assert await conn.read_message() is None
    await rec.closed.wait()
    assert rec.events[0] == ("open", ("abc",))
    assert rec.events[-1] == ("close", 4000, "bye")
    # The server echoed the code, without a reason.
    assert (conn.close_code, conn.close_reason) == (4000, "")
    with pytest.raises(WebSocketClosedError):
        conn.write_message("after close")


async def test_messages_are_handled_one_at_a_time_after_open(ws_url, rec):
    conn = await websocket_connect(ws_url)
    # Sent before the server's open() finished, and the first is slow.
    conn.write_message("slow")
    conn.write_message("fast")
    assert await conn.read_message() == "slow"
    assert await conn.read_message() == "fast"
    assert rec.events[1:] == [
        ("start", "slow"),
        ("end", "slow"),
        ("start", "fast"),
        ("end", "fast"),
    ]
    conn.close()
    await rec.closed.wait()
    # An empty close frame: no code to report (Tornado reports None too).
    assert rec.events[-1] == ("close", None, None)


async def test_server_initiated_close(ws_url, rec):
    conn = await websocket_connect(ws_url)
    await conn.write_message("close-me")
    assert await conn.read_message() is None
    assert (conn.close_code, conn.close_reason) == (4002, "as asked")
    await rec.closed.wait()
    # The client echoed the code.
    assert rec.events[-1] == ("close", 4002, "")


async def test_exception_in_on_message_closes_with_1011(ws_url, rec):
    conn = await websocket_connect(ws_url)
    with ExpectLog("squall.application", "Uncaught exception in"):
        await conn.write_message("boom")
        assert await conn.read_message() is None
    assert conn.close_code == 1011


async def test_ping_and_pong_both_ways(ws_url, rec):
    conn = await websocket_connect(ws_url)
    conn.ping(b"from-client")
    await conn.write_message("sync")
    assert await conn.read_message() == "sync"
    assert ("ping", b"from-client") in rec.events
    rec.handler.ping("from-server")
    await conn.write_message("sync2")
    assert await conn.read_message() == "sync2"
    assert ("pong", b"from-server") in rec.events
    with pytest.raises(ValueError):
        conn.ping(b"x" * 126)
    conn.close()
    await rec.closed.wait()
    with pytest.raises(WebSocketClosedError):
        rec.handler.ping(b"late")


async def test_subprotocol_negotiation(ws_url, rec):
    conn = await websocket_connect(ws_url, subprotocols=["other", "chat"])
    assert conn.selected_subprotocol == "chat"
    await conn.write_message("x")
    assert await conn.read_message() == "x"
    assert rec.handler.selected_subprotocol == "chat"
    conn.close()
    conn2 = await websocket_connect(ws_url, subprotocols=["other"])
    assert conn2.selected_subprotocol is None
    conn2.close()
    assert await conn.read_message() is None
    assert await conn2.read_message() is None


@pytest.mark.parametrize("settings", [{"websocket_max_message_size": 100}])
async def test_max_message_size_closes_with_1009(ws_url, rec):
    conn = await websocket_connect(ws_url)
    await conn.write_message("x" * 100)
    assert await conn.read_message() == "x" * 100
    await conn.write_message("x" * 101)
    assert await conn.read_message() is None
    assert conn.close_code == 1009
    await rec.closed.wait()


async def test_client_max_message_size(ws_url, rec):
    conn = await websocket_connect(ws_url, max_message_size=10)
    await conn.write_message("x" * 11)
    assert await conn.read_message() is None
    await rec.closed.wait()
    assert rec.events[-1][1] == 1009


@pytest.mark.parametrize(
    "settings", [{"websocket_ping_interval": 0.02, "websocket_ping_timeout": 5}]
)
async def test_ping_interval_sends_pings(ws_url, rec):
    conn = await websocket_connect(ws_url)
    while ("pong", b"") not in rec.events:
        await asyncio.sleep(0.01)
    assert rec.handler.ping_interval == 0.02 and rec.handler.ping_timeout == 5
    conn.close()
    await rec.closed.wait()


@pytest.mark.parametrize("settings", [{"websocket_ping_interval": 0.02}])
async def test_ping_timeout_drops_a_silent_peer(ws_url, rec, monkeypatch):
    conn = await websocket_connect(ws_url)
    # The client stops answering pings: its protocol object drops them
    # before they are handled (through Tornado's _handle_message hook).
    handle = conn.protocol._handle_message

    def drop_pings(opcode: int, data: bytes) -> object:
        return None if opcode == 0x9 else handle(opcode, data)

    monkeypatch.setattr(conn.protocol, "_handle_message", drop_pings)
    assert await conn.read_message() is None
    await rec.closed.wait()


async def test_client_ping_interval(ws_url, rec):
    conn = await websocket_connect(ws_url, ping_interval=0.02, ping_timeout=5)
    while not any(e[0] == "ping" for e in rec.events):
        await asyncio.sleep(0.01)
    conn.close()
    await rec.closed.wait()


async def test_ping_flood_answered_with_latest_pong_only(ws_url, rec, monkeypatch):
    # As if the peer were not reading: every ping is then coalesced.
    monkeypatch.setattr(conn_module, "PONG_COALESCE_UNSENT_BYTES", -1)
    pongs: list[bytes] = []
    conn = await websocket_connect(ws_url)
    monkeypatch.setattr(conn, "_ws_pong", pongs.append)
    codec = conn.protocol.codec
    flood = b"".join(codec.ping_frame(b"%d" % i) for i in range(2000))
    await conn.protocol.stream.write(flood)
    # The pong goes out after the batch of frames that held the pings.
    while not pongs or pongs[-1] != b"1999":
        await asyncio.sleep(0.01)
    await conn.write_message("sync")
    assert await conn.read_message() == "sync"
    assert len(pongs) < 100
    conn.close()
    await rec.closed.wait()


async def test_server_drops_a_client_that_stops_reading(ws_url, rec, monkeypatch):
    monkeypatch.setattr(conn_module, "MAX_UNSENT_BYTES", 1 << 20)
    conn = await websocket_connect(ws_url)
    await conn.write_message("sync")
    assert await conn.read_message() == "sync"
    handler = rec.handler
    chunk = "x" * 65536
    sent = 0
    # The client never reads: it stops reading its socket once its queue is
    # full, the kernel buffers fill, then the server gives up.
    with pytest.raises(WebSocketClosedError):
        while sent < 1 << 30:
            handler.write_message(chunk)
            sent += len(chunk)
            await asyncio.sleep(0)
    assert sent < 256 << 20
    await rec.closed.wait()
    conn.close()
    # Reading what was queued lets the client see the connection end.
    while await conn.read_message() is not None:
        pass


async def test_connect_errors(ws_url, http_server_port):
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(ws_url.replace("/ws/", "/missing"))
    assert info.value.code == 404
    with pytest.raises(ValueError, match="unsupported"):
        await websocket_connect("ftp://127.0.0.1/")
    request = HTTPRequest(ws_url, headers={"Origin": "http://evil.example"})
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(request)
    assert info.value.code == 403


async def test_origin_same_host_accepted(ws_url, http_server_port, rec):
    origin = f"http://127.0.0.1:{http_server_port[1]}"
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Origin": origin}))
    conn.close()
    assert await conn.read_message() is None
    await rec.closed.wait()


@pytest.mark.parametrize(
    ("method", "headers", "status", "body"),
    [
        ("POST", UPGRADE, 405, None),
        ("GET", {**UPGRADE, "Upgrade": "h2c"}, 400, b'Can "Upgrade" only to "WebSocket".'),
        ("GET", {**UPGRADE, "Connection": "keep-alive"}, 400, b'"Connection" must be "Upgrade".'),
        (
            "GET",
            {**UPGRADE, "Sec-WebSocket-Key": "short"},
            400,
            b"Missing/Invalid WebSocket headers",
        ),
        ("GET", {k: v for k, v in UPGRADE.items() if k != "Sec-WebSocket-Key"}, 400, None),
        ("GET", {**UPGRADE, "Sec-WebSocket-Version": "8"}, 426, b""),
        ("GET", {**UPGRADE, "Origin": "http://evil.example"}, 403, None),
    ],
)
async def test_handshake_refusals(fetch, method, headers, status, body):
    response = await fetch(
        "/ws/", method=method, headers=headers, body=b"" if method == "POST" else None
    )
    assert response.code == status
    if body is not None:
        assert response.body == body
    if status == 426:
        assert response.headers["Sec-WebSocket-Version"] == "13"


async def test_server_handshake_with_a_raw_socket(http_server, http_server_port, rec):
    reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[1])
    head = "".join(f"{k}: {v}\r\n" for k, v in UPGRADE.items())
    # The first frame arrives in the same packet as the request.
    frame = bytes([0x81, 0x82]) + b"\x00\x00\x00\x00" + b"hi"
    writer.write(f"GET /ws/ HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + frame)
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n" in response.lower()
    assert await reader.readexactly(4) == b"\x81\x02hi"
    # An unmasked frame from a client fails the connection with 1002.
    writer.write(bytes([0x81, 0x02]) + b"no")
    # A close frame, code 1002, with the reason as text (as Tornado sends
    # reasons): "unmasked frame from client".
    head = await reader.readexactly(2)
    assert head[0] == 0x88 and head[1] <= 125
    payload = await reader.readexactly(head[1])
    assert payload[:2] == b"\x03\xea"
    assert payload[2:] == b"unmasked frame from client"
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    await rec.closed.wait()


async def test_invalid_accept_from_server_is_an_error(io_loop):
    async def fake_server(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(fake_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(WebSocketError, match="Sec-WebSocket-Accept"):
        await websocket_connect(f"ws://127.0.0.1:{port}/")
    server.close()
    await server.wait_closed()
