"""HTTP/1.x connections: parameters, limits, the server protocol, and
Tornado's stream-based connection classes.

squall's server is ``HTTP1ServerProtocol``, an ``asyncio.Protocol`` that
feeds bytes to httptools (llhttp) and turns its callbacks into calls on an
``httputil.HTTPServerConnectionDelegate`` (modules ``_http1_server``,
``_http1_dispatch``, ``_http1_exchange``). Each request it serves gets its
own lightweight connection object (``request.connection``) with
``write_headers``, ``write`` and ``finish``.

``HTTP1Connection`` and ``HTTP1ServerConnection`` are Tornado's classes for
code that holds an ``IOStream`` and speaks HTTP/1.x over it itself:
``HTTP1Connection(stream, is_client, params, context)`` writes a request and
reads the response (``read_response``), or, as a server, reads a request and
writes the answer; ``HTTP1ServerConnection(stream, params, context)`` serves
requests in a loop (``start_serving``, ``close``). They are in
``_http1_stream`` and ``_http1_stream_server``, built on the same HTTP/1 core (``squall._http1``: one
grammar, one head writer, one keep-alive rule) as the server protocol.

Limits are named constants in ``squall._http1._limits``, overridden per
server or connection through ``HTTP1ConnectionParameters``.

Errors::

    httputil.HTTPInputError    bad input from the peer -> a 4xx and close
    httputil.HTTPOutputError   the application wrote an invalid response
    iostream.StreamClosedError reading or writing after the connection closed
"""

from __future__ import annotations

from squall._http1._limits import (  # noqa: F401
    BODY_BUFFER_HIGH_WATER,
    BODY_MIN_RATE,
    BODY_RATE_GRACE,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_CONNECTION_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_HEADER_SIZE,
    HALF_CLOSE_GRACE,
    MAX_HEADER_COUNT,
    MAX_PIPELINED_REQUESTS,
    MAX_REQUEST_LINE,
    RAW_HEADER_SLACK,
    HTTP1ConnectionParameters,
)
from squall._http1_client import MAX_INFORMATIONAL_RESPONSES
from squall._http1_server import HTTP1ServerProtocol
from squall._http1_stream import HTTP1Connection
from squall._http1_stream_server import HTTP1ServerConnection

__all__ = [
    "HTTP1Connection",
    "HTTP1ConnectionParameters",
    "HTTP1ServerConnection",
    "HTTP1ServerProtocol",
]

# The HTTP client's bound on interim (1xx) responses (the stream-based
# HTTP1Connection's is the same 10), under the private name Tornado's tests
# import from this module.
_MAX_1XX_RESPONSES = MAX_INFORMATIONAL_RESPONSES
