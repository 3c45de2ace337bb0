"""A client's TLS certificate reaches the handler (``request.get_ssl_certificate``),
and ``close_all_connections`` does not wait on a TLS client that never
answers close_notify."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, ResponseStartLine
from squall.testing import bind_unused_port

trustme = pytest.importorskip("trustme")


def _peer_cert_app(request):
    cert = request.get_ssl_certificate()
    der = request.get_ssl_certificate(binary_form=True)
    names = [value for kind, value in cert.get("subjectAltName", ())] if cert else []
    body = f"{names[0] if names else 'none'} {len(der) if der else 0}".encode()
    headers = HTTPHeaders({"Content-Length": str(len(body))})
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
    request.connection.finish()


@pytest.fixture
def mutual_tls(io_loop):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_OPTIONAL
    sock, port = bind_unused_port()
    server = HTTPServer(_peer_cert_app, ssl_options=server_context)
    server.add_sockets([sock])
    yield ca, server, port
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)


def _get(port: int, context: ssl.SSLContext, keep_open: list[ssl.SSLSocket] | None = None) -> bytes:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        data += tls.recv(4096)
    if keep_open is None:
        tls.close()
    else:
        keep_open.append(tls)
    return data.split(b"\r\n\r\n", 1)[1]


async def test_client_certificate_reaches_the_request(mutual_tls, blocking):
    ca, _, port = mutual_tls
    with_cert = ssl.create_default_context()
    ca.configure_trust(with_cert)
    ca.issue_cert("client.example").configure_cert(with_cert)
    name, der_length = (await blocking(_get, port, with_cert)).split()
    assert name == b"client.example" and int(der_length) > 100

    without_cert = ssl.create_default_context()
    ca.configure_trust(without_cert)
    assert await blocking(_get, port, without_cert) == b"none 0"


async def test_close_all_connections_does_not_wait_for_close_notify(mutual_tls, blocking):
    ca, server, port = mutual_tls
    context = ssl.create_default_context()
    ca.configure_trust(context)
    held: list[ssl.SSLSocket] = []
    await blocking(_get, port, context, held)  # kept alive, then silent
    try:
        # A graceful TLS close would wait for the silent client (asyncio's
        # shutdown timeout is 30 s); this one must not.
        await asyncio.wait_for(server.close_all_connections(), 5)
        assert held[0].recv(10) == b""  # the server's side is gone
    finally:
        held[0].close()
