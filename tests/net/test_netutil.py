"""squall.netutil: listening sockets, accept handlers, TLS contexts, resolvers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import re
import socket
import ssl
import stat
import threading
import uuid

import pytest
import trustme

from squall import netutil
from squall.netutil import (
    BlockingResolver,
    DefaultExecutorResolver,
    DefaultLoopResolver,
    ExecutorResolver,
    OverrideResolver,
    Resolver,
    ThreadedResolver,
    add_accept_handler,
    bind_sockets,
    bind_unix_socket,
    is_valid_ip,
    ssl_options_to_context,
    ssl_wrap_socket,
)
from squall.testing import ExpectLog


def _ipv6_loopback_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HAVE_IPV6 = _ipv6_loopback_works()
needs_ipv6 = pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 loopback")


def close_all(socks):
    for s in socks:
        s.close()


def roundtrip_connect(listener):
    """Connect to ``listener`` with a blocking client; accept; both sockets."""
    host, port = listener.getsockname()[:2]
    client = socket.create_connection((host, port), timeout=5)
    listener.setblocking(True)
    listener.settimeout(5)
    try:
        conn, _ = listener.accept()
    finally:
        listener.setblocking(False)
    return client, conn


# -- bind_sockets ---------------------------------------------------------------


def test_bind_sockets_ipv4_port_zero():
    socks = bind_sockets(0, "127.0.0.1")
    try:
        assert len(socks) == 1
        sock = socks[0]
        assert sock.family == socket.AF_INET
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert sock.getblocking() is False
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        client, conn = roundtrip_connect(sock)
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        client.close()
        conn.close()
    finally:
        close_all(socks)


def test_bind_sockets_explicit_port_and_address_in_use():
    first = bind_sockets(0, "127.0.0.1")
    port = first[0].getsockname()[1]
    try:
        with pytest.raises(OSError) as info:
            bind_sockets(port, "127.0.0.1")
        assert info.value.errno == errno.EADDRINUSE
    finally:
        close_all(first)
    # The port is free again: binding it explicitly works.
    again = bind_sockets(port, "127.0.0.1")
    try:
        assert again[0].getsockname()[1] == port
    finally:
        close_all(again)


def test_bind_sockets_reuse_port_lets_two_sockets_share_a_port():
    first = bind_sockets(0, "127.0.0.1", reuse_port=True)
    port = first[0].getsockname()[1]
    try:
        assert first[0].getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        second = bind_sockets(port, "127.0.0.1", reuse_port=True)
        try:
            assert second[0].getsockname()[1] == port
        finally:
            close_all(second)
    finally:
        close_all(first)


def test_bind_sockets_reuse_port_unsupported(monkeypatch):
    monkeypatch.delattr(socket, "SO_REUSEPORT")
    with pytest.raises(ValueError, match="SO_REUSEPORT"):
        bind_sockets(0, "127.0.0.1", reuse_port=True)


@needs_ipv6
def test_bind_sockets_ipv6_literal_is_v6_only():
    socks = bind_sockets(0, "::1")
    try:
        assert [s.family for s in socks] == [socket.AF_INET6]
        assert socks[0].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        client, conn = roundtrip_connect(socks[0])
        client.close()
        conn.close()
    finally:
        close_all(socks)


@needs_ipv6
@pytest.mark.parametrize("address", [None, ""])
def test_bind_sockets_all_interfaces_share_one_port(address):
    socks = bind_sockets(0, address)
    try:
        families = sorted(s.family for s in socks)
        assert families == [socket.AF_INET, socket.AF_INET6]
        ports = {s.getsockname()[1] for s in socks}
        assert len(ports) == 1
        v4 = next(s for s in socks if s.family == socket.AF_INET)
        v6 = next(s for s in socks if s.family == socket.AF_INET6)
        assert v4.getsockname()[0] == "0.0.0.0" and v6.getsockname()[0] == "::"
        assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    finally:
        close_all(socks)


def test_bind_sockets_family_restricts_results():
    socks = bind_sockets(0, None, family=socket.AF_INET)
    try:
        assert [s.family for s in socks] == [socket.AF_INET]
    finally:
        close_all(socks)
    with pytest.raises(socket.gaierror):
        bind_sockets(0, "127.0.0.1", family=socket.AF_INET6)


def test_bind_sockets_flags_are_passed_to_getaddrinfo():
    socks = bind_sockets(0, "127.0.0.1", flags=socket.AI_NUMERICHOST)
    close_all(socks)
    # A name is not numeric: no lookup happens and the call fails.
    with pytest.raises(socket.gaierror):
        bind_sockets(0, "localhost", flags=socket.AI_NUMERICHOST)


def test_bind_sockets_unresolvable_address():
    with pytest.raises(OSError):
        bind_sockets(0, "nonexistent.invalid")


def test_bind_sockets_skips_duplicate_addresses(monkeypatch):
    real = socket.getaddrinfo

    def doubled(*args, **kwargs):
        infos = real(*args, **kwargs)
        return infos + infos

    monkeypatch.setattr(socket, "getaddrinfo", doubled)
    socks = bind_sockets(0, "127.0.0.1")
    try:
        assert len(socks) == 1
    finally:
        close_all(socks)


@needs_ipv6
def test_bind_sockets_closes_what_it_made_when_a_later_bind_fails():
    # Hold the IPv6 wildcard on a port, then ask for every interface on it:
    # the IPv4 socket binds, the IPv6 one cannot.
    blocker = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        blocker.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        blocker.bind(("::", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            socks = bind_sockets(port, None)
        except OSError as e:
            assert e.errno == errno.EADDRINUSE
        else:  # pragma: no cover - the IPv4 port was taken by chance
            close_all(socks)
            pytest.skip("IPv6 bind unexpectedly succeeded")
        # Had the IPv4 socket been left open, this bind would fail.
        v4 = bind_sockets(port, "0.0.0.0")
        close_all(v4)
    finally:
        blocker.close()


def test_bind_sockets_skips_families_the_kernel_lacks(monkeypatch):
    real_socket = socket.socket

    def no_ipv6(family=socket.AF_INET, *args, **kwargs):
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real_socket(family, *args, **kwargs)

    monkeypatch.setattr(socket, "has_ipv6", True)
    monkeypatch.setattr(socket, "socket", no_ipv6)
    socks = bind_sockets(0, None)
    try:
        assert [s.family for s in socks] == [socket.AF_INET]
    finally:
        close_all(socks)
    with pytest.raises(OSError) as info:
        bind_sockets(0, "::1")
    assert info.value.errno == errno.EAFNOSUPPORT


def test_bind_sockets_other_socket_errors_propagate(monkeypatch):
    def no_descriptors(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(socket, "socket", no_descriptors)
    with pytest.raises(OSError) as info:
        bind_sockets(0, "127.0.0.1")
    assert info.value.errno == errno.EMFILE


def test_bind_sockets_without_ipv6_support_uses_ipv4(monkeypatch):
    monkeypatch.setattr(socket, "has_ipv6", False)
    socks = bind_sockets(0, None)
    try:
        assert [s.family for s in socks] == [socket.AF_INET]
    finally:
        close_all(socks)


def test_default_backlog_is_tornados():
    assert netutil._DEFAULT_BACKLOG == 128


# -- bind_unix_socket ------------------------------------------------------------


@pytest.fixture
def sock_dir(tmp_path):
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be
    # long, so use a short directory of our own.
    short = f"/tmp/sq-{uuid.uuid4().hex[:8]}"
    os.mkdir(short)
    yield short
    for name in os.listdir(short):
        os.unlink(os.path.join(short, name))
    os.rmdir(short)


def test_bind_unix_socket_path(sock_dir):
    path = os.path.join(sock_dir, "s")
    sock = bind_unix_socket(path)
    try:
        assert sock.getblocking() is False
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(path)
        sock.settimeout(5)
        conn, _ = sock.accept()
        client.sendall(b"x")
        assert conn.recv(1) == b"x"
        conn.close()
        client.close()
    finally:
        sock.close()


def test_bind_unix_socket_mode(sock_dir):
    path = os.path.join(sock_dir, "s")
    sock = bind_unix_socket(path, mode=0o660)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    finally:
        sock.close()


def test_bind_unix_socket_replaces_a_stale_socket_file(sock_dir):
    path = os.path.join(sock_dir, "s")
    old = bind_unix_socket(path)
    old.close()  # the file stays behind, as when a server crashes
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    new = bind_unix_socket(path)
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(path)
        client.close()
    finally:
        new.close()


def test_bind_unix_socket_refuses_a_regular_file(sock_dir):
    path = os.path.join(sock_dir, "data")
    with open(path, "w") as f:
        f.write("precious")
    with pytest.raises(ValueError, match=re.escape(f"File {path} exists and is not a socket")):
        bind_unix_socket(path)
    with open(path) as f:
        assert f.read() == "precious"


def test_bind_unix_socket_missing_directory(sock_dir):
    with pytest.raises(FileNotFoundError):
        bind_unix_socket(os.path.join(sock_dir, "missing", "s"))


@pytest.mark.skipif(not os.path.exists("/proc/net/unix"), reason="Linux abstract sockets")
def test_bind_unix_socket_abstract_name(sock_dir):
    name = f"\0squall-test-{uuid.uuid4().hex}"
    sock = bind_unix_socket(name)
    try:
        assert sock.getsockname() == name.encode()
        assert os.listdir(sock_dir) == []
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(name)
        client.close()
    finally:
        sock.close()


# -- add_accept_handler -----------------------------------------------------------


async def connect_clients(port, n):
    loop = asyncio.get_running_loop()
    clients = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        await loop.sock_connect(c, ("127.0.0.1", port))
        clients.append(c)
    return clients


async def wait_until(predicate, what):
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_add_accept_handler_accepts_until_removed(io_loop):
    [listener] = bind_sockets(0, "127.0.0.1")
    port = listener.getsockname()[1]
    accepted = []
    remove = add_accept_handler(listener, lambda conn, addr: accepted.append((conn, addr)))
    clients = await connect_clients(port, 3)
    try:
        await wait_until(lambda: len(accepted) == 3, "three accepted connections")
        client_ports = sorted(c.getsockname()[1] for c in clients)
        assert sorted(addr[1] for _, addr in accepted) == client_ports
        assert all(addr[0] == "127.0.0.1" for _, addr in accepted)
        # Data flows on the accepted sockets.
        clients[0].send(b"hi")
        conn = next(c for c, a in accepted if a[1] == clients[0].getsockname()[1])
        conn.settimeout(5)
        assert conn.recv(2) == b"hi"

        remove()
        [late] = await connect_clients(port, 1)
        clients.append(late)
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        assert len(accepted) == 3
        # The connection waited in the queue: the handler had stopped.
        listener.settimeout(5)
        conn, addr = listener.accept()
        assert addr[1] == late.getsockname()[1]
        conn.close()
    finally:
        for c, _ in accepted:
            c.close()
        close_all(clients)
        listener.close()


async def test_add_accept_handler_remove_from_inside_the_callback(io_loop):
    [listener] = bind_sockets(0, "127.0.0.1")
    port = listener.getsockname()[1]
    # Queue three connections before the handler exists: one readiness
    # event stands for all of them.
    clients = await connect_clients(port, 3)
    accepted = []

    def on_connection(conn, addr):
        accepted.append(conn)
        remove()

    remove = add_accept_handler(listener, on_connection)
    try:
        await wait_until(lambda: accepted, "the first connection")
        await asyncio.sleep(0.05)
        assert len(accepted) == 1
    finally:
        close_all(accepted)
        close_all(clients)
        listener.close()


async def test_add_accept_handler_bounds_each_batch(io_loop, monkeypatch):
    # With a batch size of 2, five queued connections take several readiness
    # events; all of them still get accepted.
    monkeypatch.setattr(netutil, "_DEFAULT_BACKLOG", 2)
    [listener] = bind_sockets(0, "127.0.0.1")
    port = listener.getsockname()[1]
    clients = await connect_clients(port, 5)
    accepted = []
    remove = add_accept_handler(listener, lambda conn, addr: accepted.append(conn))
    try:
        await wait_until(lambda: len(accepted) == 5, "five connections")
    finally:
        remove()
        close_all(accepted)
        close_all(clients)
        listener.close()


class AbortingListener:
    """A listening socket whose first accept() reports ECONNABORTED."""

    def __init__(self, sock):
        self.sock = sock
        self.aborted = False

    def fileno(self):
        return self.sock.fileno()

    def accept(self):
        if not self.aborted:
            self.aborted = True
            raise ConnectionAbortedError(errno.ECONNABORTED, "Software caused connection abort")
        return self.sock.accept()


async def test_add_accept_handler_skips_aborted_connections(io_loop):
    [listener] = bind_sockets(0, "127.0.0.1")
    port = listener.getsockname()[1]
    wrapped = AbortingListener(listener)
    accepted = []
    remove = add_accept_handler(wrapped, lambda conn, addr: accepted.append(conn))
    clients = await connect_clients(port, 1)
    try:
        await wait_until(lambda: accepted, "the connection after the aborted one")
        assert wrapped.aborted
    finally:
        remove()
        close_all(accepted)
        close_all(clients)
        listener.close()


# -- is_valid_ip --------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip, valid",
    [
        ("127.0.0.1", True),
        ("4.4.4.4", True),
        ("0.0.0.0", True),
        ("127.1", True),  # the C parser's short form
        ("::1", True),
        ("::", True),
        ("::ffff:1.2.3.4", True),
        ("2001:db8::1", True),
        ("fe80::1%lo", True),
        ("", False),
        (" ", False),
        ("256.1.1.1", False),
        ("1.2.3.4.5", False),
        ("1.2.3.4 ", False),
        ("1.2.3.4/24", False),
        ("[::1]", False),
        ("::1/128", False),
        ("localhost", False),
        ("www.example.com", False),
        ("127.0.0.1\0", False),
        ("\0", False),
        ("1.2.3.4\u200b", False),
        ("\u0661.\u0662.\u0663.\u0664", False),  # Arabic-Indic digits
        ("a..b", False),
        ("a" * 300, False),
    ],
)
def test_is_valid_ip(ip, valid):
    assert is_valid_ip(ip) is valid


def test_is_valid_ip_none_and_wrong_types():
    assert is_valid_ip(None) is False
    with pytest.raises(TypeError, match="expects a str, not bytes"):
        is_valid_ip(b"1.2.3.4")


def test_is_valid_ip_does_not_resolve(monkeypatch):
    real = socket.getaddrinfo
    seen_flags = []

    def spy(host, port, family=0, type=0, proto=0, flags=0):
        seen_flags.append(flags)
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    assert is_valid_ip("nonexistent.invalid") is False
    assert seen_flags and all(f & socket.AI_NUMERICHOST for f in seen_flags)


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    paths = {
        "ca": str(d / "ca.pem"),
        "cert": str(d / "cert.pem"),
        "key": str(d / "key.pem"),
        "both": str(d / "both.pem"),
        "other_ca": str(d / "other_ca.pem"),
    }
    ca.cert_pem.write_to_path(paths["ca"])
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    cert.private_key_and_cert_chain_pem.write_to_path(paths["both"])
    trustme.CA().cert_pem.write_to_path(paths["other_ca"])
    return paths


async def tls_exchange(server_ctx, client_ctx, server_hostname="localhost"):
    """Handshake over 127.0.0.1; the client sends a line, the server echoes it."""

    async def echo(reader, writer):
        try:
            writer.write(await reader.readline())
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=server_hostname
        )
        try:
            writer.write(b"hello tls\n")
            return await reader.readline()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ssl.SSLError, ConnectionError):
                pass
    finally:
        server.close()
        await server.wait_closed()


def test_ssl_options_context_passes_through():
    ctx = ssl.create_default_context()
    assert ssl_options_to_context(ctx) is ctx
    assert ssl_options_to_context(ctx, server_side=True) is ctx


def test_ssl_options_defaults_per_side():
    server = ssl_options_to_context({}, server_side=True)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    assert server.verify_mode == ssl.CERT_NONE
    client = ssl_options_to_context({}, server_side=False)
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    # Verifying with no CA file given: the system's CAs are loaded (the
    # store may be empty on a bare system, so only check it was consulted
    # by comparing with what an explicit load gives).
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reference.load_default_certs()
    assert len(client.get_ca_certs()) == len(reference.get_ca_certs())
    either = ssl_options_to_context({})
    assert either.protocol == ssl.PROTOCOL_TLS
    assert either.verify_mode == ssl.CERT_NONE and not either.check_hostname
    for ctx in (server, client, either):
        assert ctx.options & ssl.OP_NO_COMPRESSION


def test_ssl_options_bad_input(tls_files):
    with pytest.raises(ValueError, match="unknown ssl_options keys: bogus, foo"):
        ssl_options_to_context({"bogus": 1, "foo": 2, "certfile": tls_files["cert"]})
    with pytest.raises(ValueError, match="keyfile but no certfile"):
        ssl_options_to_context({"keyfile": tls_files["key"]}, server_side=True)
    with pytest.raises(TypeError, match=r"dict or an ssl\.SSLContext, not str"):
        ssl_options_to_context("cert.pem")
    with pytest.raises(TypeError):
        ssl_options_to_context(None)
    with pytest.raises(FileNotFoundError):
        ssl_options_to_context({"certfile": "/nonexistent.pem"}, server_side=True)
    with pytest.raises(FileNotFoundError):
        ssl_options_to_context({"ca_certs": "/nonexistent.pem"}, server_side=False)
    with pytest.raises(ssl.SSLError):
        # The CA certificate is no key for this certificate.
        ssl_options_to_context(
            {"certfile": tls_files["cert"], "keyfile": tls_files["ca"]}, server_side=True
        )
    with pytest.raises(ssl.SSLError):
        ssl_options_to_context({"ciphers": "NO-SUCH-CIPHER"}, server_side=True)


def test_ssl_options_cert_reqs_and_ciphers(tls_files):
    ctx = ssl_options_to_context({"cert_reqs": ssl.CERT_NONE}, server_side=False)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    ctx = ssl_options_to_context(
        {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": tls_files["ca"]}, server_side=True
    )
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert len(ctx.get_ca_certs()) == 1
    ctx = ssl_options_to_context({"ciphers": "ECDHE+AESGCM"}, server_side=True)
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 and all("GCM" in c["name"] and "ECDHE" in c["name"] for c in tls12)
    ctx = ssl_options_to_context({"ssl_version": ssl.PROTOCOL_TLS_CLIENT}, server_side=True)
    assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT


async def test_ssl_contexts_from_dicts_handshake(io_loop, tls_files):
    server_ctx = ssl_options_to_context(
        {"certfile": tls_files["cert"], "keyfile": tls_files["key"]}, server_side=True
    )
    client_ctx = ssl_options_to_context({"ca_certs": tls_files["ca"]}, server_side=False)
    assert await tls_exchange(server_ctx, client_ctx) == b"hello tls\n"
    # A certfile holding key and chain together needs no keyfile.
    server_ctx = ssl_options_to_context({"certfile": tls_files["both"]}, server_side=True)
    assert await tls_exchange(server_ctx, client_ctx) == b"hello tls\n"


async def test_ssl_client_rejects_an_untrusted_server(io_loop, tls_files):
    server_ctx = ssl_options_to_context({"certfile": tls_files["both"]}, server_side=True)
    client_ctx = ssl_options_to_context({"ca_certs": tls_files["other_ca"]}, server_side=False)
    # The stdlib loop in debug mode logs the server side's failed handshake
    # at ERROR; that failure is the point of this test.
    with ExpectLog("asyncio", "Error on transport creation", required=False):
        with pytest.raises(ssl.SSLCertVerificationError):
            await tls_exchange(server_ctx, client_ctx)
        # The name is checked as well as the chain.
        client_ctx = ssl_options_to_context({"ca_certs": tls_files["ca"]}, server_side=False)
        with pytest.raises(ssl.SSLCertVerificationError):
            await tls_exchange(server_ctx, client_ctx, server_hostname="example.com")
        await asyncio.sleep(0.05)  # let the server side log inside the block


def test_ssl_wrap_socket_sides(tls_files):
    sock = socket.socket()
    wrapped = ssl_wrap_socket(
        sock, {}, server_hostname="example.com", do_handshake_on_connect=False
    )
    try:
        assert wrapped.server_side is False
        assert wrapped.server_hostname == "example.com"
        assert wrapped.do_handshake_on_connect is False
    finally:
        wrapped.close()
        sock.close()
    sock = socket.socket()
    wrapped = ssl_wrap_socket(sock, {"certfile": tls_files["both"]}, server_side=True)
    try:
        assert wrapped.server_side is True
        assert wrapped.context.protocol == ssl.PROTOCOL_TLS_SERVER
    finally:
        wrapped.close()
        sock.close()


def test_ssl_wrap_socket_blocking_handshake(tls_files):
    [listener] = bind_sockets(0, "127.0.0.1")
    client = socket.create_connection(listener.getsockname(), timeout=5)
    listener.settimeout(5)
    conn, _ = listener.accept()
    conn.settimeout(5)
    server_tls = client_tls = None
    try:
        server_ctx = {"certfile": tls_files["cert"], "keyfile": tls_files["key"]}
        result = {}

        def serve():
            try:
                s = ssl_wrap_socket(conn, server_ctx, server_side=True)
                result["server"] = s
                result["line"] = s.recv(5)
            except Exception as e:  # pragma: no cover - reported below
                result["error"] = e

        t = threading.Thread(target=serve)
        t.start()
        client_tls = ssl_wrap_socket(
            client, {"ca_certs": tls_files["ca"]}, server_hostname="localhost", server_side=False
        )
        client_tls.sendall(b"hello")
        t.join(5)
        server_tls = result.get("server")
        assert "error" not in result
        assert result["line"] == b"hello"
        assert client_tls.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        for s in (server_tls, client_tls, conn, client, listener):
            if s is not None:
                s.close()


# -- resolvers ---------------------------------------------------------------------------


@pytest.fixture(
    params=[
        DefaultLoopResolver,
        DefaultExecutorResolver,
        BlockingResolver,
        ThreadedResolver,
        ExecutorResolver,
        "executor",
    ]
)
def resolver(request, io_loop):
    if request.param == "executor":
        r = ExecutorResolver(executor=concurrent.futures.ThreadPoolExecutor(2))
    else:
        r = request.param()
    yield r
    r.close()


async def test_resolver_localhost(resolver):
    result = await resolver.resolve("localhost", 80)
    assert (socket.AF_INET, ("127.0.0.1", 80)) in result
    assert all(len(pair) == 2 for pair in result)


async def test_resolver_literals_and_family(resolver):
    assert await resolver.resolve("127.0.0.1", 8080, socket.AF_INET) == [
        (socket.AF_INET, ("127.0.0.1", 8080))
    ]
    result = await resolver.resolve("::1", 443)
    assert result == [(socket.AF_INET6, ("::1", 443, 0, 0))]
    with pytest.raises(socket.gaierror):
        await resolver.resolve("127.0.0.1", 80, socket.AF_INET6)


async def test_resolver_unresolvable_name(resolver):
    with pytest.raises(OSError) as info:
        await resolver.resolve("nonexistent.invalid", 80)
    assert isinstance(info.value, socket.gaierror)


async def test_executor_resolvers_drop_duplicate_results(io_loop, monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **kw: real(*a, **kw) * 2)
    r = BlockingResolver()
    try:
        assert await r.resolve("127.0.0.1", 80) == [(socket.AF_INET, ("127.0.0.1", 80))]
    finally:
        r.close()


def test_resolver_default_is_the_loop_resolver():
    r = Resolver()
    try:
        assert type(r) is DefaultLoopResolver
    finally:
        r.close()


def test_resolver_configure():
    saved = Resolver._save_configuration()
    try:
        Resolver.configure("squall.netutil.ThreadedResolver", num_threads=3)
        r = Resolver()
        assert type(r) is ThreadedResolver
        r.close()
        with pytest.raises(ValueError):
            Resolver.configure(dict)
    finally:
        Resolver._restore_configuration(saved)


def test_resolver_base_resolve_is_abstract():
    class Incomplete(Resolver):
        pass

    with pytest.raises(NotImplementedError):
        Incomplete().resolve("localhost", 80)


async def test_executor_resolver_close(io_loop):
    pool = concurrent.futures.ThreadPoolExecutor(1)
    kept = ExecutorResolver(executor=pool, close_executor=False)
    kept.close()
    assert pool.submit(lambda: 42).result(timeout=5) == 42  # still usable
    owned = ExecutorResolver(executor=pool)
    owned.close()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: 1)  # shut down
    with pytest.raises(RuntimeError, match=r"ExecutorResolver.resolve\(\) called after close"):
        owned.resolve("localhost", 80)


async def test_blocking_resolver_runs_on_the_loop_thread(io_loop):
    r = BlockingResolver()
    try:
        future = r.resolve("127.0.0.1", 1)
        assert isinstance(future, asyncio.Future)
        assert await future == [(socket.AF_INET, ("127.0.0.1", 1))]
    finally:
        r.close()


def test_threaded_resolver_shares_one_pool(io_loop):
    a = ThreadedResolver()
    b = ThreadedResolver(num_threads=2)
    try:
        assert a.executor is b.executor
        assert isinstance(a.executor, concurrent.futures.ThreadPoolExecutor)
    finally:
        a.close()
        b.close()
    # close() leaves the shared pool running for other instances.
    c = ThreadedResolver()
    try:
        assert io_loop.run_sync(lambda: c.resolve("127.0.0.1", 2)) == [
            (socket.AF_INET, ("127.0.0.1", 2))
        ]
    finally:
        c.close()


def test_threaded_resolver_new_pool_after_fork(monkeypatch):
    first = ThreadedResolver._shared_pool(1)
    monkeypatch.setattr(ThreadedResolver, "_threadpool_pid", -1)  # as seen from a child
    second = ThreadedResolver._shared_pool(1)
    assert second is not first
    assert ThreadedResolver._threadpool_pid == os.getpid()


class RecordingResolver(Resolver):
    def initialize(self, inner):
        self.inner = inner
        self.calls = []
        self.closed = False

    def resolve(self, host, port, family=socket.AF_UNSPEC):
        self.calls.append((host, port, family))
        return self.inner.resolve(host, port, family)

    def close(self):
        self.closed = True


async def test_override_resolver(io_loop):
    inner = RecordingResolver(DefaultLoopResolver())
    r = OverrideResolver(
        resolver=inner,
        mapping={
            "google.com": "127.0.0.1",
            ("login.example.com", 443): ("localhost", 1443),
            ("login.example.com", 443, socket.AF_INET6): ("::1", 2443),
        },
    )
    assert await r.resolve("google.com", 80) == [(socket.AF_INET, ("127.0.0.1", 80))]
    assert (socket.AF_INET, ("127.0.0.1", 1443)) in await r.resolve("login.example.com", 443)
    assert await r.resolve("login.example.com", 443, socket.AF_INET6) == [
        (socket.AF_INET6, ("::1", 2443, 0, 0))
    ]
    assert inner.calls == [
        ("127.0.0.1", 80, socket.AF_UNSPEC),
        ("localhost", 1443, socket.AF_UNSPEC),
        ("::1", 2443, socket.AF_INET6),
    ]
    # Not in the mapping: the inner resolver gets the name unchanged.
    with pytest.raises(socket.gaierror):
        await r.resolve("login.example.com.invalid", 444)
    assert inner.calls[-1] == ("login.example.com.invalid", 444, socket.AF_UNSPEC)
    r.close()
    assert inner.closed
