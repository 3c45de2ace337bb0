"""A failed TLS handshake on the server is logged as Tornado logs it (a
warning starting "SSL Error"); a client that just leaves is not."""

from __future__ import annotations

import http.client
import logging
import socket
import ssl

import pytest
from httptest_helpers import echo_app, raw_exchange

from squall import gen
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog, bind_unused_port

trustme = pytest.importorskip("trustme")


@pytest.fixture
def tls_server(io_loop):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    sock, port = bind_unused_port()
    server = HTTPServer(echo_app, ssl_options=context)
    server.add_sockets([sock])
    yield ca, port
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)


async def test_plain_http_on_the_tls_port_is_logged(tls_server, blocking):
    _, port = tls_server
    with ExpectLog("squall.general", "SSL Error", level=logging.WARNING) as log:
        data = await blocking(raw_exchange, port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert b"200" not in data  # nothing is served over the broken channel
    assert not log.logged_stack
    assert sum(log.counts.values()) == 1


async def test_a_client_that_hangs_up_is_not_logged(tls_server, blocking, caplog):
    _, port = tls_server

    def hang_up(first_bytes):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(first_bytes)

    with caplog.at_level(logging.DEBUG, logger="squall"):
        await blocking(hang_up, b"")
        await blocking(hang_up, b"\x16\x03\x01")  # a handshake cut short
        await gen.sleep(0.1)  # the server sees the close
    assert not [r for r in caplog.records if "SSL" in r.getMessage()]


async def test_handshakes_still_succeed(tls_server, blocking):
    ca, port = tls_server
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    def fetch():
        conn = http.client.HTTPSConnection("localhost", port, context=client_context, timeout=5)
        conn.request("GET", "/")
        status = conn.getresponse().status
        conn.close()
        return status

    assert await blocking(fetch) == 200
