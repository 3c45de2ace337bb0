"""HTTPServer.shutdown(): graceful shutdown of a server in this process."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from squall import web, websocket
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog, bind_unused_port


class Slow(web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(0.3)
        self.write("slow done")


class Forever(web.RequestHandler):
    async def get(self) -> None:
        self.write("started")
        await self.flush()
        await asyncio.Event().wait()


class Poll(web.RequestHandler):
    closed = 0

    async def get(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        except asyncio.CancelledError:
            return

    def on_connection_close(self) -> None:
        Poll.closed += 1
        self.waiter.cancel()


class Echo(websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


class Who(web.RequestHandler):
    def get(self) -> None:
        self.write(self.request.remote_ip + " " + self.request.protocol)


def make_server(**kwargs: object) -> tuple[HTTPServer, int, list[str]]:
    hooks: list[str] = []
    app = web.Application(
        [("/slow", Slow), ("/forever", Forever), ("/poll", Poll), ("/ws", Echo), ("/who", Who)]
    )
    app.on_shutdown.append(lambda: hooks.append("sync"))

    async def async_hook() -> None:
        hooks.append("async")

    app.on_shutdown.append(async_hook)
    server = HTTPServer(app, **kwargs)  # type: ignore[arg-type]
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    return server, port, hooks


async def request(port: int, path: str, source: str = "127.0.0.1", extra: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_idle_connections_close_and_hooks_run(io_loop) -> None:
    server, port, hooks = make_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"127.0.0.1 http")
    assert b"200 OK" in head
    await asyncio.sleep(1.1)  # past the grace a new connection gets
    await server.shutdown(timeout=5)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()
    assert hooks == ["sync", "async"]
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_request_in_flight_finishes_with_connection_close(io_loop) -> None:
    server, port, _ = make_server()
    slow = asyncio.ensure_future(request(port, "/slow"))
    await asyncio.sleep(0.1)
    await server.shutdown(timeout=5)
    response = await slow
    assert response.startswith(b"HTTP/1.1 200")
    assert b"\r\nConnection: close\r\n" in response
    assert response.endswith(b"slow done")


async def test_a_long_poll_ends_at_once(io_loop) -> None:
    server, port, _ = make_server()
    Poll.closed = 0
    poll = asyncio.ensure_future(request(port, "/poll"))
    await asyncio.sleep(0.1)
    started = io_loop.time()
    await server.shutdown(timeout=10)
    assert await poll == b""
    assert Poll.closed == 1
    assert io_loop.time() - started < 5


async def test_websockets_get_1001(io_loop) -> None:
    server, port, _ = make_server()
    async with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
        shutdown = asyncio.ensure_future(server.shutdown(timeout=5))
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1001
        assert caught.value.rcvd.reason == "server shutting down"
    await shutdown


async def test_the_timeout_cuts_what_is_left(io_loop) -> None:
    server, port, _ = make_server()
    forever = asyncio.ensure_future(request(port, "/forever"))
    await asyncio.sleep(0.1)
    with ExpectLog("squall.general", r"graceful timeout \(0.3s\): cutting 1 connection"):
        await server.shutdown(timeout=0.3)
    response = await forever
    assert b"started" in response
    assert not response.endswith(b"0\r\n\r\n")  # cut, not finished


async def test_a_new_connection_gets_its_first_request_answered(io_loop) -> None:
    server, port, _ = make_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    shutdown = asyncio.ensure_future(server.shutdown(timeout=5))
    await asyncio.sleep(0.2)
    writer.write(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 5)
    assert response.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in response
    writer.close()
    await shutdown


@pytest.mark.parametrize(
    ("source", "expected"),
    [("127.0.0.2", b"203.0.113.9 https"), ("127.0.0.3", b"127.0.0.3 http")],
)
async def test_trusted_proxies_alone_set_the_client(io_loop, source: str, expected: bytes) -> None:
    server, port, _ = make_server(xheaders=True, trusted_proxies=["127.0.0.2/32", "10.0.0.0/8"])
    spoof = b"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n"
    response = await request(port, "/who", source, spoof)
    assert response.endswith(expected)
    server.stop()
    await server.close_all_connections()


def test_unix_socket_peers_count_as_trusted() -> None:
    from squall.httpserver import _HTTPRequestContext

    class FakeTransport:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def get_extra_info(self, name: str) -> object:
            return {"peername": "", "socket": self.sock}.get(name)

    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        context = _HTTPRequestContext(FakeTransport(a), None, None, [])  # type: ignore[arg-type]
        assert context.peer_trusted
    finally:
        a.close()
        b.close()
