"""HTTPServer over real sockets: features, limits, and every bad input.

Blocking clients (raw sockets, http.client, curl) run on a worker thread
while the server runs on the test's IOLoop.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import shutil
import socket
import subprocess
import time

import httptools
import pytest
from httptest_helpers import echo_app, raw_exchange, split_responses

from squall import gen
from squall.http1connection import HTTP1ServerProtocol
from squall.httpserver import HTTPRequest, HTTPServer
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    ResponseStartLine,
    responses,
)
from squall.testing import ExpectLog, bind_unused_port

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
GET_AND_CLOSE = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"


def ok_app(request):
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "2"}), b"ok"
    )
    request.connection.finish()


# -- the basics ------------------------------------------------------------------


async def test_plain_callable_with_http_client(serve, blocking):
    port = serve(echo_app)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(
            "POST",
            "/path?a=1&b=2",
            body=b"c=3",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        r = conn.getresponse()
        result = (r.status, dict(r.getheaders()), r.read())
        conn.close()
        return result

    status, headers, body = await blocking(client)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Server"].startswith("SquallServer/")
    assert headers["Date"].endswith(" GMT")
    info = __import__("json").loads(body)
    assert info["method"] == "POST"
    assert info["path"] == "/path" and info["query"] == "a=1&b=2"
    assert info["arguments"] == {"a": ["1"], "b": ["2"], "c": ["3"]}
    assert info["remote_ip"] == "127.0.0.1" and info["protocol"] == "http"
    assert info["version"] == "HTTP/1.1"


def test_httprequest_alias():
    assert HTTPRequest is HTTPServerRequest


async def test_keep_alive_reuses_one_connection(serve, blocking):
    port = serve(echo_app)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        ports = set()
        for i in range(5):
            conn.request("GET", f"/{i}")
            r = conn.getresponse()
            r.read()
            ports.add(conn.sock.getsockname()[1])
            assert r.status == 200
        conn.close()
        return ports

    assert len(await blocking(client)) == 1


async def test_http10_keep_alive_and_close(serve, blocking):
    port = serve(ok_app)
    data = await blocking(
        raw_exchange,
        port,
        b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n",
    )
    responses = split_responses(data)
    # The second request did not ask for keep-alive: the server closes after
    # answering it and the third is never answered.
    assert [r.status for r in responses] == [200, 200]
    assert responses[0].header("Connection") == "Keep-Alive"
    assert responses[1].header("Connection") is None


async def test_pipelining_ten_requests_in_one_packet(serve, blocking):
    order = []

    async def slow_first(request):
        order.append(request.path)
        if request.path == "/0":
            await gen.sleep(0.05)  # the first is slowest but must answer first
        body = request.path.encode()
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}),
            body,
        )
        request.connection.finish()

    port = serve(slow_first)
    packet = b"".join(
        b"GET /%d HTTP/1.1\r\nHost: a\r\n%s\r\n" % (i, b"Connection: close\r\n" if i == 9 else b"")
        for i in range(10)
    )
    responses = split_responses(await blocking(raw_exchange, port, packet))
    assert [r.body for r in responses] == [b"/%d" % i for i in range(10)]
    assert order == [f"/{i}" for i in range(10)]


async def test_chunked_request_body_with_extensions_and_trailers(serve, blocking):
    port = serve(echo_app)
    request = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    [response] = split_responses(await blocking(raw_exchange, port, request))
    assert response.status == 200
    assert response.json()["body"] == "hello world"


async def test_chunked_response_when_no_content_length(serve, blocking):
    async def streaming(request):
        conn = request.connection
        await conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        await conn.write(b"part one, ")
        await conn.write(b"part two")
        conn.finish()

    port = serve(streaming)
    data = await blocking(
        raw_exchange, port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert b"Transfer-Encoding: chunked" in data
    [response] = split_responses(data)
    assert response.body == b"part one, part two"
    # An HTTP/1.0 client gets the body delimited by the close instead.
    data = await blocking(raw_exchange, port, b"GET / HTTP/1.0\r\n\r\n")
    assert b"Transfer-Encoding" not in data
    assert data.endswith(b"part one, part two")


async def test_curl_chunked_upload_and_keepalive(serve, blocking):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    port = serve(echo_app)

    def run_curl():
        return subprocess.run(
            [
                "curl",
                "-sS",
                "-H",
                "Transfer-Encoding: chunked",
                "--data-binary",
                "@-",
                f"http://127.0.0.1:{port}/upload",
                f"http://127.0.0.1:{port}/again",
            ],
            input=b"x" * 100_000,
            capture_output=True,
            timeout=20,
            check=True,
        ).stdout

    out = await blocking(run_curl)
    # Two JSON documents back to back, the first with the whole body.
    first, second = out.split(b"}{", 1)
    assert b'"body": "' + b"x" * 100_000 + b'"' in first + b"}"
    assert b"/again" in second


async def test_expect_100_continue(serve, blocking):
    port = serve(echo_app)

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
            )
            interim = s.recv(100)
            s.sendall(b"hello")
            rest = b""
            while chunk := s.recv(65536):
                rest += chunk
            return interim, rest

    interim, rest = await blocking(client)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    [response] = split_responses(rest)
    assert response.json()["body"] == "hello"


async def test_no_100_continue_for_http10(serve, blocking):
    port = serve(echo_app)
    data = await blocking(
        raw_exchange,
        port,
        b"POST / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
    )
    assert b"100 Continue" not in data
    assert split_responses(data)[0].json()["body"] == "hi"


async def test_unknown_expectation_is_ignored(serve, blocking):
    port = serve(echo_app)
    data = await blocking(
        raw_exchange,
        port,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: teapot\r\n"
        b"Connection: close\r\n\r\nhi",
    )
    [response] = split_responses(data)
    assert response.status == 200 and response.json()["body"] == "hi"


async def test_head_response_has_no_body(serve, blocking):
    def app(request):
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "5"}), b"hello"
        )
        request.connection.finish()

    port = serve(app)
    data = await blocking(
        raw_exchange,
        port,
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in head
    assert rest.startswith(b"HTTP/1.1 200 OK")  # no body bytes after the HEAD answer
    assert rest.endswith(b"hello")


async def test_request_body_decompression(serve, blocking):
    port = serve(echo_app, decompress_request=True)
    compressed = gzip.compress(b"a=1&b=squall")
    data = await blocking(
        raw_exchange,
        port,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(compressed), compressed),
    )
    info = split_responses(data)[0].json()
    assert info["arguments"] == {"a": ["1"], "b": ["squall"]}
    assert ["X-Consumed-Content-Encoding", "gzip"] in info["headers"]


async def test_gzip_bomb_is_refused(serve, blocking):
    port = serve(echo_app, decompress_request=True, max_body_size=10_000)
    bomb = gzip.compress(b"\0" * 1_000_000)
    with ExpectLog("squall.general", "Malformed HTTP message"):
        data = await blocking(
            raw_exchange,
            port,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(bomb), bomb),
        )
    assert data.startswith(b"HTTP/1.1 413 ")


async def test_xheaders(serve, blocking):
    port = serve(echo_app, xheaders=True, trusted_downstream=["10.0.0.1"])

    async def get(headers: bytes):
        data = await blocking(
            raw_exchange,
            port,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n%b\r\n" % headers,
        )
        return split_responses(data)[0].json()

    info = await get(b"X-Real-IP: 4.4.4.4\r\nX-Scheme: https\r\n")
    assert (info["remote_ip"], info["protocol"]) == ("4.4.4.4", "https")
    info = await get(b"X-Forwarded-For: 1.2.3.4, 5.6.7.8, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n")
    assert (info["remote_ip"], info["protocol"]) == ("5.6.7.8", "https")
    info = await get(b"X-Real-IP: not-an-ip\r\nX-Scheme: gopher\r\n")
    assert (info["remote_ip"], info["protocol"]) == ("127.0.0.1", "http")


async def test_xheaders_do_not_leak_to_next_request(serve, blocking):
    port = serve(echo_app, xheaders=True)
    data = await blocking(
        raw_exchange,
        port,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Real-IP: 4.4.4.4\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    first, second = split_responses(data)
    assert first.json()["remote_ip"] == "4.4.4.4"
    assert second.json()["remote_ip"] == "127.0.0.1"


async def test_delegate_interface(serve, blocking):
    seen = []

    class Message(HTTPMessageDelegate):
        def __init__(self, conn):
            self.conn = conn

        def headers_received(self, start_line, headers):
            seen.append(("headers", start_line.method, start_line.path))

        def data_received(self, chunk):
            seen.append(("data", chunk))

        def finish(self):
            seen.append(("finish",))
            self.conn.write_headers(
                ResponseStartLine("HTTP/1.1", 201, "Created"), HTTPHeaders({"Content-Length": "0"})
            )
            self.conn.finish()

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            assert isinstance(server_conn, HTTP1ServerProtocol)
            return Message(request_conn)

        def on_close(self, server_conn):
            seen.append(("closed",))

    port = serve(Server())
    data = await blocking(
        raw_exchange,
        port,
        b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    assert data.startswith(b"HTTP/1.1 201 Created")
    await gen.sleep(0.01)
    assert seen == [("headers", "PUT", "/x"), ("data", b"abc"), ("finish",), ("closed",)]


async def test_streaming_delegate_flow_control(serve, blocking):
    received = []

    class Slow(HTTPMessageDelegate):
        def __init__(self, conn):
            self.conn = conn

        def headers_received(self, start_line, headers):
            pass

        async def data_received(self, chunk):
            received.append(len(chunk))
            await gen.sleep(0.001)

        def finish(self):
            body = str(sum(received)).encode()
            self.conn.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"Content-Length": str(len(body))}),
                body,
            )
            self.conn.finish()

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            return Slow(request_conn)

    port = serve(Server())
    size = 4 * 1024 * 1024
    data = await blocking(
        raw_exchange,
        port,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size
        + b"z" * size,
        20,
    )
    assert split_responses(data)[0].body == str(size).encode()


async def test_unix_socket(io_loop, tmp_path, blocking):
    from squall.netutil import bind_unix_socket

    path = str(tmp_path / "http.sock")
    server = HTTPServer(echo_app)
    server.add_socket(bind_unix_socket(path))

    def client():
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b"GET /unix HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out

    info = split_responses(await blocking(client))[0].json()
    assert info["path"] == "/unix" and info["remote_ip"] == "0.0.0.0"
    server.stop()
    await server.close_all_connections()


async def test_tls(io_loop, blocking):
    trustme = pytest.importorskip("trustme")
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    sock, port = bind_unused_port()
    server = HTTPServer(echo_app, ssl_options=server_ctx)
    server.add_sockets([sock])
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    def client():
        conn = http.client.HTTPSConnection("localhost", port, context=client_ctx, timeout=5)
        conn.request("GET", "/secure")
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, body

    status, body = await blocking(client)
    assert status == 200
    info = __import__("json").loads(body)
    assert info["protocol"] == "https" and info["path"] == "/secure"
    server.stop()
    await server.close_all_connections()


async def test_listen_bind_start_and_stop(io_loop, blocking):
    server = HTTPServer(ok_app)
    sock, port = bind_unused_port()
    sock.close()
    server.bind(port, address="127.0.0.1")
    server.start(1)
    data = await blocking(raw_exchange, port, b"GET / HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    server.stop()
    await gen.sleep(0.01)
    with pytest.raises(OSError):
        await blocking(raw_exchange, port, b"GET / HTTP/1.0\r\n\r\n")
    await server.close_all_connections()
    server2 = HTTPServer(ok_app)
    server2.listen(0 or port, address="127.0.0.1")
    data = await blocking(raw_exchange, port, b"GET / HTTP/1.0\r\n\r\n")
    assert b"200 OK" in data
    server2.stop()


async def test_close_all_connections_closes_idle_keepalive(serve, blocking, io_loop):
    sock, port = bind_unused_port()
    server = HTTPServer(ok_app)
    server.add_sockets([sock])

    def open_idle():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(GET)
        s.recv(1000)
        return s

    client = await blocking(open_idle)
    server.stop()
    await asyncio.wait_for(server.close_all_connections(), 5)
    assert await blocking(client.recv, 100) == b""  # the server closed it
    client.close()


async def test_handler_exception_gives_500(serve, blocking):
    def broken(request):
        raise RuntimeError("handler bug")

    port = serve(broken)
    with ExpectLog("squall.application", "Uncaught exception"):
        data = await blocking(raw_exchange, port, GET)
    assert data.startswith(b"HTTP/1.1 500 ")


async def test_write_errors(serve, blocking):
    errors = []

    def app(request):
        conn = request.connection
        try:
            conn.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"X-Bad": "a\r\nInjected: yes"}),
            )
        except HTTPInputError:
            errors.append("HTTPInputError")
        conn.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "3"})
        )
        try:
            conn.write(b"toolong")
        except Exception as e:
            errors.append(type(e).__name__)

    port = serve(app)
    data = await blocking(raw_exchange, port, GET)
    # The CR LF is refused as the headers are built (issue 15), before any
    # head is formatted.
    assert errors == ["HTTPInputError", "HTTPOutputError"]
    assert b"Injected" not in data


async def test_legacy_raw_response_then_keep_alive(serve, blocking):
    """Tornado's oldest callback interface: bytes written before any
    write_headers are the whole response, head included; the connection
    then serves the next request."""

    def app(request):
        body = request.path.encode()
        request.connection.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        request.connection.write(body)
        request.connection.finish()

    port = serve(app)
    packet = b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    data = await blocking(raw_exchange, port, packet)
    assert [(r.status, r.body) for r in split_responses(data)] == [(200, b"/one"), (200, b"/two")]


@pytest.mark.parametrize("value", ["foo", "+5", "1_0", "\u0665", "", " 5"])
async def test_content_length_written_must_be_digits(serve, blocking, value):
    errors = []

    def app(request):
        try:
            request.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": value})
            )
        except HTTPOutputError as e:
            errors.append(str(e))
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 204, "No Content"), HTTPHeaders()
        )
        request.connection.finish()

    port = serve(app)
    data = await blocking(raw_exchange, port, GET_AND_CLOSE)
    assert errors == [f"Only integer Content-Length is allowed: {value}"]
    assert data.startswith(b"HTTP/1.1 204 ")


@pytest.mark.gen_test(timeout=60)
async def test_two_thousand_idle_keepalive_connections(io_loop, blocking):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    server = HTTPServer(ok_app)
    sock, port = bind_unused_port()
    sock.close()
    # A burst of 2000 connects needs a backlog to match (nginx uses 511).
    server.listen(port, address="127.0.0.1", backlog=2048)

    def open_many():
        socks = []
        try:
            for _ in range(2000):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                socks.append(s)
            for s in socks:
                s.sendall(GET)
            answered = 0
            for s in socks:
                if s.recv(1000).startswith(b"HTTP/1.1 200"):
                    answered += 1
            return answered
        finally:
            for s in socks:
                s.close()

    try:
        assert await blocking(open_many) == 2000
    finally:
        server.stop()
        await server.close_all_connections()


# -- bad input: every case answers with its exact status line and closes -------------

BAD_REQUESTS = [
    ("invalid method", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("method with NUL", b"GE\x00T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("control char in target", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("double space before version", b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("http/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("http/0.9", b"GET /\r\n\r\n", 400),
    ("GET *", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("bad header name", b"GET / HTTP/1.1\r\nHost: a\r\nBa(d: x\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("control char in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    ("missing host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("bad host", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    ("host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("CL +1", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400),
    ("CL 1_0", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\nx", 400),
    ("CL 0x1", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\nx", 400),
    ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\nx", 400),
    ("CL nbsp", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\xa0\r\n\r\nx", 400),
    (
        "two unequal CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        400,
    ),
    ("TE gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (
        "TE gzip, chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "TE chunked, gzip",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    (
        "TE twice",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "TE with CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk 0x2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nxx\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk +2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nxx\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk 1_a",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1_a\r\nxx\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk size space",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nxx\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk without CRLF",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxxy0\r\n\r\n",
        400,
    ),
    ("request line over 8 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (
        "header block over 64 KiB",
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"b" * 70000 + b"\r\n\r\n",
        431,
    ),
    (
        "over 100 header lines",
        b"GET / HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(101))
        + b"\r\n",
        431,
    ),
    (
        "body over max_body_size",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n" + b"x" * 20000,
        413,
    ),
    (
        "chunked body over max",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4e20\r\n"
        + b"x" * 20000
        + b"\r\n0\r\n\r\n",
        413,
    ),
    (
        "too many query arguments",
        b"GET /?" + b"&".join(b"a%d=1" % i for i in range(1001)) + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        400,
    ),
    (
        "too many form arguments",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
        % len(b"&".join(b"a%d=1" % i for i in range(1001)))
        + b"&".join(b"a%d=1" % i for i in range(1001)),
        400,
    ),
]


@pytest.mark.parametrize(
    ("name", "request_bytes", "status"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_request(serve, blocking, name, request_bytes, status):
    port = serve(echo_app, max_body_size=10_000)
    # Tornado's two log lines for these: a head over the limit is an
    # "Unsatisfiable read" there.
    pattern = "(Malformed HTTP message|Unsatisfiable read)"
    with ExpectLog("squall.general", pattern) as log:
        data = await blocking(raw_exchange, port, request_bytes)
    # The status line alone, then the connection closes, as Tornado
    # answers; the reason is in the log line.
    assert data == b"HTTP/1.1 %d %s\r\n\r\n" % (status, responses[status].encode())
    assert log.logged_stack is False
    assert sum(log.counts.values()) == 1  # exactly one log line


async def test_malformed_after_good_pipelined_requests(serve, blocking):
    port = serve(ok_app)
    packet = (
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"G@T /3 HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    with ExpectLog("squall.general", "Malformed HTTP message"):
        data = await blocking(raw_exchange, port, packet)
    assert [r.status for r in split_responses(data)] == [200, 200, 400]


async def test_data_after_connection_close_is_dropped(serve, blocking):
    port = serve(ok_app)
    data = await blocking(
        raw_exchange,
        port,
        b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    assert [r.status for r in split_responses(data)] == [200]


async def test_early_response_with_unread_body_closes(serve, blocking):
    """A body that is itself an HTTP request never yields a second response."""

    class Early(HTTPMessageDelegate):
        def __init__(self, conn):
            self.conn = conn

        def headers_received(self, start_line, headers):
            self.conn.write_headers(
                ResponseStartLine("HTTP/1.1", 404, "Not Found"),
                HTTPHeaders({"Content-Length": "0"}),
            )
            self.conn.finish()

        def data_received(self, chunk):
            pass

        def finish(self):
            pass

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            return Early(request_conn)

    port = serve(Server())
    smuggled = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
    data = await blocking(
        raw_exchange,
        port,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%b" % (len(smuggled), smuggled),
    )
    assert [r.status for r in split_responses(data)] == [404]


async def test_upgrade_h2c_not_taken_keeps_serving_http11(serve, blocking):
    port = serve(echo_app)
    data = await blocking(
        raw_exchange,
        port,
        b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    responses = split_responses(data)
    assert [r.json()["path"] for r in responses] == ["/1", "/2"]
    assert all(r.status == 200 for r in responses)


async def test_upgrade_with_body_not_taken_closes(serve, blocking):
    port = serve(echo_app)
    data = await blocking(
        raw_exchange,
        port,
        b"POST /1 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\n"
        b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    assert len(split_responses(data)) == 1


async def test_slowloris_is_closed_at_header_timeout(serve, blocking):
    port = serve(ok_app, header_timeout=0.2)

    def slowloris():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
            start = time.monotonic()
            out = b""
            try:
                for _ in range(20):
                    s.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.05)
            except OSError:
                pass
            try:
                while chunk := s.recv(1000):
                    out += chunk
            except OSError:
                pass
            return out, time.monotonic() - start

    with ExpectLog("squall.general", "Timeout reading request headers"):
        out, elapsed = await blocking(slowloris)
    assert out.startswith(b"HTTP/1.1 408 ")
    assert elapsed < 3


async def test_slow_body_is_closed_at_body_timeout(serve, blocking):
    port = serve(ok_app, body_timeout=0.2)
    with ExpectLog("squall.general", "Timeout reading body"):
        data = await blocking(
            raw_exchange, port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial"
        )
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_idle_connection_timeout(serve, blocking):
    port = serve(ok_app, idle_connection_timeout=0.1)

    def idle():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(GET)
            first = s.recv(1000)
            return first, s.recv(1000)  # then the server closes the idle connection

    first, after = await blocking(idle)
    assert first.startswith(b"HTTP/1.1 200")
    assert after == b""


async def test_client_that_never_reads_costs_bounded_memory(serve, blocking, io_loop):
    big = b"y" * (1024 * 1024)
    writes = []

    async def app(request):
        conn = request.connection
        await conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        for _ in range(64):  # 64 MiB if nothing pushed back
            await conn.write(big)
            writes.append(1)
        conn.finish()

    port = serve(app)

    def lazy_client():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(GET)
        time.sleep(0.5)
        return s

    s = await blocking(lazy_client)
    # The app is held back by flow control: it could not write everything.
    assert len(writes) < 16
    s.close()


def test_no_lenient_httptools_flag_is_enabled():
    from pathlib import Path

    import squall

    package = Path(squall.__file__).parent
    files = [
        *package.glob("_http1*.py"),
        *package.glob("_http1/*.py"),
        package / "http1connection.py",
    ]
    source = "".join(path.read_text() for path in files)
    assert "httptools" in source
    assert "set_dangerous_leniencies" not in source
    parser = httptools.HttpRequestParser(object())
    with pytest.raises(httptools.HttpParserError):
        parser.feed_data(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n")


def _multipart(parts: list[bytes], boundary: bytes = b"xyz") -> bytes:
    body = (
        b"".join(b"--%b\r\n%b\r\n" % (boundary, part) for part in parts) + b"--%b--\r\n" % boundary
    )
    return (
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=%b\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (boundary, len(body), body)
    )


FIELD = b'Content-Disposition: form-data; name="f"\r\n\r\nvalue'
UPLOAD = b'Content-Disposition: form-data; name="up"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body'


async def test_multipart_upload_reaches_the_app(serve, blocking):
    port = serve(echo_app)
    data = await blocking(raw_exchange, port, _multipart([FIELD, UPLOAD]))
    info = split_responses(data)[0].json()
    assert info["arguments"] == {"f": ["value"]}
    assert info["files"] == {"up": ["a.txt"]}


@pytest.mark.parametrize(
    ("name", "request_bytes"),
    [
        ("more than 100 parts", _multipart([FIELD] * 101)),
        ("part headers over 10 KiB", _multipart([b"X-Pad: " + b"p" * 11000 + b"\r\n" + FIELD])),
        (
            "bare CR in part headers",
            _multipart([b'Content-Disposition: form-data; name="f"\rX: y\r\n\r\nv']),
        ),
        ("part without disposition", _multipart([b"Content-Type: text/plain\r\n\r\nv"])),
    ],
)
async def test_bad_multipart_is_400_with_one_log_line(serve, blocking, name, request_bytes):
    port = serve(echo_app)
    with ExpectLog("squall.general", "Malformed HTTP message") as log:
        data = await blocking(raw_exchange, port, request_bytes)
    assert data.startswith(b"HTTP/1.1 400 "), data[:100]
    assert sum(log.counts.values()) == 1
    assert not log.logged_stack


async def test_declared_oversized_body_is_refused_before_upload(serve, blocking):
    port = serve(echo_app, max_body_size=1000)

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            # Only the headers: the 100 MB body is never sent.
            s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n")
            return s.recv(1000)

    with ExpectLog("squall.general", "Malformed HTTP message"):
        data = await blocking(client)
    assert data.startswith(b"HTTP/1.1 413 ")
