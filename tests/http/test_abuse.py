"""Misbehaving clients (issue 15): each defect found by trying squall's
server against abusive peers, as a regression test.

Memory is read from a server running in its own process (its RSS, from
/proc), with generous bounds: the defects grew it by hundreds of MiB.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from httptest_helpers import raw_exchange, split_responses

from squall import _http1_dispatch, http1connection, iostream, web, websocket
from squall._http1 import _limits
from squall.httpclient import HTTPRequest
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.testing import ExpectLog

MiB = 1024 * 1024
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HERE = Path(__file__).parent


# -- a server in its own process -------------------------------------------------


class ServerProcess:
    def __init__(self) -> None:
        env = dict(os.environ)
        root = str(HERE.parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "abuse_server.py")],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def memory(self, field: str = "VmRSS") -> int:
        """The server's resident memory (or its peak, VmHWM) in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} for the server")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the server's memory")
    server = ServerProcess()
    try:
        yield server
    finally:
        server.stop()


def warm_up(port: int) -> None:
    """A few requests, so the server's first-use allocations are done."""
    for _ in range(3):
        raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = b"1\r\nx\r\n" * 1000 + b"0\r\n\r\n"
        raw_exchange(
            port,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + body,
        )


# -- 3: pipelined requests sent, responses never read -------------------------------


def send_unread(port: int, data: bytes, stall: float = 2.0) -> int:
    """Send ``data`` without reading a byte back; stop once the server has
    taken nothing for ``stall`` seconds. Returns the bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setblocking(False)
        view = memoryview(data)
        while sent < len(data):
            _, writable, _ = select.select([], [s], [], stall)
            if not writable:
                break
            try:
                sent += s.send(view[sent : sent + 65536])
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
    return sent


def test_pipelining_client_that_never_reads_stays_bounded(server_process):
    warm_up(server_process.port)
    before = server_process.memory()
    requests = GET * (16 * MiB // len(GET))
    sent = send_unread(server_process.port, requests)
    growth = server_process.memory("VmHWM") - before
    # Unbounded, the server answered everything it read: +200 MiB and more.
    assert growth < 40 * MiB, f"server grew by {growth / MiB:.0f} MiB"
    # ... because it stopped reading: most of the 16 MiB was never taken.
    assert sent < 8 * MiB


# -- 4: a chunked body in 1-byte chunks ----------------------------------------------


def test_one_byte_chunks_cost_about_the_body(server_process):
    warm_up(server_process.port)
    before = server_process.memory("VmHWM")
    payload = 4 * MiB
    body = b"1\r\nx\r\n" * payload + b"0\r\n\r\n"
    response = raw_exchange(
        server_process.port,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + body,
        timeout=60,
    )
    (answer,) = split_responses(response)
    assert answer.status == 200 and answer.body == str(payload).encode()
    growth = server_process.memory("VmHWM") - before
    # Each byte was its own event before: +350 MiB for a 4 MiB body.
    assert growth < 6 * payload, f"server peak grew by {growth / MiB:.0f} MiB"


async def test_one_byte_chunks_reach_a_streaming_delegate_merged(serve, blocking):
    chunks: list[bytes] = []

    class Collect(HTTPMessageDelegate):
        def __init__(self, connection):
            self.connection = connection

        def data_received(self, chunk):
            chunks.append(chunk)

        def finish(self):
            body = str(sum(map(len, chunks))).encode()
            self.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"Content-Length": str(len(body))}),
                body,
            )
            self.connection.finish()

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            return Collect(request_conn)

    port = serve(Server())
    body = b"1\r\nx\r\n" * 100_000 + b"0\r\n\r\n"
    head = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    (response,) = split_responses(await blocking(raw_exchange, port, head + body))
    assert response.body == b"100000"
    # One call per packet or so, not one per byte.
    assert len(chunks) < 1000


# -- 5: the client resets while the handler awaits flush() ---------------------------


class StreamsAndStops(web.RequestHandler):
    done: asyncio.Event

    async def get(self):
        # The documented pattern: a streaming handler stops when its client goes.
        self.set_header("Content-Length", str(64 * MiB))
        chunk = b"x" * 65536
        try:
            for _ in range(1024):
                self.write(chunk)
                await self.flush()
        except iostream.StreamClosedError:
            StreamsAndStops.done.set()
            return


async def test_client_reset_during_flush_is_quiet(serve, blocking, caplog):
    StreamsAndStops.done = asyncio.Event()
    port = serve(web.Application([("/", StreamsAndStops)]))

    def client():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(GET)
        s.recv(65536)
        # SO_LINGER 0: close() sends a RST, as a killed download does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    with caplog.at_level(logging.DEBUG):
        await blocking(client)
        await asyncio.wait_for(StreamsAndStops.done.wait(), 10)
        await asyncio.sleep(0.1)  # whatever the handler's return sets off
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not loud, [r.getMessage() for r in loud]
    assert not [r for r in caplog.records if r.exc_info]


# -- 6: request, then half-close --------------------------------------------------------


class StreamMiB(web.RequestHandler):
    async def get(self):
        await asyncio.sleep(0.01)  # an async handler: EOF arrives first
        for _ in range(16):
            self.write(b"y" * 65536)
            await self.flush()


async def test_half_closed_client_gets_whole_streamed_response(serve, blocking):
    port = serve(web.Application([("/", StreamMiB)]))
    data = await blocking(raw_exchange, port, GET, 10.0, True)
    (response,) = split_responses(data)
    assert response.status == 200
    assert len(response.body) == MiB


async def test_half_closed_client_gets_pipelined_answers(serve, blocking):
    port = serve(web.Application([("/", StreamMiB)]))
    data = await blocking(raw_exchange, port, GET * 3, 10.0, True)
    responses = split_responses(data)
    assert [len(r.body) for r in responses] == [MiB] * 3


# -- 7: a connection that sends nothing ---------------------------------------------------


async def test_silent_connection_closed_after_header_timeout(serve, blocking):
    port = serve(header_timeout=0.3)  # idle_connection_timeout stays 3600 s

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            return s.recv(100)

    # Closed without an answer: nothing was asked.
    assert await blocking(client) == b""


def test_header_timeout_default_is_nginx_client_header_timeout():
    assert http1connection.DEFAULT_HEADER_TIMEOUT == 60.0
    assert http1connection.HTTP1ConnectionParameters().header_timeout == 60.0


# -- 8: a body trickled forever -------------------------------------------------------------


async def test_trickled_body_times_out_by_default(serve, blocking, monkeypatch):
    # Apache mod_reqtimeout's defaults, scaled down: a grace period, then
    # a minimum rate that a byte every few seconds never reaches.
    monkeypatch.setattr(_limits, "BODY_RATE_GRACE", 0.3)
    monkeypatch.setattr(_limits, "BODY_MIN_RATE", 500)
    port = serve()

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
            chunks = []
            for _ in range(200):
                try:
                    s.sendall(b"c")
                except OSError:
                    break
                readable, _, _ = select.select([s], [], [], 0.05)
                if readable:
                    while chunk := s.recv(4096):
                        chunks.append(chunk)
                    break
            return b"".join(chunks)

    with ExpectLog("squall.general", "Timeout reading body"):
        data = await blocking(client)
    (response,) = split_responses(data)
    assert response.status == 408


async def test_body_at_a_fair_rate_is_accepted(serve, blocking, monkeypatch):
    monkeypatch.setattr(_limits, "BODY_RATE_GRACE", 0.3)
    port = serve()

    def client():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n")
            for _ in range(20):
                s.sendall(b"z" * 1000)
                time.sleep(0.02)
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    (response,) = split_responses(await blocking(client))
    assert response.status == 200 and len(response.json()["body"]) == 20000


# -- 9: the HTTP/2 connection preface ------------------------------------------------------


async def test_http2_preface_gets_505_in_our_words(serve, blocking):
    port = serve()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    with ExpectLog(
        "squall.general", "Malformed HTTP message from .*: HTTP/2 is not supported here"
    ):
        data = await blocking(raw_exchange, port, preface)
    # The status line alone, as Tornado refuses; the reason is in the log.
    assert data == b"HTTP/1.1 505 HTTP Version Not Supported\r\n\r\n"


# -- 10: a delegate's awaitable cancelled -------------------------------------------------------


def test_is_done_on_a_cancelled_future_does_not_raise():
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        future.cancel()
        assert _http1_dispatch._is_done(future) is False
    finally:
        loop.close()


async def test_delegate_returning_a_cancelled_future(serve, blocking, io_loop):
    class Cancelled(HTTPMessageDelegate):
        def __init__(self, connection):
            self.connection = connection

        def headers_received(self, start_line, headers):
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            return future

        def finish(self):
            self.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"Content-Length": "2"}),
                b"ok",
            )
            self.connection.finish()

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            return Cancelled(request_conn)

    port = serve(Server())
    data = await blocking(
        raw_exchange, port, GET + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert [r.status for r in split_responses(data)] == [200, 200]


# -- 1: header injection -----------------------------------------------------------------


def test_headers_refuse_cr_lf_nul_however_set():
    for bad in ("1\r\nEvil: injected", "1\nEvil: x", "a\x00b"):
        with pytest.raises(HTTPInputError):
            HTTPHeaders({"X-A": bad})
        with pytest.raises(HTTPInputError):
            HTTPHeaders()["X-A"] = bad
        with pytest.raises(HTTPInputError):
            HTTPHeaders(X_A=bad)
        with pytest.raises(HTTPInputError):
            HTTPHeaders([("X-A", bad)])
    with pytest.raises(HTTPInputError):
        HTTPHeaders({"X-A\r\nEvil": "1"})


async def test_websocket_connect_sends_nothing_for_an_injected_header(io_loop):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    headers = HTTPHeaders()
    headers._lists["X-A"] = ["1\r\nEvil: injected"]  # past every setter's check
    try:
        with pytest.raises(ValueError, match="X-A"):
            await websocket.websocket_connect(
                HTTPRequest(f"ws://127.0.0.1:{port}/", headers=headers)
            )
        received = b""
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            pass
        else:
            with conn:
                conn.settimeout(1)
                try:
                    received = conn.recv(65536)
                except (TimeoutError, OSError):
                    pass
        assert b"Evil" not in received
        assert received == b""
    finally:
        listener.close()


async def test_server_response_with_cr_lf_in_a_header_is_never_sent(serve, blocking):
    class Bad(HTTPMessageDelegate):
        def __init__(self, connection):
            self.connection = connection

        def finish(self):
            headers = HTTPHeaders({"Content-Length": "2"})
            headers._lists["X-B"] = ["a\r\nInjected: yes"]  # past every setter's check
            self.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, b"ok")

    class Server(HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn):
            return Bad(request_conn)

    port = serve(Server())
    with ExpectLog("squall.application", "Uncaught exception"):
        data = await blocking(raw_exchange, port, GET)
    (response,) = split_responses(data)
    assert response.status == 500 and b"Injected" not in data


async def test_web_handler_refuses_nul_in_a_header(serve, blocking):
    errors = []

    class Nul(web.RequestHandler):
        def get(self):
            try:
                self.set_header("X-B", "a\x00b")
            except ValueError as e:
                errors.append(e)
            self.write("ok")

    port = serve(web.Application([("/", Nul)]))
    request = GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    (response,) = split_responses(await blocking(raw_exchange, port, request))
    assert response.status == 200 and response.header("X-B") is None
    assert len(errors) == 1


# -- 2: one token-based Connection rule --------------------------------------------------------


async def test_http10_no_keep_alive_token_is_not_keep_alive(serve, blocking):
    port = serve()
    request = b"GET / HTTP/1.0\r\nConnection: no-keep-alive\r\n\r\n"
    # The server closes after answering: no timeout waiting for more.
    data = await blocking(raw_exchange, port, request, 5.0)
    assert not data.endswith(b"<<timeout>>")
    (response,) = split_responses(data)
    assert response.status == 200 and response.header("Connection") is None


async def test_http11_close_must_be_a_whole_token(serve, blocking):
    port = serve()
    request = GET.replace(b"\r\n\r\n", b"\r\nConnection: enclosed\r\n\r\n")
    data = await blocking(
        raw_exchange, port, request * 2 + GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    )
    assert [r.status for r in split_responses(data)] == [200, 200, 200]


async def test_http10_keep_alive_among_other_tokens(serve, blocking):
    port = serve()
    request = b"GET / HTTP/1.0\r\nConnection: Upgrade-Insecure, Keep-Alive\r\n\r\n"
    data = await blocking(raw_exchange, port, request * 2 + b"GET / HTTP/1.0\r\n\r\n")
    responses = split_responses(data)
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[0].header("Connection") == "Keep-Alive"
