"""HTTP/1.x connections: parameters, limits, and the server side.

The server side is ``HTTP1ServerProtocol``, an ``asyncio.Protocol`` that feeds
bytes to httptools (llhttp) and turns its callbacks into calls on an
``httputil.HTTPServerConnectionDelegate``. llhttp parses strictly (no
leniency flag is ever enabled); squall adds the checks llhttp leaves to the
application (``squall._http1._requests``) and the limits in
``squall._http1._limits``. Parser callbacks never raise: they record a
problem, and the protocol answers after ``feed_data`` returns.

This module is a facade: the protocol and its parser callbacks are in
``_http1_server``, the delivery to delegates, writing and timeouts in
``_http1_dispatch``, ``HTTP1Connection`` in ``_http1_exchange``; the named
connection states in ``_http1._states`` and flow control in
``_http1._flow``.

Per request there is one ``HTTP1Connection`` (Tornado's name for the object a
delegate writes its response to): ``write_headers``, ``write``, ``finish``.
Pipelined requests are answered strictly in order: a request whose
predecessor is still being answered waits, with its events buffered, and
reading pauses while too many wait.

Errors::

    httputil.HTTPInputError    bad input from the peer -> a 4xx and close
    httputil.HTTPOutputError   the application wrote an invalid response
    iostream.StreamClosedError writing after the connection closed
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
from squall._http1_exchange import HTTP1Connection
from squall._http1_server import HTTP1ServerProtocol

__all__ = ["HTTP1Connection", "HTTP1ConnectionParameters", "HTTP1ServerProtocol"]

# The client's bound on interim (1xx) responses, under the private name
# Tornado's tests import from this module.
_MAX_1XX_RESPONSES = MAX_INFORMATIONAL_RESPONSES
