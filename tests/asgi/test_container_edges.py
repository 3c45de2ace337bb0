"""ASGIContainer with hand-written ASGI applications that do odd things,
over real sockets: messages out of order, sends after the end, clients
leaving mid-body, failures before and after the response starts, the
WebSocket handshake's refusals, lifespan failures, back-pressure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from squall.asgi import ASGIContainer, ClientDisconnected, LifespanFailure, ProtocolViolation
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog, bind_unused_port

TIMEOUT = 10.0


class Served:
    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.container = ASGIContainer(app, **kwargs)
        sock, self.port = bind_unused_port()
        self.server = HTTPServer(self.container)
        self.server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        self.server.stop()
        await asyncio.wait_for(self.server.close_all_connections(), TIMEOUT)


@contextlib.asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, Any]]:
    """A plain TCP client, closed however the test ends (a socket left
    open at teardown would keep a pinging WebSocket alive)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()


async def start_response(send: Any, status: int = 200, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})


async def test_protocol_violations_raise_in_the_application() -> None:
    errors: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.body", "body": b"too soon"})
        except ProtocolViolation as e:
            errors.append(str(e))
        try:
            await start_response(send, 200, [(b"x-evil", b"a\r\nSet-Cookie: injected=1")])
        except ProtocolViolation as e:
            errors.append(str(e).split(":")[0])
        await start_response(send, 200, [(b"content-type", b"text/plain")])
        try:
            await start_response(send)
        except ProtocolViolation as e:
            errors.append(str(e))
        await send({"type": "http.response.body", "body": b"fine"})
        try:
            await send({"type": "http.response.body", "body": b"after the end"})
        except ProtocolViolation as e:
            errors.append(str(e))
        # After the response, receive() says the exchange is over.
        errors.append((await receive())["type"])
        errors.append((await receive())["type"])

    served = Served(app)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            r = await c.get(served.url)
        assert r.status_code == 200 and r.text == "fine"
        assert r.headers["content-length"] == "4"
        for _ in range(100):
            if len(errors) == 6:
                break
            await asyncio.sleep(0.01)
        assert "set-cookie" not in r.headers
        assert errors[:4] == [
            "http.response.body before http.response.start",
            "invalid response header",
            "http.response.start sent twice",
            "http.response.body after the response was complete",
        ]
        # The body message (empty, more_body False) first, then the end.
        assert errors[4:] == ["http.request", "http.disconnect"]
    finally:
        await served.close()


async def test_app_returning_without_a_response_is_a_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    served = Served(app)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            with ExpectLog("squall.application", "ASGI application returned without"):
                r = await c.get(served.url)
        assert r.status_code == 500
    finally:
        await served.close()


async def test_failure_after_the_response_started_drops_the_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await start_response(send, 200, [(b"content-length", b"100")])
        await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
        raise RuntimeError("half way (expected)")

    served = Served(app)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            with ExpectLog("squall.application", "Exception in ASGI application"):
                with pytest.raises(httpx.RemoteProtocolError):
                    await c.get(served.url)
    finally:
        await served.close()


async def test_client_leaving_mid_body_is_http_disconnect() -> None:
    seen: list[Any] = []
    done = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append((message["type"], len(message.get("body", b""))))
            if message["type"] == "http.disconnect":
                break
        try:
            await start_response(send)
        except ClientDisconnected:
            seen.append("send refused")
        done.set()

    served = Served(app)
    try:
        async with raw_connection(served.port) as (_reader, writer):
            writer.write(
                b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 100
            )
            await writer.drain()
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
        await asyncio.wait_for(done.wait(), TIMEOUT)
        assert seen == [("http.request", 100), ("http.disconnect", 0), "send refused"]
    finally:
        await served.close()


async def test_request_body_back_pressure() -> None:
    """An application that does not read stops squall reading the socket:
    the upload stalls instead of piling up in memory, then completes."""
    release = asyncio.Event()
    total = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal total
        await release.wait()
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await start_response(send, 200)
        await send({"type": "http.response.body", "body": str(total).encode()})

    size = 16 * 1024 * 1024
    served = Served(app)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:

            async def body() -> AsyncIterator[bytes]:
                for _ in range(size // 65536):
                    yield b"z" * 65536

            request = asyncio.ensure_future(c.put(served.url, content=body()))
            await asyncio.sleep(0.2)
            exchange_buffers = [
                getattr(conn, "_inbox_bytes", 0) for conn in _exchanges(served.container)
            ]
            assert not request.done()
            release.set()
            r = await asyncio.wait_for(request, TIMEOUT)
        assert r.text == str(size)
        # While the app was not reading, what squall held for it stayed
        # near the high-water mark (not the 16 MiB sent).
        from squall.asgi._container import BODY_HIGH_WATER

        assert all(b <= BODY_HIGH_WATER + 65536 for b in exchange_buffers)
    finally:
        await served.close()


_LIVE: list[Any] = []


def _exchanges(container: ASGIContainer) -> list[Any]:
    return [e for e in _LIVE if e.container is container]


@pytest.fixture(autouse=True)
def _track_exchanges(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Keep the exchanges the container makes, to look at their buffers."""
    from squall.asgi import _container

    original = _container.ContainerExchange.__init__

    def init(self: Any, *args: Any) -> None:
        original(self, *args)
        _LIVE.append(self)

    monkeypatch.setattr(_container.ContainerExchange, "__init__", init)
    yield
    _LIVE.clear()


async def test_response_back_pressure_send_waits_for_the_client() -> None:
    """send() of a large body does not return until squall's transport
    drained it; with a client that reads slowly the app is held back."""
    progress: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await start_response(send, 200)
        for i in range(64):
            await send({"type": "http.response.body", "body": b"q" * 524288, "more_body": True})
            progress.append(i)
        await send({"type": "http.response.body", "body": b""})

    served = Served(app)
    try:
        async with raw_connection(served.port) as (reader, writer):
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.2)
            stalled_at = len(progress)
            assert stalled_at < 64  # 32 MiB do not fit in the socket buffers
            while True:
                chunk = await asyncio.wait_for(reader.read(1 << 20), TIMEOUT)
                if not chunk or chunk.endswith(b"0\r\n\r\n"):
                    break
            assert len(progress) == 64
    finally:
        await served.close()


# -- WebSocket ---------------------------------------------------------------


async def ws_app(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    path = scope["path"]
    if path == "/close-first":
        await send({"type": "websocket.close", "code": 1008})
    elif path == "/deny":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"log in first"})
    elif path == "/bad-subprotocol":
        try:
            await send({"type": "websocket.accept", "subprotocol": "never-offered"})
        except ProtocolViolation:
            await send({"type": "websocket.close"})
    elif path == "/echo-until-close":
        await send({"type": "websocket.accept", "headers": [(b"x-accepted", b"yes")]})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                ECHO_CLOSES.append((message["code"], message.get("reason")))
                try:
                    await send({"type": "websocket.send", "text": "after close"})
                except ClientDisconnected:
                    ECHO_CLOSES.append("send refused")
                return
            payload = {k: message[k] for k in ("text", "bytes") if message.get(k) is not None}
            await send({"type": "websocket.send", **payload})
    elif path == "/crash":
        await send({"type": "websocket.accept"})
        raise RuntimeError("websocket app failed (expected)")


ECHO_CLOSES: list[Any] = []


async def test_websocket_refusals_and_denials() -> None:
    served = Served(ws_app)
    base = f"ws://127.0.0.1:{served.port}"
    try:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{base}/close-first"):
                pass
        assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{base}/deny"):
                pass
        assert info.value.response.status_code == 401
        assert info.value.response.body == b"log in first"
        assert info.value.response.headers["WWW-Authenticate"] == "Bearer"
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{base}/bad-subprotocol", subprotocols=["a"]):  # type: ignore[list-item]
                pass
        assert info.value.response.status_code == 403
        # A handshake squall itself refuses never reaches the application.
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            r = await c.get(
                f"http://127.0.0.1:{served.port}/close-first",
                headers={
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "8",
                },
            )
            assert r.status_code == 426 and r.headers["Sec-WebSocket-Version"] == "13"
            r = await c.get(
                f"http://127.0.0.1:{served.port}/close-first",
                headers={
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "short",
                    "Sec-WebSocket-Version": "13",
                },
            )
            assert r.status_code == 400
    finally:
        await served.close()


async def test_websocket_echo_close_codes_and_compression() -> None:
    ECHO_CLOSES.clear()
    served = Served(ws_app)
    try:
        async with connect(
            f"ws://127.0.0.1:{served.port}/echo-until-close", compression="deflate"
        ) as ws:
            assert ws.response.headers["X-Accepted"] == "yes"
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            await ws.send("a" * 100_000)
            assert await ws.recv() == "a" * 100_000
            await ws.send(b"\x00" * 10)
            assert await ws.recv() == b"\x00" * 10
            await ws.close(4444, "bye now")
        for _ in range(200):
            if len(ECHO_CLOSES) == 2:
                break
            await asyncio.sleep(0.01)
        assert ECHO_CLOSES == [(4444, "bye now"), "send refused"]
    finally:
        await served.close()


async def test_websocket_app_crash_closes_with_1011() -> None:
    served = Served(ws_app)
    try:
        with ExpectLog("squall.application", "Exception in ASGI application"):
            async with connect(f"ws://127.0.0.1:{served.port}/crash") as ws:
                with pytest.raises(ConnectionClosed) as info:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
    finally:
        await served.close()


# -- lifespan ----------------------------------------------------------------


async def test_lifespan_failure_and_absence() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no config"})

    with pytest.raises(LifespanFailure, match="no config"):
        await ASGIContainer(failing).startup()

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("http only")

    container = ASGIContainer(http_only)
    await container.startup()  # no lifespan support: served without
    await container.shutdown()

    async def stateful(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["answer"] = 42
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = str(scope["state"]).encode()
        scope["state"]["mutated"] = True  # a copy: the next request must not see it
        await start_response(send, 200)
        await send({"type": "http.response.body", "body": body})

    served = Served(stateful)
    await served.container.startup()
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as c:
            assert (await c.get(served.url)).text == "{'answer': 42}"
            assert (await c.get(served.url)).text == "{'answer': 42}"
    finally:
        await served.close()
        await served.container.shutdown()


async def test_framing_stays_squalls() -> None:
    """Content-Length the application breaks, Transfer-Encoding it claims,
    204s: squall frames every response itself and never sends a body that
    contradicts its head."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/short":
            await start_response(send, 200, [(b"content-length", b"100")])
            try:
                await send({"type": "http.response.body", "body": b"only ten b"})
            except ProtocolViolation as e:
                seen.append(str(e))
        elif path == "/te":
            await start_response(send, 200, [(b"transfer-encoding", b"chunked")])
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            await send({"type": "http.response.body", "body": b"def"})
        else:
            await start_response(send, 204)
            await send({"type": "http.response.body", "body": b""})

    served = Served(app)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=TIMEOUT) as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get("/short")
            r = await c.get("/te")
            assert r.text == "abcdef" and r.headers["transfer-encoding"] == "chunked"
            r = await c.get("/nothing")
            assert r.status_code == 204 and "content-length" not in r.headers
        assert len(seen) == 1 and "Content-Length" in seen[0]
    finally:
        await served.close()


async def test_websocket_pings_and_message_limit() -> None:
    """The container's WebSocket settings: squall pings the client on its
    own (ASGI has no ping event) and closes 1009 past the message limit."""
    ECHO_CLOSES.clear()
    served = Served(ws_app, websocket_ping_interval=0.05, websocket_max_message_size=1000)
    try:
        async with raw_connection(served.port) as (reader, writer):
            writer.write(
                b"GET /echo-until-close HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            assert head.startswith(b"HTTP/1.1 101 ")
            # RFC 6455 section 1.3's example key and its accept value.
            assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in head.lower()
            # The first frame squall sends by itself is a ping (opcode 0x9).
            first = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
            assert first == b"\x89\x00"
        async with connect(f"ws://127.0.0.1:{served.port}/echo-until-close") as ws:
            await ws.send("x" * 999)
            assert await ws.recv() == "x" * 999
            await ws.send("x" * 1001)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    finally:
        await served.close()
