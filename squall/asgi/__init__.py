"""ASGI both ways.

``to_asgi(application)`` turns a squall ``web.Application`` (or any
``HTTPServerConnectionDelegate``) into an ASGI 3 application for uvicorn,
hypercorn, granian or gunicorn's ASGI workers: request bodies stream into
``@stream_request_body`` handlers, ``flush()`` waits for the server, a
client's disconnect reaches ``on_connection_close``, ``WebSocketHandler``
runs over ASGI WebSocket events and the application's ``on_startup`` /
``on_shutdown`` hooks run on the lifespan events::

    app = to_asgi(web.Application([(r"/", MainHandler)]))
    # uvicorn mymodule:app

``ASGIContainer(asgi_app)`` does the reverse: it hosts an ASGI application
(Starlette, FastAPI, Django...) in squall's own server, as the
``HTTPServer`` callback or as a route target beside squall handlers, with
HTTP streamed both ways, WebSocket and lifespan. See ``docs/asgi.md``.

Error tree::

    ASGIError                base of squall.asgi's errors
        ProtocolViolation    an ASGI message out of order (a RuntimeError)
        ClientDisconnected   send() after the client left (an OSError)
        LifespanFailure      the hosted application's startup/shutdown failed
"""

from __future__ import annotations

from squall.asgi._common import (
    ASGIError,
    ClientDisconnected,
    LifespanFailure,
    ProtocolViolation,
)
from squall.asgi._container import ASGIContainer
from squall.asgi._lifespan import lifespan_state
from squall.asgi._to_asgi import to_asgi

__all__ = [
    "ASGIContainer",
    "ASGIError",
    "ClientDisconnected",
    "LifespanFailure",
    "ProtocolViolation",
    "lifespan_state",
    "to_asgi",
]
