"""``request.scheme``, ``request.connection.stream`` (closed() and
set_close_callback()) on server requests, and server connections aborted by
``IOLoop.close``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

from squall import web
from squall.httpclient import AsyncHTTPClient


class SchemeHandler(web.RequestHandler):
    def get(self) -> None:
        self.write(f"{self.request.scheme} {self.request.protocol}")


async def test_scheme_follows_protocol_and_trusted_xheaders(serve: Any) -> None:
    app = web.Application([("/", SchemeHandler)])
    plain = serve(app)
    trusting = serve(app, xheaders=True)
    client = AsyncHTTPClient(force_instance=True)
    try:
        headers = {"X-Forwarded-Proto": "https"}
        ignored = await client.fetch(f"http://127.0.0.1:{plain}/", headers=headers)
        trusted = await client.fetch(f"http://127.0.0.1:{trusting}/", headers=headers)
        bogus = await client.fetch(
            f"http://127.0.0.1:{trusting}/", headers={"X-Forwarded-Proto": "gopher"}
        )
    finally:
        client.close()
    assert ignored.body == b"http http"
    assert trusted.body == b"https https"
    assert bogus.body == b"http http"  # an unknown scheme is not believed


async def test_stream_reports_a_client_that_left_a_long_poll(serve: Any) -> None:
    seen: dict[str, Any] = {}
    gone = asyncio.get_running_loop().create_future()
    arrived = asyncio.get_running_loop().create_future()

    class LongPoll(web.RequestHandler):
        async def get(self) -> None:
            stream = self.request.connection.stream  # type: ignore[union-attr]
            seen["open_at_start"] = stream.closed()
            stream.set_close_callback(lambda: gone.set_result(stream.closed()))
            arrived.set_result(None)
            await gone  # the client leaves before any answer

    port = serve(web.Application([("/poll", LongPoll)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
    await arrived
    writer.transport.abort()
    assert await asyncio.wait_for(gone, 5) is True
    assert seen["open_at_start"] is False
    del reader


async def test_stream_callback_can_be_removed_and_set_late(serve: Any) -> None:
    calls: list[str] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    arrived = asyncio.get_running_loop().create_future()
    holder: dict[str, Any] = {}

    class Handler(web.RequestHandler):
        async def get(self) -> None:
            stream = self.request.connection.stream  # type: ignore[union-attr]
            holder["stream"] = stream
            stream.set_close_callback(lambda: calls.append("removed"))
            stream.set_close_callback(None)
            arrived.set_result(None)
            await done

    port = serve(web.Application([("/", Handler)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await arrived
    writer.transport.abort()
    stream = holder["stream"]
    for _ in range(500):
        if stream.closed():
            break
        await asyncio.sleep(0.01)
    assert stream.closed()
    del reader
    # Set after the close: still called, once, soon.
    late = asyncio.get_running_loop().create_future()
    stream.set_close_callback(lambda: late.set_result("late"))
    assert await asyncio.wait_for(late, 5) == "late"
    assert calls == []
    done.set_result(None)
    await asyncio.sleep(0)


STOP_DURING_REQUEST = textwrap.dedent(
    """
    import gc, socket, warnings
    warnings.simplefilter("error")
    from squall import web, ioloop, httpserver
    from squall.testing import bind_unused_port

    class Stopper(web.RequestHandler):
        def get(self):
            ioloop.IOLoop.current().stop()  # the connection is still open

    loop = ioloop.IOLoop()
    sock, port = bind_unused_port()
    server = httpserver.HTTPServer(web.Application([("/", Stopper)]))
    server.add_sockets([sock])
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    loop.start()
    server.stop()
    loop.close()
    client.close()
    gc.collect()
    print("closed")
    """
)


def test_ioloop_close_aborts_open_server_connections() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", STOP_DURING_REQUEST],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "closed"
    assert "ResourceWarning" not in result.stderr, result.stderr


async def test_closing_the_stream_drops_the_connection(serve: Any) -> None:
    class Hangup(web.RequestHandler):
        def get(self) -> None:
            self.request.connection.stream.close()  # type: ignore[union-attr]

    port = serve(web.Application([("/", Hangup)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    # No response at all: the connection is gone.
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
