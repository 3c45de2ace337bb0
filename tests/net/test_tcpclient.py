"""squall.tcpclient: connecting by name, happy eyeballs, timeouts, TLS; on both loops."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from net_loops import LOOPS, each_loop

from squall.ioloop import IOLoop
from squall.iostream import IOStream, SSLIOStream, StreamClosedError
from squall.netutil import DefaultLoopResolver, OverrideResolver, Resolver
from squall.tcpclient import _INITIAL_CONNECT_TIMEOUT, TCPClient, _Connector
from squall.tcpserver import TCPServer
from squall.testing import bind_unused_port

pytestmark = pytest.mark.usefixtures("io_loop")


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback")


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


class EchoServer(TCPServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.addresses: list[Any] = []
        self.streams: list[IOStream] = []

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.addresses.append(address)
        self.streams.append(stream)
        try:
            while True:
                await stream.write(await stream.read_bytes(65536, partial=True))
        except StreamClosedError:
            pass


@pytest.fixture
def echo_port() -> Iterator[tuple[EchoServer, int]]:
    server = EchoServer()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    yield server, port
    server.stop()


def closed_port() -> int:
    sock, port = bind_unused_port()
    sock.close()
    return port


class StalledListener:
    """A listener whose accept queue is full: connecting to it hangs."""

    def __init__(self, family: socket.AddressFamily = socket.AF_INET) -> None:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.sock = socket.socket(family)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []

    async def fill(self) -> None:
        # Linux queues backlog + 1 connections; a few more to be sure.
        for _ in range(4):
            filler = socket.socket(self.sock.family)
            filler.setblocking(False)
            filler.connect_ex(self.sock.getsockname())
            self.fillers.append(filler)
            await asyncio.sleep(0.01)

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


class FixedResolver(Resolver):
    """Answers every name with a fixed list; counts close() calls."""

    def initialize(self, addresses: list[tuple[int, Any]]) -> None:  # type: ignore[override]
        self.addresses = addresses
        self.closed = 0

    async def resolve(self, host: str, port: int, family: int = 0) -> list[tuple[int, Any]]:  # type: ignore[override]
        return self.addresses

    def close(self) -> None:
        self.closed += 1


class HangingResolver(Resolver):
    def initialize(self) -> None:  # type: ignore[override]
        pass

    async def resolve(self, host: str, port: int, family: int = 0) -> list[tuple[int, Any]]:  # type: ignore[override]
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def echo(stream: IOStream, message: bytes = b"ping") -> bytes:
    await stream.write(message)
    return await stream.read_bytes(len(message))


# -- connecting -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_connect_by_name(echo_port: tuple[EchoServer, int], host: str) -> None:
    _server, port = echo_port
    client = TCPClient()
    stream = await client.connect(host, port)
    assert type(stream) is IOStream
    assert await echo(stream) == b"ping"
    stream.close()
    client.close()


async def test_connect_restricted_to_a_family(echo_port: tuple[EchoServer, int]) -> None:
    _server, port = echo_port
    stream = await TCPClient().connect("localhost", port, af=socket.AF_INET)
    assert stream.socket.family == socket.AF_INET
    stream.close()


async def test_connect_refused_fails_fast() -> None:
    with pytest.raises(StreamClosedError) as info:
        await TCPClient().connect("127.0.0.1", closed_port())
    assert isinstance(info.value.real_error, ConnectionRefusedError)


async def test_unresolvable_name() -> None:
    with pytest.raises(OSError):
        await TCPClient().connect("name.invalid", 80, timeout=5)


async def test_source_ip_and_port(echo_port: tuple[EchoServer, int]) -> None:
    server, port = echo_port
    source_port = closed_port()
    stream = await TCPClient().connect(
        "127.0.0.1", port, source_ip="127.0.0.1", source_port=source_port
    )
    assert await echo(stream) == b"ping"
    assert server.addresses == [("127.0.0.1", source_port)]
    stream.close()
    # A source port alone binds on every local address.
    other_port = closed_port()
    stream = await TCPClient().connect("127.0.0.1", port, source_port=other_port)
    assert stream.socket.getsockname() == ("127.0.0.1", other_port)
    stream.close()


async def test_source_port_in_use(echo_port: tuple[EchoServer, int]) -> None:
    _server, port = echo_port
    busy, busy_port = bind_unused_port()
    try:
        with pytest.raises(OSError) as info:
            await TCPClient().connect(
                "127.0.0.1", port, source_ip="127.0.0.1", source_port=busy_port
            )
        assert not isinstance(info.value, StreamClosedError)
    finally:
        busy.close()


# -- timeouts -------------------------------------------------------------------


async def test_timeout_while_resolving() -> None:
    client = TCPClient(resolver=HangingResolver())
    with pytest.raises(TimeoutError):
        await client.connect("example.com", 80, timeout=0.05)


async def test_timeout_while_connecting() -> None:
    stalled = StalledListener()
    await stalled.fill()
    try:
        with pytest.raises(TimeoutError):
            await TCPClient().connect(
                "127.0.0.1", stalled.port, timeout=datetime.timedelta(seconds=0.1)
            )
    finally:
        stalled.close()


async def test_timeout_during_tls_handshake() -> None:
    class Silent(TCPServer):
        def __init__(self) -> None:
            super().__init__()
            self.streams: list[IOStream] = []

        def handle_stream(self, stream: IOStream, address: Any) -> None:
            self.streams.append(stream)  # accepts, never answers the TLS hello

    server = Silent()
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        with pytest.raises(TimeoutError):
            await TCPClient().connect("127.0.0.1", port, ssl_options={}, timeout=0.2)
        # The abandoned connection is closed: the server sees its end.
        assert await server.streams[0].read_until_close() is not None
        assert server.streams[0].closed()
    finally:
        server.stop()


async def test_bad_timeout_type() -> None:
    with pytest.raises(TypeError, match="Unsupported timeout"):
        await TCPClient().connect("127.0.0.1", 1, timeout="soon")  # type: ignore[arg-type]


# -- TLS ------------------------------------------------------------------------


async def test_tls_connect(server_context: ssl.SSLContext, ca: trustme.CA, tmp_path: Any) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = EchoServer(ssl_options=server_context)
    sock, port = bind_unused_port()
    server.add_socket(sock)
    try:
        stream = await TCPClient().connect(
            "localhost", port, ssl_options={"ca_certs": str(ca_file)}
        )
        assert isinstance(stream, SSLIOStream)
        assert await echo(stream, b"secure") == b"secure"
        stream.close()
        # The system's CAs do not know ours.
        with pytest.raises(ssl.SSLCertVerificationError):
            await TCPClient().connect("localhost", port, ssl_options={})
    finally:
        server.stop()


async def test_tls_host_name_is_checked(server_context: ssl.SSLContext, ca: trustme.CA) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    server = EchoServer(ssl_options=server_context)
    sock, port = bind_unused_port()
    server.add_socket(sock)
    resolver = OverrideResolver(
        resolver=DefaultLoopResolver(), mapping={"example.com": "127.0.0.1"}
    )
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match=r"example\.com"):
            await TCPClient(resolver=resolver).connect("example.com", port, ssl_options=context)
    finally:
        server.stop()


# -- happy eyeballs ---------------------------------------------------------------


@needs_ipv6
async def test_primary_family_refused_falls_back_at_once(echo_port: tuple[EchoServer, int]) -> None:
    _server, port = echo_port
    resolver = FixedResolver(
        addresses=[
            (socket.AF_INET6, ("::1", closed_port(), 0, 0)),
            (socket.AF_INET, ("127.0.0.1", port)),
        ]
    )
    client = TCPClient(resolver=resolver)
    stream = await client.connect("dual.example", port)
    assert stream.socket.family == socket.AF_INET
    assert await echo(stream) == b"ping"
    stream.close()
    client.close()
    assert resolver.closed == 0  # not the client's to close


@needs_ipv6
async def test_stalled_primary_family_loses_to_secondary(
    echo_port: tuple[EchoServer, int],
) -> None:
    _server, port = echo_port
    stalled = StalledListener(socket.AF_INET6)
    await stalled.fill()
    try:
        resolver = FixedResolver(
            addresses=[
                (socket.AF_INET6, ("::1", stalled.port, 0, 0)),
                (socket.AF_INET, ("127.0.0.1", port)),
            ]
        )
        stream = await TCPClient(resolver=resolver).connect("dual.example", port, timeout=5)
        assert stream.socket.family == socket.AF_INET
        assert await echo(stream) == b"ping"
        stream.close()
    finally:
        stalled.close()


async def test_every_address_fails() -> None:
    resolver = FixedResolver(
        addresses=[
            (socket.AF_INET, ("127.0.0.1", closed_port())),
            (socket.AF_INET, ("127.0.0.1", closed_port())),
        ]
    )
    with pytest.raises(StreamClosedError) as info:
        await TCPClient(resolver=resolver).connect("multi.example", 1)
    assert isinstance(info.value.real_error, ConnectionRefusedError)


async def test_no_addresses() -> None:
    with pytest.raises(OSError, match="no addresses"):
        await TCPClient(resolver=FixedResolver(addresses=[])).connect("empty.example", 1)


async def test_client_closes_only_its_own_resolver() -> None:
    client = TCPClient()
    assert isinstance(client.resolver, Resolver)
    client.close()
    given = FixedResolver(addresses=[])
    TCPClient(resolver=given).close()
    assert given.closed == 0


# -- the connector on its own, with attempts the test completes by hand ---------


class FakeStream:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Attempts:
    """Records connection attempts; the test resolves or fails each one."""

    def __init__(self) -> None:
        self.made: dict[Any, tuple[FakeStream, asyncio.Future[Any]]] = {}

    def __call__(
        self, family: socket.AddressFamily, address: Any
    ) -> tuple[Any, asyncio.Future[Any]]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stream = FakeStream()
        self.made[address] = (stream, future)
        return stream, future

    def succeed(self, address: Any) -> FakeStream:
        stream, future = self.made[address]
        future.set_result(stream)
        return stream

    def fail(self, address: Any) -> None:
        _stream, future = self.made[address]
        future.set_exception(StreamClosedError(real_error=ConnectionRefusedError()))


V6 = socket.AF_INET6
V4 = socket.AF_INET
ADDRS = [(V6, "a6"), (V6, "b6"), (V4, "a4"), (V4, "b4")]


def test_split_by_family() -> None:
    assert _Connector.split(ADDRS) == (ADDRS[:2], ADDRS[2:])
    assert _Connector.split([]) == ([], [])
    assert _INITIAL_CONNECT_TIMEOUT == 0.3


async def test_connector_primary_wins_before_timeout() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=60)
    assert list(attempts.made) == ["a6"]
    stream = attempts.succeed("a6")
    assert await result == (V6, "a6", stream)
    assert not stream.closed


async def test_connector_win_stops_the_head_start_timer() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=0.01)
    attempts.succeed("a6")
    await result
    await asyncio.sleep(0.05)
    # The other family is never tried.
    assert list(attempts.made) == ["a6"]


async def test_connector_secondary_after_head_start() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=0.01)
    await asyncio.sleep(0.05)
    assert list(attempts.made) == ["a6", "a4"]
    winner = attempts.succeed("a4")
    assert await result == (V4, "a4", winner)
    # The slow primary attempt is closed, and so is one that connects late.
    assert attempts.made["a6"][0].closed
    attempts.made["a6"][1].set_result(attempts.made["a6"][0])
    await asyncio.sleep(0)
    assert attempts.made["a6"][0].closed


async def test_connector_failure_moves_on_and_starts_secondary() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=60)
    attempts.fail("a6")
    await asyncio.sleep(0)
    # The next primary address and the first secondary one, together.
    assert list(attempts.made) == ["a6", "b6", "a4"]
    attempts.fail("a4")
    await asyncio.sleep(0)
    assert list(attempts.made) == ["a6", "b6", "a4", "b4"]
    attempts.fail("b6")
    attempts.fail("b4")
    with pytest.raises(StreamClosedError):
        await result


async def test_connector_cancelled_closes_attempts() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=60)
    result.cancel()
    await asyncio.sleep(0)
    assert attempts.made["a6"][0].closed
    assert connector.pending_addrs == {"a6"}


async def test_connector_attempt_that_raises() -> None:
    def broken(family: socket.AddressFamily, address: Any) -> Any:
        raise OSError("cannot make a socket")

    connector = _Connector([(V4, "x")], broken)
    with pytest.raises(OSError, match="cannot make a socket"):
        await connector.start()


async def test_connector_attempt_failing_at_once_starts_both_families() -> None:
    attempts = Attempts()

    def first_cannot_start(family: socket.AddressFamily, address: Any) -> Any:
        if address == "a6":
            raise OSError("no socket for a6")
        return attempts(family, address)

    connector = _Connector(ADDRS, first_cannot_start)
    result = connector.start(timeout=3600)
    # Without waiting for the loop: the next primary address and the
    # secondary family, the head start cut short.
    assert list(attempts.made) == ["b6", "a4"]
    assert connector.remaining == 3
    assert str(connector.last_error) == "no socket for a6"
    winner = attempts.succeed("a4")
    assert await result == (V4, "a4", winner)
    await asyncio.sleep(0)
    assert attempts.made["b6"][0].closed
    assert not winner.closed


async def test_connector_every_attempt_failing_at_once() -> None:
    def nothing_works(family: socket.AddressFamily, address: Any) -> Any:
        raise OSError(f"no socket for {address}")

    result = _Connector(ADDRS, nothing_works).start(timeout=3600)
    # Settled before start() returns; the error is the last address's.
    assert result.done()
    with pytest.raises(OSError, match="no socket for b4"):
        result.result()


async def test_connector_cancelled_attempts_fail_without_an_error() -> None:
    attempts = Attempts()
    connector = _Connector([(V6, "a6"), (V4, "a4")], attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=3600)
    attempts.made["a6"][1].cancel()
    await asyncio.sleep(0)
    # The cancelled attempt makes way for the other family at once.
    assert list(attempts.made) == ["a6", "a4"]
    attempts.made["a4"][1].cancel()
    with pytest.raises(OSError, match="connection failed"):
        await result
    assert connector.last_error is None
    assert attempts.made["a6"][0].closed and attempts.made["a4"][0].closed


async def test_connector_connect_timeout_names_pending_addresses() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=3600, connect_timeout=datetime.timedelta(seconds=0.05))
    connector.on_timeout()  # the head start is over: a6 and a4 in flight
    attempts.fail("a6")
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError, match=r"^Timeout while connecting to a4, b6$"):
        await result
    assert all(stream.closed for stream, _future in attempts.made.values())
    # An attempt connecting after the deadline is closed, not returned.
    late = attempts.succeed("b6")
    await asyncio.sleep(0)
    assert late.closed


async def test_connector_connect_timeout_as_a_deadline() -> None:
    attempts = Attempts()
    connector = _Connector([(V4, ("127.0.0.1", 1))], attempts)  # type: ignore[arg-type]
    deadline = IOLoop.current().time() + 0.05
    with pytest.raises(TimeoutError, match=r"^Timeout while connecting to 127\.0\.0\.1:1$"):
        await connector.start(connect_timeout=deadline)


async def test_connector_late_failure_after_a_winner_is_ignored() -> None:
    attempts = Attempts()
    connector = _Connector(ADDRS, attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=3600)
    connector.on_timeout()
    winner = attempts.succeed("a4")
    assert await result == (V4, "a4", winner)
    attempts.fail("a6")
    await asyncio.sleep(0)
    # No further attempts, and the winner's result stands.
    assert list(attempts.made) == ["a6", "a4"]
    assert connector.last_error is None
    assert not winner.closed


@needs_ipv6
async def test_timeout_names_every_address_being_tried() -> None:
    stalled_v4 = StalledListener(socket.AF_INET)
    stalled_v6 = StalledListener(socket.AF_INET6)
    await stalled_v4.fill()
    await stalled_v6.fill()
    try:
        v4 = ("127.0.0.1", stalled_v4.port)
        v6 = ("::1", stalled_v6.port, 0, 0)
        resolver = FixedResolver(addresses=[(socket.AF_INET6, v6), (socket.AF_INET, v4)])
        client = TCPClient(resolver=resolver)
        # Past the head start (0.3 s), both families are in flight.
        with pytest.raises(TimeoutError) as info:
            await client.connect("dual.example", 1, timeout=0.6)
        assert str(info.value) == (f"Timeout while connecting to 127.0.0.1:{v4[1]}, [::1]:{v6[1]}")
    finally:
        stalled_v4.close()
        stalled_v6.close()


async def test_create_stream_is_the_attempt_hook(echo_port: tuple[EchoServer, int]) -> None:
    _server, port = echo_port
    made: list[tuple[socket.AddressFamily, Any]] = []

    class Recording(TCPClient):
        def _create_stream(  # type: ignore[override]
            self, max_buffer_size: Any, af: socket.AddressFamily, addr: Any, **kwargs: Any
        ) -> Any:
            made.append((af, addr))
            return super()._create_stream(max_buffer_size, af, addr, **kwargs)

    stream = await Recording().connect("127.0.0.1", port)
    assert made == [(socket.AF_INET, ("127.0.0.1", port))]
    assert await echo(stream) == b"ping"
    stream.close()


async def test_connector_lost_race_stops_its_timers() -> None:
    attempts = Attempts()
    connector = _Connector([(V4, "a4")], attempts)  # type: ignore[arg-type]
    result = connector.start(timeout=3600, connect_timeout=datetime.timedelta(seconds=3600))
    attempts.fail("a4")
    with pytest.raises(StreamClosedError):
        await result
    handle: Any = connector.connect_timeout
    assert handle is not None and handle.cancelled()
