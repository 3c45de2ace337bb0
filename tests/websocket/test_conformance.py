"""Conformance with a real peer: the ``websockets`` library, both ways."""

from __future__ import annotations

import asyncio

import pytest

from squall.web import Application
from squall.websocket import WebSocketHandler, websocket_connect

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets_peer import echo  # noqa: E402

BIG = 16 * 1024 * 1024
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, BIG]


class Echo(WebSocketHandler):
    def initialize(self, compress: bool) -> None:
        self.compress = compress

    def get_compression_options(self):
        return {} if self.compress else None

    def select_subprotocol(self, subprotocols):
        # Asked with [] too when the client offers none.
        return subprotocols[-1] if subprotocols else None

    def on_message(self, message):
        if message == "close please":
            self.close(4321, "requested")
            return None
        return self.write_message(message, binary=isinstance(message, bytes))


@pytest.fixture
def app():
    return Application(
        [("/plain", Echo, {"compress": False}), ("/deflate", Echo, {"compress": True})],
        websocket_max_message_size=2 * BIG,
    )


@pytest.fixture
def ws_base(http_server, http_server_port):
    return f"ws://127.0.0.1:{http_server_port[1]}"


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("path", ["/plain", "/deflate"])
async def test_websockets_client_against_squall_server(ws_base, path):
    compression = "deflate" if path == "/deflate" else None
    async with connect(
        ws_base + path, max_size=None, compression=compression, subprotocols=["x", "y"]
    ) as ws:
        assert ws.subprotocol == "y"
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (extensions is not None) == (compression is not None)
        for size in SIZES:
            text = "é" * (size // 2)
            await ws.send(text)
            assert await ws.recv() == text
            data = bytes(range(256)) * (size // 256)
            await ws.send(data)
            assert await ws.recv() == data
        # Fragmented messages, text and binary.
        await ws.send(["frag", "mented ", "text"])
        assert await ws.recv() == "fragmented text"
        await ws.send([b"\x00", b"\x01" * 70000])
        assert await ws.recv() == b"\x00" + b"\x01" * 70000
        latency = await (await ws.ping(b"are you there"))
        assert latency >= 0
        await ws.close(4000, "client done")
    assert ws.close_code == 4000


async def test_squall_server_initiated_close_seen_by_websockets(ws_base):
    async with connect(ws_base + "/plain") as ws:
        await ws.send("close please")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4321, "requested")


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("compression_options", [None, {}])
async def test_squall_client_against_websockets_server(io_loop, compression_options):
    def pick(connection, subprotocols):
        return subprotocols[0] if subprotocols else None

    async with serve(echo, "127.0.0.1", 0, max_size=None, select_subprotocol=pick) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        conn = await websocket_connect(
            url,
            compression_options=compression_options,
            subprotocols=["chat", "other"],
            max_message_size=2 * BIG,
        )
        assert conn.selected_subprotocol == "chat"
        negotiated = conn.headers.get("Sec-WebSocket-Extensions")
        assert (negotiated is not None) == (compression_options is not None)
        for size in SIZES:
            text = "ü" * (size // 2)
            await conn.write_message(text)
            assert await conn.read_message() == text
            data = b"\xaa\x55" * (size // 2)
            await conn.write_message(data, binary=True)
            assert await conn.read_message() == data
        conn.ping(b"hello")
        await conn.write_message("close please")
        assert await conn.read_message() is None
        assert (conn.close_code, conn.close_reason) == (4123, "bye")
        # Give the server its close handshake's end.
        await asyncio.sleep(0)


async def test_squall_client_close_seen_by_websockets_server(io_loop):
    seen = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            await ws.recv()
        except ConnectionClosed as e:
            seen.set_result((e.rcvd.code, e.rcvd.reason))

    async with serve(handler, "127.0.0.1", 0) as server:
        conn = await websocket_connect(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
        conn.close(3001, "client bye")
        assert await conn.read_message() is None
        assert await seen == (3001, "client bye")
