"""A finished request leaves no reference cycles behind: with many requests
per second, cyclic garbage means constant collector pauses."""

from __future__ import annotations

import gc

from httptest_helpers import raw_exchange

from squall.web import Application, RequestHandler


class Hello(RequestHandler):
    def get(self):
        self.write("Hello, world")


async def test_requests_create_no_cyclic_garbage(serve, blocking):
    port = serve(Application([("/", Hello)]))
    one = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    await blocking(
        raw_exchange, port, one * 20 + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    gc.collect()
    gc.disable()
    try:
        data = await blocking(
            raw_exchange,
            port,
            one * 200 + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        assert data.count(b"HTTP/1.1 200 OK") == 201
        # Allow a little for the connection itself and the test machinery,
        # far below the ~24 objects per request a cycle would leave.
        assert gc.collect() < 200
    finally:
        gc.enable()
