"""A client that leaves mid-upload or mid-response is not an error of ours:
no ERROR line (the suite's conftest fails a test on one), no traceback."""

from __future__ import annotations

import asyncio

from squall import web
from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


@web.stream_request_body
class Upload(web.RequestHandler):
    chunks = 0
    closes = 0
    ended: asyncio.Event

    def data_received(self, chunk: bytes) -> None:
        Upload.chunks += 1

    async def put(self) -> None:
        self.write("done")

    def on_finish(self) -> None:
        Upload.ended.set()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        Upload.closes += 1
        Upload.ended.set()


class Cancelled(web.RequestHandler):
    task: asyncio.Task[None] | None = None

    async def get(self) -> None:
        Cancelled.task = asyncio.current_task()  # type: ignore[assignment]
        self.write("partial")
        await self.flush()
        await asyncio.Event().wait()


async def test_client_leaving_mid_upload_is_quiet(io_loop) -> None:
    Upload.ended = asyncio.Event()
    server = HTTPServer(web.Application([("/up", Upload)]))
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
    await writer.drain()
    while Upload.chunks == 0:
        await asyncio.sleep(0.01)
    Upload.closes = 0
    writer.transport.abort()
    await asyncio.wait_for(Upload.ended.wait(), 5)
    await asyncio.sleep(0.05)  # let the handler's coroutine see the close
    # Told once, as Tornado does: by the delegate while the body arrives
    # (the close callback the handler registered stays quiet then).
    assert Upload.closes == 1
    server.stop()
    await server.close_all_connections()


async def test_a_handler_cancelled_after_its_headers_is_quiet(io_loop) -> None:
    server = HTTPServer(web.Application([("/c", Cancelled)]))
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readuntil(b"partial")
    assert Cancelled.task is not None
    Cancelled.task.cancel()
    await asyncio.sleep(0.05)
    writer.close()
    server.stop()
    await server.close_all_connections()
