"""A TLS stream's ``socket`` (session details) and wait_for_handshake's one-waiter rule."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from squall.iostream import SSLIOStream, StreamClosedError
from squall.log import gen_log
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog, bind_unused_port

pytestmark = pytest.mark.usefixtures("io_loop")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    context.set_alpn_protocols(["squall-test"])
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["squall-test"])
    return context


class Holder(TCPServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams: asyncio.Queue[Any] = asyncio.Queue()

    def handle_stream(self, stream: Any, address: Any) -> None:
        self.streams.put_nowait(stream)


@pytest.fixture
def tls_server(server_context: ssl.SSLContext) -> Iterator[tuple[Holder, int]]:
    server = Holder(ssl_options=server_context)
    sock, port = bind_unused_port()
    server.add_socket(sock)
    yield server, port
    server.stop()


async def test_client_socket_reports_the_session(
    tls_server: tuple[Holder, int], client_context: ssl.SSLContext
) -> None:
    server, port = tls_server
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    await client.connect(("127.0.0.1", port), server_hostname="localhost")
    sock: Any = client.socket
    name, protocol, bits = sock.cipher()
    assert name and bits > 0
    assert protocol.startswith("TLS")
    assert sock.version() == protocol
    assert sock.selected_alpn_protocol() == "squall-test"
    assert ("DNS", "localhost") in sock.getpeercert()["subjectAltName"]
    assert isinstance(sock.getpeercert(binary_form=True), bytes)
    assert sock.server_side is False
    assert sock.server_hostname == "localhost"
    # The plain socket's side is still there.
    assert sock.getpeername() == ("127.0.0.1", port)
    assert isinstance(sock.fileno(), int) and sock.fileno() >= 0
    assert sock.family == socket.AF_INET
    served = await server.streams.get()
    assert served.socket.cipher() == sock.cipher()
    assert served.socket.server_side is True
    # The client presented no certificate.
    assert served.socket.getpeercert() is None
    client.close()
    served.close()


async def test_unknown_attribute_is_an_attribute_error(
    tls_server: tuple[Holder, int], client_context: ssl.SSLContext
) -> None:
    server, port = tls_server
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    await client.connect(("127.0.0.1", port), server_hostname="localhost")
    with pytest.raises(AttributeError):
        client.socket.no_such_method()
    client.close()
    (await server.streams.get()).close()


async def test_one_waiter_at_a_time(
    tls_server: tuple[Holder, int], client_context: ssl.SSLContext
) -> None:
    server, port = tls_server
    client = SSLIOStream(socket.socket(), ssl_options=client_context)
    waiting = client.wait_for_handshake()
    with pytest.raises(RuntimeError, match="Already waiting"):
        client.wait_for_handshake()
    await client.connect(("127.0.0.1", port), server_hostname="localhost")
    assert await waiting is client
    # Once that one resolved, later calls get a Future resolved at once.
    again = client.wait_for_handshake()
    assert again.done() and again.result() is client
    assert client.wait_for_handshake().result() is client
    client.close()
    (await server.streams.get()).close()


async def test_handshake_failure_is_the_ssl_error(tls_server: tuple[Holder, int]) -> None:
    _server, port = tls_server
    client = SSLIOStream(socket.socket())  # the system's CAs: ours is unknown
    waiting = client.wait_for_handshake()
    with ExpectLog(gen_log, r"SSL Error on \d+ \('127\.0\.0\.1', \d+\)"):
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.connect(("127.0.0.1", port), server_hostname="localhost")
    with pytest.raises(StreamClosedError):
        await waiting
    # After the failure a new waiter fails at once, and does not raise.
    late = client.wait_for_handshake()
    with pytest.raises(StreamClosedError):
        await late
    # The server's side of the failed handshake: in asyncio's debug mode
    # (make test's second pass) the loop logs it as an error; let it happen
    # here rather than in the next test.
    with ExpectLog("asyncio", "Error on transport creation", required=False):
        await asyncio.sleep(0.1)


async def test_refused_tls_connect_is_still_stream_closed() -> None:
    sock, port = bind_unused_port()
    sock.close()
    client = SSLIOStream(socket.socket())
    with pytest.raises(StreamClosedError) as info:
        await client.connect(("127.0.0.1", port), server_hostname="localhost")
    assert isinstance(info.value.real_error, ConnectionRefusedError)
