"""Handlers and the connection under them: a client leaving mid-request,
taking the connection over with detach(), and the WSGI-style fallback."""

from __future__ import annotations

import asyncio
import socket

from squall import gen
from squall.httputil import HTTPHeaders, ResponseStartLine
from squall.web import Application, FallbackHandler, RequestHandler, asynchronous


class LongPoll(RequestHandler):
    """Waits for a message that never comes, like the chat demo's updates."""

    closed: asyncio.Event | None = None

    @asynchronous
    def get(self):
        pass  # the request stays open until the client goes away

    def on_connection_close(self):
        assert LongPoll.closed is not None
        LongPoll.closed.set()


async def test_on_connection_close_when_long_poll_client_leaves(start, io_loop):
    LongPoll.closed = asyncio.Event()
    fetch = start(Application([("/poll", LongPoll)]))

    def client():
        s = socket.create_connection(("127.0.0.1", fetch.port), timeout=5)
        s.sendall(b"GET /poll HTTP/1.1\r\nHost: a\r\n\r\n")
        s.close()

    await io_loop.run_in_executor(None, client)
    await asyncio.wait_for(LongPoll.closed.wait(), 5)


class Detach(RequestHandler):
    async def get(self):
        stream = self.detach()
        await stream.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nraw body"
        )
        line = await stream.read_until(b"\n")  # the client speaks after the response
        await stream.write(b"echo:" + line)
        stream.close()


async def test_detach_hands_over_the_raw_connection(start, io_loop):
    fetch = start(Application([("/d", Detach)]))

    def client():
        with socket.create_connection(("127.0.0.1", fetch.port), timeout=5) as s:
            s.sendall(b"GET /d HTTP/1.1\r\nHost: a\r\n\r\n")
            head = b""
            while b"raw body" not in head:
                head += s.recv(1000)
            s.sendall(b"ping\n")
            rest = b""
            while chunk := s.recv(1000):
                rest += chunk
            return head, rest

    head, rest = await io_loop.run_in_executor(None, client)
    assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"raw body")
    assert rest == b"echo:ping\n"


def wsgi_like(request):
    body = f"fallback saw {request.path}".encode()
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Length": str(len(body))}),
        body,
    )
    request.connection.finish()


class Hello(RequestHandler):
    def get(self):
        self.write("handler")


async def test_fallback_handler(start):
    fetch = start(Application([("/h", Hello), (r".*", FallbackHandler, {"fallback": wsgi_like})]))
    assert (await fetch("/h")).body == b"handler"
    r = await fetch("/legacy/page")
    assert (r.code, r.body) == (200, b"fallback saw /legacy/page")
    # The connection stays usable after the fallback answered.
    assert (await fetch("/h")).body == b"handler"


class SendError(RequestHandler):
    def get(self):
        self.set_header("X-Before", "cleared by send_error")
        self.write("partial")
        self.send_error(409, reason="Conflicting")


class Flushing(RequestHandler):
    async def get(self):
        self.write("first,")
        await self.flush()
        await gen.sleep(0)
        self.write("second")


async def test_send_error_clears_and_flush_streams(start):
    fetch = start(Application([("/e", SendError), ("/f", Flushing)]))
    r = await fetch("/e")
    assert (r.code, r.reason) == (409, "Conflicting")
    assert "X-Before" not in r.headers and b"partial" not in r.body
    r = await fetch("/f")
    assert r.body == b"first,second" and r.headers["Transfer-Encoding"] == "chunked"
