"""squall.tcpserver.TCPServer over real sockets on 127.0.0.1, on both loops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import trustme
from net_loops import LOOPS, each_loop

from squall import netutil
from squall.iostream import IOStream, SSLIOStream, StreamClosedError
from squall.log import app_log
from squall.tcpserver import TCPServer
from squall.testing import ExpectLog, bind_unused_port

pytestmark = pytest.mark.usefixtures("io_loop")


@pytest.fixture(params=LOOPS)
def io_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test here runs once on each loop squall can make."""
    yield from each_loop(request.param, monkeypatch)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class EchoServer(TCPServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams: list[IOStream] = []
        self.addresses: list[Any] = []

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.streams.append(stream)
        self.addresses.append(address)
        try:
            while True:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)
        except StreamClosedError:
            pass


async def echo_once(port: int, message: bytes = b"ping", **kwargs: Any) -> bytes:
    stream = IOStream(socket.socket())
    try:
        await stream.connect(("127.0.0.1", port))
        await stream.write(message)
        return await stream.read_bytes(len(message))
    finally:
        stream.close()


def port_of(server: TCPServer) -> int:
    port: int = next(iter(server._sockets.values())).getsockname()[1]
    return port


async def refused(port: int) -> bool:
    stream = IOStream(socket.socket())
    try:
        await stream.connect(("127.0.0.1", port))
    except StreamClosedError as e:
        return isinstance(e.real_error, ConnectionRefusedError)
    stream.close()
    return False


async def test_listen_serves_connections() -> None:
    server = EchoServer()
    server.listen(0, "127.0.0.1")
    port = port_of(server)
    try:
        assert await echo_once(port, b"hello") == b"hello"
        assert await echo_once(port, b"x" * 200_000) == b"x" * 200_000
    finally:
        server.stop()


async def test_add_sockets_and_peer_address() -> None:
    server = EchoServer()
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    stream = IOStream(socket.socket())
    try:
        await stream.connect(("127.0.0.1", port))
        await stream.write(b"a")
        assert await stream.read_bytes(1) == b"a"
        assert server.addresses == [stream.socket.getsockname()]
    finally:
        stream.close()
        server.stop()


async def test_stream_settings_reach_the_streams() -> None:
    server = EchoServer(max_buffer_size=4096, read_chunk_size=1024)
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        assert await echo_once(port) == b"ping"
        assert server.streams[0].max_buffer_size == 4096
        assert server.streams[0].read_chunk_size == 1024
    finally:
        server.stop()


async def test_coroutine_handler_failure_is_logged_and_closes() -> None:
    class Failing(TCPServer):
        async def handle_stream(self, stream: IOStream, address: Any) -> None:
            await stream.read_bytes(1)
            raise ZeroDivisionError

    server = Failing()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", port))
        # Tornado's wording for a coroutine handler's failure.
        with ExpectLog(app_log, "Exception in callback"):
            await stream.write(b"x")
            assert await stream.read_until_close() == b""
        stream.close()
    finally:
        server.stop()


@pytest.mark.parametrize("override", [True, False])
async def test_sync_handler_failure_is_logged_and_closes(override: bool) -> None:
    class Failing(TCPServer):
        def handle_stream(self, stream: IOStream, address: Any) -> None:
            raise ZeroDivisionError

    server = Failing() if override else TCPServer()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        stream = IOStream(socket.socket())
        with ExpectLog(app_log, "Error in connection callback"):
            await stream.connect(("127.0.0.1", port))
            assert await stream.read_until_close() == b""
        stream.close()
    finally:
        server.stop()


async def test_stop_refuses_new_connections_but_keeps_old_ones() -> None:
    server = EchoServer()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    stream = IOStream(socket.socket())
    await stream.connect(("127.0.0.1", port))
    await stream.write(b"before")
    assert await stream.read_bytes(6) == b"before"
    server.stop()
    server.stop()  # harmless
    assert sock.fileno() == -1
    assert await refused(port)
    await stream.write(b"after")
    assert await stream.read_bytes(5) == b"after"
    stream.close()


async def test_stop_before_serving_began() -> None:
    server = EchoServer()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    server.stop()
    assert await refused(port)
    assert sock.fileno() == -1


async def test_bind_then_start() -> None:
    server = EchoServer()
    server.bind(0, "127.0.0.1")
    port = server._pending_sockets[0][0].getsockname()[1]
    server.start()
    try:
        assert await echo_once(port) == b"ping"
        with pytest.raises(RuntimeError, match="already called"):
            server.start()
        # Binding after start serves at once.
        server.bind(0, "127.0.0.1")
        ports = {s.getsockname()[1] for s in server._sockets.values()}
        for other in ports - {port}:
            assert await echo_once(other, b"second") == b"second"
        assert len(ports) == 2
    finally:
        server.stop()


async def test_stop_closes_sockets_bound_but_not_started() -> None:
    server = EchoServer()
    server.bind(0, "127.0.0.1")
    sock = server._pending_sockets[0][0]
    server.stop()
    assert sock.fileno() == -1


async def test_unix_socket_server(tmp_path: Any) -> None:
    path = str(tmp_path / "srv.sock")
    server = EchoServer()
    server.add_socket(netutil.bind_unix_socket(path))
    try:
        stream = IOStream(socket.socket(socket.AF_UNIX))
        await stream.connect(path)
        await stream.write(b"unix")
        assert await stream.read_bytes(4) == b"unix"
        stream.close()
    finally:
        server.stop()


def test_ssl_options_are_checked_up_front(tmp_path: Any) -> None:
    with pytest.raises(KeyError, match="missing key"):
        TCPServer(ssl_options={})
    with pytest.raises(ValueError, match='certfile "/nonexistent" does not exist'):
        TCPServer(ssl_options={"certfile": "/nonexistent"})
    certfile = tmp_path / "cert.pem"
    certfile.write_text("")
    with pytest.raises(ValueError, match='keyfile "/nonexistent" does not exist'):
        TCPServer(ssl_options={"certfile": str(certfile), "keyfile": "/nonexistent"})


async def test_tls_server_with_dict_options(
    tmp_path: Any, server_cert: trustme.LeafCert, client_context: ssl.SSLContext
) -> None:
    pem = tmp_path / "server.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    server = EchoServer(ssl_options={"certfile": str(pem)})
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        stream = SSLIOStream(socket.socket(), ssl_options=client_context)
        await stream.connect(("127.0.0.1", port), server_hostname="localhost")
        await stream.write(b"tls")
        assert await stream.read_bytes(3) == b"tls"
        assert isinstance(server.streams[0], SSLIOStream)
        stream.close()
    finally:
        server.stop()


async def test_failed_handshake_is_quiet_and_server_carries_on(
    server_cert: trustme.LeafCert, client_context: ssl.SSLContext
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    server = EchoServer(ssl_options=context)
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        # A client that does not trust the server gives up mid-handshake;
        # a plain-text client sends garbage. Neither is worth an error log.
        distrustful = SSLIOStream(socket.socket())
        # (The client side's failure is its handshake error, logged as a warning.)
        with pytest.raises(ssl.SSLCertVerificationError):
            await distrustful.connect(("127.0.0.1", port), server_hostname="localhost")
        plain = IOStream(socket.socket())
        await plain.connect(("127.0.0.1", port))
        await plain.write(b"GET / HTTP/1.0\r\n\r\n")
        assert await plain.read_until_close() == b"" or plain.closed()
        good = SSLIOStream(socket.socket(), ssl_options=client_context)
        await good.connect(("127.0.0.1", port), server_hostname="localhost")
        await good.write(b"ok")
        assert await good.read_bytes(2) == b"ok"
        assert len(server.streams) == 1
        good.close()
    finally:
        server.stop()


FORKING_SERVER = textwrap.dedent(
    """
    import sys, time
    from squall import process
    from squall.ioloop import IOLoop
    from squall.tcpserver import TCPServer

    class TaskIdServer(TCPServer):
        def handle_stream(self, stream, address):
            # Block this process, so that the next connection must go to
            # the other child.
            time.sleep(0.5)
            stream.write(str(process.task_id()).encode())
            stream.close()

    server = TaskIdServer()
    server.bind(int(sys.argv[1]), "127.0.0.1")
    server.start(2)
    IOLoop.current().start()
    """
)


@pytest.mark.slow
async def test_start_forks_workers_sharing_the_socket() -> None:
    sock, port = bind_unused_port()
    sock.close()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    child = subprocess.Popen(
        [sys.executable, "-c", FORKING_SERVER, str(port)],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        first = None
        while first is None:
            assert loop.time() < deadline, "the forked server never answered"
            first = IOStream(socket.socket())
            try:
                await first.connect(("127.0.0.1", port))
            except StreamClosedError:
                first = None
                await asyncio.sleep(0.05)
        # The child that took the first connection is asleep: the second
        # is accepted by the other one.
        await asyncio.sleep(0.2)
        second = IOStream(socket.socket())
        await second.connect(("127.0.0.1", port))
        ids = {await first.read_until_close(), await second.read_until_close()}
        assert ids == {b"0", b"1"}
        first.close()
        second.close()
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=10)


async def test_socket_that_cannot_serve_is_logged_and_closed() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    server = EchoServer()
    with ExpectLog(app_log, "Could not serve on"):
        server.add_socket(udp)
        for _ in range(5):
            await asyncio.sleep(0)
    assert udp.fileno() == -1
    server.stop()
