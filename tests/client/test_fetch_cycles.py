"""A fetch leaves nothing for the cycle collector once its connections close.

On asyncio's own (selector) loop each socket transport holds a bound method
of itself; squall's protocols break that when the connection is lost, and
the client's response parser holds no cycle either. uvloop has neither
problem, so this runs on a plain ``asyncio.SelectorEventLoop``.
"""

from __future__ import annotations

import asyncio
import gc

from squall import web
from squall._http1._response import ResponseParser
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.simple_httpclient import SimpleAsyncHTTPClient
from squall.testing import bind_unused_port


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("hello")


async def _fetch_and_close_everything() -> bytes:
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([("/", Hello)]))
    server.add_sockets([sock])
    client = SimpleAsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/")
        streamed: list[bytes] = []
        await client.fetch(f"http://127.0.0.1:{port}/", streaming_callback=streamed.append)
        assert streamed == [b"hello"]
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()
    for _ in range(5):  # connection_lost callbacks run on the next iterations
        await asyncio.sleep(0)
    return response.body


def _self_bound(transport: object) -> bool:
    """Whether ``transport`` holds a bound method of itself."""
    return any(
        getattr(referent, "__self__", None) is transport for referent in gc.get_referents(transport)
    )


def test_fetch_leaves_no_cycle_garbage() -> None:
    loop = asyncio.SelectorEventLoop()
    gc.collect()
    gc.disable()
    try:
        assert loop.run_until_complete(_fetch_and_close_everything()) == b"hello"
        transports = [o for o in gc.get_objects() if isinstance(o, asyncio.Transport)]
        # The client's and the server's ends, both closed, neither a cycle.
        assert len([t for t in transports if t.is_closing()]) >= 2
        assert [t for t in transports if t.is_closing() and _self_bound(t)] == []
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        parsers = [o for o in gc.garbage if isinstance(o, ResponseParser)]
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        gc.enable()
        IOLoop._ioloop_for_asyncio.pop(loop, None)
        loop.close()
    assert parsers == []
