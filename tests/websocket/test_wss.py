"""WebSockets over TLS (``wss://``): squall's server and client, and the
``websockets`` library on the other end, with certificates from trustme."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from squall.httpclient import HTTPRequest
from squall.httpserver import HTTPServer
from squall.iostream import StreamClosedError
from squall.testing import bind_unused_port
from squall.web import Application
from squall.websocket import WebSocketHandler, websocket_connect

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidMessage  # noqa: E402
from websockets_peer import echo  # noqa: E402

BIG = 1024 * 1024
# Bounds each wait on a peer, well inside the test's own timeout.
STEP_TIMEOUT = 10


class Recorder:
    def __init__(self) -> None:
        self.protocols: list[str] = []
        self.closes: list[tuple[int | None, str | None]] = []
        self.closed = asyncio.Event()


class Echo(WebSocketHandler):
    def initialize(self, rec: Recorder, compress: bool) -> None:
        self.rec = rec
        self.compress = compress

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.compress else None

    def open(self) -> None:
        self.rec.protocols.append(self.request.protocol)

    def on_message(self, message: str | bytes) -> Any:
        if message == "close please":
            self.close(4321, "requested")
            return None
        return self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.rec.closes.append((self.close_code, self.close_reason))
        self.rec.closed.set()


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(tls_ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(tls_ca: trustme.CA, *identities: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(*identities).configure_cert(context)
    return context


def client_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def identities() -> tuple[str, ...]:
    """The names the server's certificate is issued for."""
    return ("127.0.0.1", "localhost")


@pytest.fixture
def wss_port(
    io_loop: Any, tls_ca: trustme.CA, rec: Recorder, identities: tuple[str, ...]
) -> Iterator[int]:
    """A squall HTTPS server with echo sockets at /plain and /deflate."""
    app = Application(
        [
            ("/plain", Echo, {"rec": rec, "compress": False}),
            ("/deflate", Echo, {"rec": rec, "compress": True}),
        ]
    )
    server = HTTPServer(app, ssl_options=server_context(tls_ca, *identities))
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    yield port
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)


async def within(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)


def trusted_request(way: str, url: str, ca_file: str) -> HTTPRequest:
    """A handshake request told, in one of the client's ways, to trust the CA."""
    if way == "ca_certs":
        return HTTPRequest(url, ca_certs=ca_file)
    if way == "context":
        return HTTPRequest(url, ssl_options=client_context(ca_file))
    if way == "options":
        return HTTPRequest(url, ssl_options={"ca_certs": ca_file, "cert_reqs": ssl.CERT_REQUIRED})
    # No verification at all: the connection is still encrypted.
    assert way == "no_verify"
    return HTTPRequest(url, validate_cert=False)


# -- squall's client to squall's server ---------------------------------------


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("path", ["/plain", "/deflate"])
@pytest.mark.parametrize("trust", ["ca_certs", "context", "options", "no_verify"])
async def test_squall_client_over_wss(
    wss_port: int, rec: Recorder, ca_file: str, path: str, trust: str
) -> None:
    request = trusted_request(trust, f"wss://127.0.0.1:{wss_port}{path}", ca_file)
    conn = await within(websocket_connect(request, compression_options={}))
    negotiated = conn.headers.get("Sec-WebSocket-Extensions")
    assert (negotiated is not None) == (path == "/deflate")
    await conn.write_message("héllo")
    assert await within(conn.read_message()) == "héllo"
    await conn.write_message(b"\x00\xff\x80", binary=True)
    assert await within(conn.read_message()) == b"\x00\xff\x80"
    await conn.write_message({"a": [1, 2]})
    assert json.loads(await within(conn.read_message())) == {"a": [1, 2]}
    big_text = "ü" * (BIG // 2)
    await conn.write_message(big_text)
    assert await within(conn.read_message()) == big_text
    big_data = bytes(range(256)) * (BIG // 256)
    await conn.write_message(big_data, binary=True)
    assert await within(conn.read_message()) == big_data
    conn.close(4000, "bye")
    assert await within(conn.read_message()) is None
    await within(rec.closed.wait())
    assert rec.closes == [(4000, "bye")]
    assert (conn.close_code, conn.close_reason) == (4000, "")
    # The server saw the handshake arrive over TLS.
    assert rec.protocols == ["https"]


async def test_server_initiated_close_over_wss(wss_port: int, rec: Recorder, ca_file: str) -> None:
    conn = await within(
        websocket_connect(HTTPRequest(f"wss://127.0.0.1:{wss_port}/plain", ca_certs=ca_file))
    )
    await conn.write_message("close please")
    assert await within(conn.read_message()) is None
    assert (conn.close_code, conn.close_reason) == (4321, "requested")
    await within(rec.closed.wait())
    # What the client echoed: the code, without the reason.
    assert rec.closes == [(4321, "")]


# -- the websockets library's client to squall's server -----------------------


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("path", ["/plain", "/deflate"])
async def test_websockets_client_over_wss(
    wss_port: int, rec: Recorder, ca_file: str, path: str
) -> None:
    compression = "deflate" if path == "/deflate" else None
    async with connect(
        f"wss://127.0.0.1:{wss_port}{path}",
        ssl=client_context(ca_file),
        compression=compression,
        max_size=None,
        open_timeout=STEP_TIMEOUT,
    ) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (extensions is not None) == (compression is not None)
        for message in ["plain text", "é" * (BIG // 2), b"\x01\x02", bytes(BIG)]:
            await ws.send(message)
            assert await within(ws.recv()) == message
        await ws.send(["frag", "mented"])
        assert await within(ws.recv()) == "fragmented"
        await within(ws.close(4001, "client done"))
    await within(rec.closed.wait())
    assert rec.closes == [(4001, "client done")]
    assert rec.protocols == ["https"]


async def test_websockets_client_sees_server_close_over_wss(wss_port: int, ca_file: str) -> None:
    async with connect(
        f"wss://127.0.0.1:{wss_port}/plain", ssl=client_context(ca_file), open_timeout=STEP_TIMEOUT
    ) as ws:
        await ws.send("close please")
        with pytest.raises(ConnectionClosed) as info:
            await within(ws.recv())
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4321, "requested")


# -- squall's client to the websockets library's server -----------------------


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("compression_options", [None, {}], ids=["plain", "deflate"])
async def test_squall_client_to_websockets_server_over_wss(
    io_loop: Any, tls_ca: trustme.CA, ca_file: str, compression_options: dict[str, Any] | None
) -> None:
    context = server_context(tls_ca, "127.0.0.1")
    async with serve(echo, "127.0.0.1", 0, ssl=context, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        request = HTTPRequest(f"wss://127.0.0.1:{port}/", ca_certs=ca_file)
        conn = await within(websocket_connect(request, compression_options=compression_options))
        negotiated = conn.headers.get("Sec-WebSocket-Extensions")
        assert (negotiated is not None) == (compression_options is not None)
        for message in ["text", "ß" * (BIG // 2), b"\xfe\xff", b"\x07" * BIG]:
            await conn.write_message(message, binary=isinstance(message, bytes))
            assert await within(conn.read_message()) == message
        await conn.write_message("close please")
        assert await within(conn.read_message()) is None
        assert (conn.close_code, conn.close_reason) == (4123, "bye")


# -- failures: each one prompt and clear --------------------------------------


async def test_untrusted_certificate_fails_squall_client(wss_port: int) -> None:
    # The default context trusts the system's CAs, not the test CA.
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await within(websocket_connect(f"wss://127.0.0.1:{wss_port}/plain"))


@pytest.mark.parametrize("identities", [("localhost",)])
async def test_wrong_hostname_fails_squall_client(wss_port: int, ca_file: str) -> None:
    request = HTTPRequest(f"wss://127.0.0.1:{wss_port}/plain", ca_certs=ca_file)
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        await within(websocket_connect(request))


async def test_untrusted_certificate_fails_websockets_client(wss_port: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await within(connect(f"wss://127.0.0.1:{wss_port}/plain", open_timeout=STEP_TIMEOUT))


def squall_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("squall") and r.levelno >= logging.WARNING
    ]


def assert_one_ssl_error(caplog: pytest.LogCaptureFixture) -> None:
    (line,) = squall_warnings(caplog)
    assert line.startswith("SSL Error") and "HTTP_REQUEST" in line


async def test_plain_ws_squall_client_to_tls_port(
    wss_port: int, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # The server's TLS layer cannot make sense of a plain HTTP request and
    # hangs up; no handler runs, and squall logs the failed handshake once,
    # as Tornado does ("SSL Error ...").
    with pytest.raises(StreamClosedError):
        await within(websocket_connect(f"ws://127.0.0.1:{wss_port}/plain"))
    assert rec.protocols == []
    assert_one_ssl_error(caplog)


async def test_plain_ws_websockets_client_to_tls_port(
    wss_port: int, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidMessage, match="did not receive a valid HTTP response"):
        await within(connect(f"ws://127.0.0.1:{wss_port}/plain", open_timeout=STEP_TIMEOUT))
    assert rec.protocols == []
    assert_one_ssl_error(caplog)


async def test_wss_squall_client_to_plain_server(
    io_loop: Any, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    server = HTTPServer(Application([("/plain", Echo, {"rec": rec, "compress": False})]))
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    try:
        request = HTTPRequest(f"wss://127.0.0.1:{port}/plain", ca_certs=ca_file)
        with caplog.at_level(logging.INFO, logger="squall.general"):
            # The server answers the ClientHello with a 400, which is no
            # TLS record.
            with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER"):
                await within(websocket_connect(request))
    finally:
        server.stop()
        await server.close_all_connections()
    assert rec.protocols == []
    logged = [r.getMessage() for r in caplog.records if r.name == "squall.general"]
    # The server's complaint, then the client's failed handshake (logged as
    # Tornado logs it).
    assert len(logged) == 2
    assert logged[0].startswith("Malformed HTTP message from 127.0.0.1")
    assert logged[1].startswith("SSL Error on ") and "WRONG_VERSION_NUMBER" in logged[1]
