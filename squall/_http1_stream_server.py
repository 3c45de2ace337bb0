"""``HTTP1ServerConnection``: Tornado's server loop over an accepted
``IOStream``: one ``HTTP1Connection`` (``_http1_stream``) per request, in
turn, each handed to ``HTTPServerConnectionDelegate.start_request``.

squall's own ``HTTPServer`` does not use it (it serves from an asyncio
protocol, ``_http1_server``); it is for programs that accept streams
themselves, as Tornado's API allows.
"""

from __future__ import annotations

import asyncio

from squall._http1._limits import HTTP1ConnectionParameters
from squall._http1_stream import HTTP1Connection
from squall.httputil import HTTPServerConnectionDelegate
from squall.iostream import IOStream, StreamClosedError
from squall.log import app_log

__all__ = ["HTTP1ServerConnection"]


class HTTP1ServerConnection:
    """Serves HTTP/1.x requests on ``stream``, one after another, to an
    ``HTTPServerConnectionDelegate`` (Tornado's server-side loop)."""

    def __init__(
        self,
        stream: IOStream,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.stream = stream
        self.params = params if params is not None else HTTP1ConnectionParameters()
        self.context = context
        self._serving_future: asyncio.Future[None] | None = None

    async def close(self) -> None:
        """Close the connection and wait for the serving loop to end."""
        self.stream.close()
        if self._serving_future is not None:
            try:
                await self._serving_future
            except Exception:
                pass

    def start_serving(self, delegate: HTTPServerConnectionDelegate) -> None:
        """Read requests and hand each to ``delegate.start_request``."""
        self._serving_future = asyncio.ensure_future(self._serve(delegate))

    async def _serve(self, delegate: HTTPServerConnectionDelegate) -> None:
        try:
            await self._serve_requests(delegate)
        except Exception:
            app_log.error("Uncaught exception", exc_info=True)
            self.stream.close()
        finally:
            try:
                delegate.on_close(self)
            except Exception:
                app_log.error("Uncaught exception in on_close", exc_info=True)

    async def _serve_requests(self, delegate: HTTPServerConnectionDelegate) -> None:
        # A fresh HTTP1Connection per request, all on this one stream, for as
        # long as the previous one leaves it open for another.
        while await self._serve_one_request(delegate):
            await asyncio.sleep(0)  # let other connections run between requests

    async def _serve_one_request(self, delegate: HTTPServerConnectionDelegate) -> bool:
        """Read and dispatch one request; whether the stream can take another."""
        exchange = HTTP1Connection(self.stream, False, self.params, self.context)
        handler = delegate.start_request(self, exchange)
        try:
            reusable = await exchange.read_response(handler)
        except StreamClosedError:
            # The client left (or a read limit closed the stream).
            return False
        return bool(reusable)
