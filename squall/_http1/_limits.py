"""The HTTP/1 server's limits and timeouts, and the parameters that
override them (``HTTP1ConnectionParameters``, Tornado's names).

Plain data, no I/O. The server reads the rate and grace constants at the
time it uses them, so a test may lower them.
"""

from __future__ import annotations

__all__ = ["HTTP1ConnectionParameters"]

# -- limits and timeouts (each overridable through HTTP1ConnectionParameters) --

# Header block size: Tornado's max_header_size default (64 KiB); nginx allows
# 4 x 8 KiB large_client_header_buffers, Apache 8 KiB per line.
DEFAULT_MAX_HEADER_SIZE = 64 * 1024
# Request line: nginx's large_client_header_buffers (8 KiB); longer -> 414.
MAX_REQUEST_LINE = 8 * 1024
# Header lines: Apache's LimitRequestFields default (100); more -> 431.
MAX_HEADER_COUNT = 100
# Request body: Tornado's max_body_size default (100 MiB).
DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
# Body chunk handed to delegates at most: Tornado's chunk_size default (64 KiB).
DEFAULT_CHUNK_SIZE = 64 * 1024
# Time from a request's first byte to the end of its headers: nginx's
# client_header_timeout (60 s). Tornado reuses its 3600 s idle timeout here,
# which lets a slowloris client hold a connection for an hour.
DEFAULT_HEADER_TIMEOUT = 60.0
# Time a kept-alive connection may sit idle between requests: Tornado's 3600 s.
DEFAULT_IDLE_CONNECTION_TIMEOUT = 3600.0
# Without an explicit body_timeout, a request body must arrive at a minimum
# rate: Apache mod_reqtimeout's default (``body=20,MinRate=500``): 20 s, then
# one more second for every 500 bytes received. A body trickled at a byte
# every few seconds (slow POST) times out; a slow but honest upload does not.
BODY_RATE_GRACE = 20.0
BODY_MIN_RATE = 500
# A peer that half-closes (shutdown(SHUT_WR), ``nc -N``) still gets the
# answers to what it sent, but a response must have begun within this long
# of the EOF, or the peer is taken to have gone (a long-polling client that
# closed its socket looks the same on the wire). No standard sets it.
HALF_CLOSE_GRACE = 1.0

# On a graceful shutdown, a connection accepted moments before that has not
# sent its first request yet is given this long to send it (it is answered
# with Connection: close) rather than closed under a client that is
# sending: the same order of time as HALF_CLOSE_GRACE. No standard sets it.
SHUTDOWN_FIRST_REQUEST_GRACE = 1.0
# Requests parsed ahead while an earlier one is answered; past this, reading
# pauses (uvicorn and nginx also bound pipelining depth; 16 is ample for
# real clients, which pipeline a handful at most).
MAX_PIPELINED_REQUESTS = 16
# Unconsumed request-body bytes buffered for a delegate that is busy before
# reading pauses: one chunk's worth times four.
BODY_BUFFER_HIGH_WATER = 4 * DEFAULT_CHUNK_SIZE
# Raw bytes a header block may span beyond max_header_size before 431: the
# precise count (names and values) happens in on_header; this coarser one
# also covers whitespace and one read's worth of the next message.
RAW_HEADER_SLACK = MAX_REQUEST_LINE + 256 * 1024


# Parameter shapes: a byte count or a duration in seconds, None for "use
# the default" (or, for some timeouts, "no limit").
_OptionalBytes = int | None
_OptionalSeconds = float | None


class HTTP1ConnectionParameters:
    """Settings for HTTP/1.x connections (Tornado's names and meanings).

    ``max_header_size`` and ``max_body_size`` are in bytes; the timeouts in
    seconds (None disables one). ``decompress`` inflates gzip request bodies.
    """

    def __init__(
        self,
        no_keep_alive: bool = False,
        chunk_size: _OptionalBytes = None,
        max_header_size: _OptionalBytes = None,
        header_timeout: _OptionalSeconds = None,
        max_body_size: _OptionalBytes = None,
        body_timeout: _OptionalSeconds = None,
        decompress: bool = False,
        idle_connection_timeout: _OptionalSeconds = None,
    ) -> None:
        # Sizes: a falsy size (None or 0) takes the default, except the body
        # limit, where only None does (0 then refuses any body).
        self.chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        self.max_body_size = DEFAULT_MAX_BODY_SIZE if max_body_size is None else max_body_size
        # Timeouts: the header one defaults when None (0 disables it); the
        # others stay as given.
        self.header_timeout = DEFAULT_HEADER_TIMEOUT if header_timeout is None else header_timeout
        self.body_timeout, self.idle_connection_timeout = body_timeout, idle_connection_timeout
        # Behaviour switches.
        self.no_keep_alive, self.decompress = no_keep_alive, decompress
