"""HTTP/1.x connections: parameters, limits, and the server side.

The server side is ``HTTP1ServerProtocol``, an ``asyncio.Protocol`` that feeds
bytes to httptools (llhttp) and turns its callbacks into calls on an
``httputil.HTTPServerConnectionDelegate``. llhttp parses strictly (no
leniency flag is ever enabled); squall adds the checks llhttp leaves to the
application (``_http1_rules``) and the limits below. Parser callbacks never
raise: they record a problem, and the protocol answers after ``feed_data``
returns.

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

import asyncio
import collections
import functools
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httptools

from squall._http1 import _heads as heads
from squall._http1 import _requests as rules
from squall._http1._flow import APPLICATION_BEHIND, FlowControl
from squall._http1._inflate import BoundedInflater, InflateError, InflateLimitError
from squall._http1._states import Life, Message
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
    responses,
)
from squall.httputil._headers import _normalize_header
from squall.log import app_log, gen_log

__all__ = ["HTTP1Connection", "HTTP1ConnectionParameters", "HTTP1ServerProtocol"]

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

_SERVER_HEADER = "SquallServer/" + __import__("squall").version


class HTTP1ConnectionParameters:
    """Settings for HTTP/1.x connections (Tornado's names and meanings).

    ``max_header_size`` and ``max_body_size`` are in bytes; the timeouts in
    seconds (None disables one). ``decompress`` inflates gzip request bodies.
    """

    def __init__(
        self,
        no_keep_alive: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        header_timeout: float | None = None,
        max_body_size: int | None = None,
        body_timeout: float | None = None,
        decompress: bool = False,
        idle_connection_timeout: float | None = None,
    ) -> None:
        self.no_keep_alive = no_keep_alive
        self.chunk_size = chunk_size or DEFAULT_CHUNK_SIZE
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        # None means the default; 0 disables the timeout.
        self.header_timeout = DEFAULT_HEADER_TIMEOUT if header_timeout is None else header_timeout
        self.max_body_size = max_body_size if max_body_size is not None else DEFAULT_MAX_BODY_SIZE
        self.body_timeout = body_timeout
        self.decompress = decompress
        self.idle_connection_timeout = idle_connection_timeout


# Events buffered for a request whose delegate is not ready for them yet.
_HEADERS, _BODY, _END = 0, 1, 2
# What a connection's deadline is for.
# The connection's states (see squall._http1._states), as module names.
BETWEEN, HEAD, BODY = Message.BETWEEN, Message.HEAD, Message.BODY
OPEN, UPGRADING, ANSWERING, CLOSED = Life.OPEN, Life.UPGRADING, Life.ANSWERING, Life.CLOSED

_NO_DEADLINE, _IDLE_DEADLINE, _HEADER_DEADLINE, _BODY_DEADLINE, _BODY_RATE_DEADLINE = 0, 1, 2, 3, 4


class HTTP1Connection(HTTPConnection):
    """One request on a server connection, and the response written to it."""

    # One of these per request: slots make it smaller and quicker to set up.
    __slots__ = (
        "__weakref__",
        "_body_received",
        "_body_started",
        "_buffered_body",
        "_chunked",
        "_close_after",
        "_close_callback",
        "_delivered_end",
        "_events",
        "_expect_continue",
        "_expected_length",
        "_failed",
        "_head_request",
        "_inflater",
        "_protocol",
        "_request_complete",
        "_response_finished",
        "_response_started",
        "_waiting",
        "_written",
        "body_timeout",
        "context",
        "delegate",
        "headers",
        "max_body_size",
        "params",
        "start_line",
    )

    def __init__(
        self,
        protocol: HTTP1ServerProtocol,
        start_line: RequestStartLine,
        headers: HTTPHeaders,
        context: Any,
    ) -> None:
        self._protocol = protocol
        self.params = protocol.params
        self.context = context
        self.start_line = start_line
        self.headers = headers
        self.delegate: HTTPMessageDelegate | None = None
        self.max_body_size = self.params.max_body_size
        self.body_timeout = self.params.body_timeout
        # Request side.
        self._events: collections.deque[tuple[int, Any]] = collections.deque()
        self._buffered_body = 0
        self._body_received = 0
        self._request_complete = False
        self._waiting: Awaitable[Any] | None = None  # a delegate call not yet done
        self._delivered_end = False
        self._body_started = False
        self._expect_continue = False
        self._inflater: BoundedInflater | None = None
        # Response side.
        self._response_started = False
        self._response_finished = False
        self._chunked = False
        self._expected_length: int | None = None
        self._written = 0
        self._head_request = start_line.method == "HEAD"
        self._close_after = False
        self._close_callback: Callable[[], None] | None = None
        self._failed = False  # its delegate raised: deliver nothing more

    # -- HTTPConnection: what a delegate calls ---------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the connection closes before this response ends."""
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        self.max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        self.body_timeout = timeout

    def write_headers(
        self,
        start_line: ResponseStartLine | RequestStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        """Send the response head, and ``chunk`` with it in the same write."""
        if self._response_started:
            raise HTTPOutputError("write_headers called twice")
        if not isinstance(start_line, ResponseStartLine):
            raise TypeError("a server writes a ResponseStartLine")
        request_version = self.start_line.version
        fields = headers._lists  # canonical names: see on_headers_complete
        length = fields.get("Content-Length")
        if length is not None:
            try:
                self._expected_length = int(length[-1])
            except ValueError:
                raise HTTPOutputError("invalid Content-Length header") from None
        elif "Transfer-Encoding" not in fields:
            code = start_line.code
            # RFC 9110 §6.4.1: 1xx, 204 and 304 responses (and any answer to
            # HEAD) carry no body; nor do they need framing.
            if not (code in (204, 304) or 100 <= code < 200 or self._head_request):
                if request_version == "HTTP/1.1":
                    self._chunked = True
                    fields["Transfer-Encoding"] = ["chunked"]
                else:
                    # An HTTP/1.0 response of unknown length ends when we close.
                    self._close_after = True
        if self._close_after:
            if request_version == "HTTP/1.1":
                headers["Connection"] = "close"
            elif "Connection" in fields:
                del headers["Connection"]
        elif request_version == "HTTP/1.0":
            headers["Connection"] = "Keep-Alive"
        if "Date" not in fields:
            fields["Date"] = [heads.http_date()]
        if "Server" not in fields:
            fields["Server"] = [_SERVER_HEADER]
        try:
            head = heads.format_response_head(start_line, fields)
        except heads.InvalidHead as e:  # header injection, caught before a byte is sent
            raise HTTPOutputError(str(e)) from None
        self._response_started = True
        if chunk and not self._head_request:
            head += self._frame(chunk)
        return self._protocol.write(head)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        """Send a piece of the response body (framed if chunked)."""
        if not self._response_started:
            raise HTTPOutputError("write called before write_headers")
        if self._response_finished:
            raise HTTPOutputError("write called after finish")
        if not chunk or self._head_request:
            return self._protocol.write(b"")
        return self._protocol.write(self._frame(chunk))

    def finish(self) -> None:
        """End the response; the next pipelined request may now be answered."""
        if self._response_finished:
            return
        if not self._response_started:
            raise HTTPOutputError("finish called before write_headers")
        if self._protocol._life is CLOSED:
            # The client left mid-response: nothing to frame, nobody to
            # tell. Not an application error (the documented pattern is to
            # catch StreamClosedError and return, which lands here).
            self._response_finished = True
            self._close_callback = None
            return
        if (
            self._expected_length is not None
            and self._written < self._expected_length
            and not self._head_request
        ):
            self._protocol.abort()
            raise HTTPOutputError(
                f"Tried to write {self._expected_length - self._written} bytes less "
                "than Content-Length"
            )
        self._response_finished = True
        if self._chunked:
            self._protocol.write(heads.LAST_CHUNK)
        self._close_callback = None
        self._protocol.response_finished(self)

    async def sendfile(self, file: Any, offset: int, count: int) -> int | None:
        """Send ``count`` bytes of ``file`` from ``offset`` as response body,
        copied by the kernel (``os.sendfile``) instead of through Python.

        Returns the bytes sent, or None when this connection cannot do it
        (TLS, chunked framing, HEAD, no sendfile on this OS): the caller
        then writes the bytes itself. Waits for the head and any earlier
        body to leave first, so the bytes go out in order.
        """
        protocol = self._protocol
        transport = protocol.transport
        sendfile = getattr(os, "sendfile", None)
        if (
            sendfile is None
            or transport is None
            or transport.is_closing()
            or self._chunked
            or self._head_request
            or transport.get_extra_info("sslcontext") is not None
        ):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None or not self._response_started or self._response_finished:
            return None
        if self._expected_length is not None and self._written + count > self._expected_length:
            raise HTTPOutputError("Tried to write more data than Content-Length")
        self._written += count
        from squall.iostream import StreamClosedError

        loop = protocol._loop
        # Readiness is watched on a duplicate descriptor: the transport's own
        # is registered with the loop already (uvloop refuses a second
        # watcher on it), and both see the same socket.
        watch_fd = os.dup(sock.fileno())
        sock_fd = sock.fileno()

        def writable() -> asyncio.Future[None]:
            waiter: asyncio.Future[None] = loop.create_future()

            def ready() -> None:
                loop.remove_writer(watch_fd)
                if not waiter.done():
                    waiter.set_result(None)

            loop.add_writer(watch_fd, ready)
            return waiter

        sent = 0
        try:
            while transport.get_write_buffer_size():
                await writable()
            while sent < count:
                if transport.is_closing():
                    raise StreamClosedError()
                try:
                    n = sendfile(sock_fd, file.fileno(), offset + sent, count - sent)
                except BlockingIOError:
                    await writable()
                    continue
                except OSError as e:
                    protocol.abort()
                    raise StreamClosedError(real_error=e) from e
                if n == 0:  # the file is shorter than promised
                    protocol.abort()
                    raise HTTPOutputError("File ended before Content-Length was sent")
                sent += n
        finally:
            loop.remove_writer(watch_fd)
            os.close(watch_fd)
        return sent

    def detach(self) -> Any:
        """Hand the raw connection to the caller as an IOStream.

        The HTTP protocol stops serving it; bytes already received beyond
        this request are given to the stream first.
        """
        return self._protocol.detach(self)

    # -- helpers ---------------------------------------------------------------

    def _frame(self, chunk: bytes) -> bytes:
        self._written += len(chunk)
        if self._expected_length is not None and self._written > self._expected_length:
            self._protocol.abort()
            raise HTTPOutputError("Tried to write more data than Content-Length")
        if self._chunked:
            return heads.frame_chunk(chunk)
        return chunk

    def _connection_lost(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if self.delegate is not None and not self._response_finished:
            try:
                self.delegate.on_connection_close()
            except Exception:
                app_log.error("Uncaught exception in on_connection_close", exc_info=True)
        if callback is not None:
            try:
                callback()
            except Exception:
                app_log.error("Uncaught exception in close callback", exc_info=True)


# Raw header names as clients send them -> HTTPHeaders' canonical names.
# Bounded like httputil's own cache: a peer inventing names cannot grow it.
_CANONICAL_NAMES_MAX = 1000
_canonical_names: dict[bytes, str] = {}


def _canonical_name(name: bytes) -> str:
    key = _normalize_header(name.decode("latin-1"))
    if len(_canonical_names) < _CANONICAL_NAMES_MAX:
        _canonical_names[name] = key
    return key


# RequestStartLine from a (method, target, version) tuple, skipping the
# NamedTuple constructor's Python-level argument handling.
_new_start_line = functools.partial(tuple.__new__, RequestStartLine)


class HTTP1ServerProtocol(asyncio.Protocol):
    """Serves HTTP/1.x on one transport, for one server delegate."""

    # One per connection, touched on every request and held for as long as
    # the connection is kept alive: slots keep it small and compact in memory.
    __slots__ = (
        "__weakref__",
        "_body_clock",
        "_body_parts",
        "_body_pending",
        "_chunk",
        "_context_factory",
        "_current",
        "_deadline",
        "_done_future",
        "_eof_timer",
        "_exchanges",
        "_fields",
        "_flow",
        "_head_tail",
        "_header_bytes",
        "_header_count",
        "_in_request_line",
        "_life",
        "_line_at_start",
        "_line_end",
        "_loop",
        "_message",
        "_method",
        "_next_line_at",
        "_on_close",
        "_packet_end",
        "_packet_idle",
        "_parser",
        "_pending_refusal",
        "_phase",
        "_problem",
        "_raw_header_bytes",
        "_timer",
        "_timer_when",
        "_upgrade_data",
        "_upgrade_exchange",
        "_url",
        "_version",
        "context",
        "delegate",
        "params",
        "transport",
    )

    def __init__(
        self,
        delegate: HTTPServerConnectionDelegate,
        params: HTTP1ConnectionParameters,
        context_factory: Callable[[asyncio.BaseTransport], Any],
        on_close: Callable[[HTTP1ServerProtocol], None] | None = None,
    ) -> None:
        self.delegate = delegate
        self.params = params
        self._context_factory = context_factory
        self._on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.context: Any = None
        self._parser = httptools.HttpRequestParser(self)
        self._exchanges: collections.deque[HTTP1Connection] = collections.deque()
        self._life = OPEN
        self._message = BETWEEN
        self._flow = FlowControl()
        # Body bytes parsed from the current packet, handed on merged once
        # the packet is parsed (or at chunk_size): a body sent as 1-byte
        # chunks becomes one delegate call per packet, not one per byte.
        self._body_parts: list[bytes] = []
        self._body_pending = 0
        self._body_clock = 0.0  # when the current body's rate deadline started
        self._eof_timer: asyncio.TimerHandle | None = None
        self._done_future: asyncio.Future[None] | None = None
        self._loop = asyncio.get_event_loop()
        # Parser state for the message being parsed.
        self._url = b""
        self._fields: dict[str, list[str]] = {}  # canonical name -> values
        self._header_bytes = 0
        self._header_count = 0
        self._in_request_line = False
        self._head_tail = b""
        self._chunk: bytes = b""
        self._packet_idle = False
        self._line_at_start = False
        self._next_line_at = 0  # where the next request line may start in _chunk
        self._line_end = 0  # where the request line ended in _chunk (<= 0: before it)
        self._packet_end = b""  # the previous packet's last bytes
        self._current: HTTP1Connection | None = None
        self._problem: rules.Reject | None = None
        self._upgrade_data: bytes | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._deadline = 0.0
        self._phase = _NO_DEADLINE
        self._raw_header_bytes = 0
        self._method = b""  # of the request being parsed, once its line is read
        self._version = ""
        self._pending_refusal: rules.Reject | None = None
        self._upgrade_exchange: HTTP1Connection | None = None

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - the peer may be gone already
                pass
        self._flow.attach(transport)  # type: ignore[arg-type]
        self.context = self._context_factory(transport)
        # The first request's head is due within the header timeout of the
        # accept, as nginx's client_header_timeout counts: a connection
        # that sends nothing is not held for the whole idle timeout.
        self._arm(
            _HEADER_DEADLINE, self.params.header_timeout or self.params.idle_connection_timeout
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._life = CLOSED
        self._cancel_timer()
        exchanges, self._exchanges = self._exchanges, collections.deque()
        for exchange in exchanges:
            exchange._connection_lost()
        if self._eof_timer is not None:
            self._eof_timer.cancel()
            self._eof_timer = None
        self._flow.wake_writers()
        if self._on_close is not None:
            self._on_close(self)

    def eof_received(self) -> bool | None:
        # The peer will send nothing more. Requests it sent whole are still
        # answered (``nc -N`` and some proxies half-close after the request),
        # then the connection closes. Otherwise (idle, or a request cut
        # short) it closes now.
        transport = self.transport
        if (
            self._life is not OPEN
            or not self._exchanges
            or self._message is not BETWEEN
            or transport is None
            or transport.get_extra_info("sslcontext") is not None  # TLS closes on EOF
        ):
            return None
        self._life = ANSWERING
        self._cancel_timer()
        if not self._exchanges[0]._response_started:
            self._eof_timer = self._loop.call_later(HALF_CLOSE_GRACE, self._on_eof_grace)
        return True

    def _on_eof_grace(self) -> None:
        # No answer began soon after the peer's EOF: most likely it closed
        # its socket altogether (a long poll given up); let the handlers
        # know, as a close would have.
        self._eof_timer = None
        if self._exchanges and not self._exchanges[0]._response_started:
            self.abort()

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._life is not OPEN:
            if self._life is UPGRADING:
                self._upgrade_data = (self._upgrade_data or b"") + data
            return  # after Connection: close or an error: drop, never answer
        # Whether a message starting in this packet starts at its first byte.
        self._packet_idle = self._message is BETWEEN
        self._line_at_start = False
        # What is left of a Content-Length body the last packet began.
        self._next_line_at = max(0, self._next_line_at - len(self._chunk))
        self._line_end = 0
        self._chunk = data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            # llhttp stops after an Upgrade (or CONNECT) request; the bytes
            # after it belong to whoever takes the connection over.
            offset = e.args[0] if e.args else len(data)
            self._upgrade_data = data[offset:]
            if self._life is OPEN:
                self._life = UPGRADING
            upgrading = self._upgrade_exchange
            if upgrading is not None and upgrading not in self._exchanges:
                # Already answered normally while feed_data ran.
                self._continue_after_unused_upgrade(upgrading)
                return
        except httptools.HttpParserCallbackError as e:
            cause = e.__context__
            if cause is not None and not isinstance(cause, Exception):
                raise cause from None  # KeyboardInterrupt, SystemExit: not ours to swallow
            # Our own callback raised: a bug in squall, not bad input.
            app_log.error("Error in HTTP parser callback", exc_info=cause or e)
            if self._problem is None:
                self._problem = rules.Reject(500, "internal error")
        except httptools.HttpParserError as e:
            if self._problem is None:
                self._problem = rules.reject_for_parser_error(e, self._parser, data)
        if self._body_parts:
            self._flush_body()
        if self._message is HEAD and self._problem is None:
            if self._phase != _HEADER_DEADLINE:
                self._arm(_HEADER_DEADLINE, self.params.header_timeout)
            # httptools buffers a header value until it ends, so count what a
            # slow, endless header line costs us even before on_header.
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self.params.max_header_size + RAW_HEADER_SLACK:
                self._problem = rules.Reject(431, "header block too large")
            else:
                self._check_header_limits()
            if self._in_request_line:
                # The request line continues in the next packet; keep what we
                # have so the line can be checked whole, from where this
                # message can have started (the messages before it must not
                # vouch for its line).
                piece = data if self._head_tail else data[self._next_line_at :]
                self._head_tail = (self._head_tail + piece)[-(MAX_REQUEST_LINE + 64) :]
                if len(self._url) > MAX_REQUEST_LINE or len(self._head_tail) > MAX_REQUEST_LINE:
                    self._problem = rules.Reject(414, "request line too long")
        if self._problem is not None:
            self._refuse(self._problem)
        # A header block's closing blank line may start in the bytes so far
        # (in several tiny packets, even).
        self._packet_end = (self._packet_end + data)[-3:] if len(data) < 3 else data[-3:]

    # -- httptools callbacks (they record problems, never raise) ---------------

    def on_message_begin(self) -> None:
        self._line_at_start = self._packet_idle
        self._packet_idle = False
        self._url = b""
        self._fields = {}
        self._header_bytes = 0
        self._header_count = 0
        self._in_request_line = True
        self._message = HEAD
        self._head_tail = b""
        self._raw_header_bytes = 0
        # No idle deadline while a request is under way. The header deadline
        # is armed only if the headers span packets (see data_received): a
        # request that arrives whole costs no timer work at all.
        self._phase = _NO_DEADLINE

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_REQUEST_LINE and self._problem is None:
            self._problem = rules.Reject(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called once per header line: counting here, checking the limits
        # once the block ends (or a packet ends inside it) keeps this short;
        # one packet's worth of headers is all that can pile up unchecked.
        if self._in_request_line:
            self._check_request_line()
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        key = _canonical_names.get(name) or _canonical_name(name)
        values = self._fields.get(key)
        if values is None:
            self._fields[key] = [value.decode("latin-1")]
        else:
            values.append(value.decode("latin-1"))

    def _check_header_limits(self) -> None:
        if self._problem is not None:
            return
        if self._header_count > MAX_HEADER_COUNT:
            self._problem = rules.Reject(431, "too many header lines")
        elif self._header_bytes > self.params.max_header_size:
            self._problem = rules.Reject(431, "header block too large")

    def on_headers_complete(self) -> None:
        if self._in_request_line:
            self._check_request_line()
        self._message = BODY
        self._phase = _NO_DEADLINE
        self._check_header_limits()
        if self._problem is not None:
            return
        self._find_next_line_start()
        fields = self._fields
        version = "HTTP/1.1" if self._version == "1.1" else "HTTP/" + self._version
        method = self._method.decode("ascii")
        url = self._url
        try:
            rules.check_request(method, url, version, fields)
        except rules.Reject as r:
            self._problem = r
            return
        # HTTPHeaders keeps fields under canonical names (Content-Length);
        # the checks above and below read its dict directly.
        headers = HTTPHeaders._from_fields(fields)
        start_line = _new_start_line((method, url.decode("latin-1"), version))
        exchange = HTTP1Connection(self, start_line, headers, self.context)
        if self.params.decompress and "Content-Encoding" in fields:
            encoding = fields.pop("Content-Encoding")
            if encoding[-1].strip().lower() == "gzip":
                exchange._inflater = BoundedInflater(exchange.max_body_size)
                fields["X-Consumed-Content-Encoding"] = encoding
            else:
                fields["Content-Encoding"] = encoding
        if "Expect" in fields and version == "HTTP/1.1":
            cl = fields.get("Content-Length")
            exchange._expect_continue = fields["Expect"][-1].lower() == "100-continue" and (
                (cl is not None and cl[0] != "0") or "Transfer-Encoding" in fields
            )
        if self.params.no_keep_alive or (
            ("Connection" in fields or version != "HTTP/1.1")
            and not rules.wants_keep_alive(version, fields)
        ):
            exchange._close_after = True
        # llhttp stops at an upgrade (a request with Upgrade, or CONNECT);
        # only those need asking.
        if ("Upgrade" in fields or method == "CONNECT") and self._parser.should_upgrade():
            self._upgrade_exchange = exchange
        self._current = exchange
        exchanges = self._exchanges
        exchanges.append(exchange)
        if len(exchanges) == 1:
            # Nothing ahead of it: the delegate hears of it now.
            self._call(exchange, _HEADERS, None)
        else:
            if len(exchanges) > MAX_PIPELINED_REQUESTS:
                self._flow.pause_reading(APPLICATION_BEHIND)
            self._deliver(exchange, _HEADERS, None)
        length = fields.get("Content-Length")
        if length is not None:
            self._next_line_at += int(length[0])
            if exchange._waiting is None and int(length[0]) > exchange.max_body_size:
                # Refuse now rather than after receiving the whole upload.
                # The delegate has seen the headers and could have raised
                # the limit (a streaming handler's prepare); one still
                # preparing is held to it in on_body as the bytes arrive.
                self._problem = rules.Reject(413, "request body too large")
                return
        elif "Transfer-Encoding" not in fields:
            return  # no body: the message is complete already
        if self.params.body_timeout is not None:
            self._arm(_BODY_DEADLINE, self.params.body_timeout)
        else:
            self._body_clock = self._loop.time()
            self._arm(_BODY_RATE_DEADLINE, BODY_RATE_GRACE)

    def on_body(self, body: bytes) -> None:
        exchange = self._current
        if exchange is None or self._problem is not None:
            return
        exchange._body_received += len(body)
        if exchange._body_received > exchange.max_body_size:
            self._problem = rules.Reject(413, "request body too large")
            return
        self._body_parts.append(body)
        self._body_pending += len(body)
        if self._body_pending >= self.params.chunk_size:
            self._flush_body()

    def _flush_body(self) -> None:
        """Hand the body bytes parsed so far to the delegate, as one piece."""
        parts, self._body_parts = self._body_parts, []
        self._body_pending = 0
        exchange = self._current
        if exchange is None or self._problem is not None:
            return
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        inflater = exchange._inflater
        if inflater is None:
            self._deliver(exchange, _BODY, body)
            return
        inflater.limit = exchange.max_body_size
        try:
            pieces = inflater.inflate(body)
        except InflateLimitError:
            self._problem = rules.Reject(413, "request body too large after decompression")
            return
        except InflateError:
            self._problem = rules.Reject(400, "malformed gzip request body")
            return
        for piece in pieces:
            self._deliver(exchange, _BODY, piece)

    def on_message_complete(self) -> None:
        if self._body_parts:
            self._flush_body()
        exchange = self._current
        self._current = None
        self._message = BETWEEN
        self._phase = _NO_DEADLINE
        if exchange is None or self._problem is not None:
            return
        exchange._request_complete = True
        if exchange._close_after:
            # Anything after a request that closes the connection is dropped.
            self._stop_reading()
        if (
            exchange._waiting is None
            and not exchange._events
            and not exchange._failed
            and self._exchanges[0] is exchange
        ):
            self._call(exchange, _END, None)  # the common case: nothing to wait for
        else:
            self._deliver(exchange, _END, None)

    # -- request checks ---------------------------------------------------------

    def _check_request_line(self) -> None:
        self._in_request_line = False
        if self._problem is not None:
            return
        parser = self._parser
        method = self._method = parser.get_method()
        chunk = self._chunk
        line = method + b" " + self._url + b" HTTP/1.1\r\n"
        if self._line_at_start and chunk.startswith(line):
            # The message began at the first byte of this packet, which
            # starts with the canonical line for what llhttp parsed: the line
            # is well-formed, and the version is 1.1 (asking llhttp costs a
            # string formatting per request).
            self._version = "1.1"
            end = len(line)
        else:
            self._version = parser.get_http_version()
            try:
                end = rules.find_request_line(
                    method, self._url, self._version, chunk, self._head_tail, self._next_line_at
                )
            except rules.Reject as r:
                self._problem = r
                return
        self._head_tail = b""
        # Where the header block starts: on_headers_complete finds its end.
        self._line_end = end

    def _find_next_line_start(self) -> None:
        """Note where a next message in this packet may start: after this
        message's header block (and its Content-Length body, added by
        on_headers_complete). Its request line is looked for only there, so
        a copy of a canonical line earlier in the packet, in a header or
        another request, cannot vouch for it."""
        chunk = self._chunk
        line_end = self._line_end
        if line_end >= 2:  # the line's CRLF is in this packet: the block follows
            blank = chunk.find(b"\r\n\r\n", line_end - 2)
            self._next_line_at = len(chunk) if blank < 0 else blank + 4
            return
        # The block (or the line's CRLF) began in an earlier packet: it ends
        # at the first blank line here, which may begin in that packet's
        # last bytes.
        before = self._packet_end
        blank = (before + chunk).find(b"\r\n\r\n")
        self._next_line_at = len(chunk) if blank < 0 else max(0, blank + 4 - len(before))

    # -- dispatching to delegates ----------------------------------------------

    def _deliver(self, exchange: HTTP1Connection, kind: int, payload: Any) -> None:
        """Hand an event to the exchange's delegate now if it can take it;
        otherwise queue it behind the events already waiting."""
        if (
            exchange._events
            or exchange._waiting is not None
            or exchange._failed
            or self._exchanges[0] is not exchange
        ):
            exchange._events.append((kind, payload))
            if kind == _BODY:
                exchange._buffered_body += len(payload)
                if exchange._buffered_body > BODY_BUFFER_HIGH_WATER:
                    self._flow.pause_reading(APPLICATION_BEHIND)
            return
        self._call(exchange, kind, payload)

    def _pump(self, exchange: HTTP1Connection) -> None:
        """Deliver queued events to the exchange's delegate, in order,
        pausing whenever a delegate call returns an unfinished awaitable."""
        events = exchange._events
        while (
            events
            and exchange._waiting is None
            and not exchange._failed
            and self._life is not CLOSED
        ):
            kind, payload = events.popleft()
            if kind == _BODY:
                exchange._buffered_body -= len(payload)
            if not self._call(exchange, kind, payload):
                return
        if self._flow.reasons & APPLICATION_BEHIND and self._can_resume():
            self._flow.resume_reading(APPLICATION_BEHIND)

    def _call(self, exchange: HTTP1Connection, kind: int, payload: Any) -> bool:
        """One delegate call; False if delivery must stop for now."""
        try:
            if kind == _HEADERS:
                delegate = exchange.delegate = self.delegate.start_request(self, exchange)
                result = delegate.headers_received(exchange.start_line, exchange.headers)
                if exchange._expect_continue and not exchange._response_started:
                    # RFC 9110 §10.1.1: the delegate wants the body; tell
                    # the client to send it (never to HTTP/1.0: see above).
                    exchange._expect_continue = False
                    self.write(heads.CONTINUE_100)
            elif kind == _BODY:
                assert exchange.delegate is not None
                result = exchange.delegate.data_received(payload)
            else:
                exchange._delivered_end = True
                # Tornado's interface says finish() returns None; ours may
                # return an awaitable, whose failure is then reported.
                ending: Any = exchange.delegate
                result = ending.finish()
        except HTTPInputError as e:
            self._bad_input(exchange, e)
            return False
        except Exception:
            app_log.error("Uncaught exception handling request", exc_info=True)
            self._fail_exchange(exchange)
            return False
        if result is not None and not _is_done(result):
            exchange._waiting = result
            future = asyncio.ensure_future(result)
            future.add_done_callback(functools.partial(self._resume, exchange))
            return False
        return True

    def _resume(self, exchange: HTTP1Connection, future: asyncio.Future[Any]) -> None:
        exchange._waiting = None
        if not future.cancelled() and isinstance(future.exception(), HTTPInputError):
            self._bad_input(exchange, future.exception())  # type: ignore[arg-type]
            return
        exc = None if future.cancelled() else future.exception()
        if exc is not None and self._life is CLOSED and _is_stream_closed(exc):
            # The client left while the application was still writing to
            # it: nothing to report, nobody to answer.
            return
        if exc is not None:
            app_log.error("Uncaught exception handling request", exc_info=exc)
            self._fail_exchange(exchange)
            return
        if exchange._response_finished and exchange._delivered_end:
            self._advance(exchange)
        else:
            self._pump(exchange)

    def _bad_input(self, exchange: HTTP1Connection, error: HTTPInputError) -> None:
        exchange._failed = True
        self._stop_reading()
        # Raised while the request was being interpreted (too many
        # arguments, a malformed multipart body...): the client's fault.
        gen_log.info("Malformed HTTP request from %s: %s", _peer(self), error)
        if exchange._response_started:
            self.abort()
        else:
            self._send_error(400, str(error) or "malformed request")
            self._close_when_written()

    def _fail_exchange(self, exchange: HTTP1Connection) -> None:
        exchange._failed = True
        self._stop_reading()
        if exchange._response_started:
            self.abort()  # the response is cut short; its framing is lost
        else:
            self._send_error(500, "Internal Server Error")
            self._close_when_written()

    def response_finished(self, exchange: HTTP1Connection) -> None:
        if exchange._close_after:
            self._close_when_written()
            return
        if not exchange._request_complete:
            # Answered before the whole body arrived: the rest of the body
            # cannot be told apart from a next request safely, so close.
            self._close_when_written()
            return
        if exchange._waiting is None and exchange._delivered_end:
            self._advance(exchange)

    def _advance(self, exchange: HTTP1Connection) -> None:
        if not self._exchanges or self._exchanges[0] is not exchange:
            return
        self._exchanges.popleft()
        # The delegate holds the request, which holds this exchange: drop
        # the link so the finished request is freed by reference counting,
        # not left for the cyclic garbage collector.
        exchange.delegate = None
        if self._upgrade_data is not None and exchange is self._upgrade_exchange:
            self._continue_after_unused_upgrade(exchange)
            return
        if self._exchanges:
            self._pump(self._exchanges[0])
        elif self._pending_refusal is not None:
            self._send_error(self._pending_refusal.status, self._pending_refusal.message)
            self._close_when_written()
        elif self._life is ANSWERING:
            self._close_when_written()  # every request the peer sent is answered
        elif self._life is not CLOSED and self._current is None:
            self._arm(_IDLE_DEADLINE, self.params.idle_connection_timeout)
        if self._flow.reasons & APPLICATION_BEHIND and self._can_resume():
            self._flow.resume_reading(APPLICATION_BEHIND)

    # -- upgrades ---------------------------------------------------------------

    def _continue_after_unused_upgrade(self, exchange: HTTP1Connection) -> None:
        """The app answered an Upgrade (or CONNECT) request normally: go on
        speaking HTTP/1.1 with a fresh parser, unless that could desync."""
        data, self._upgrade_data = self._upgrade_data, None
        if self._life is UPGRADING:
            self._life = OPEN
        self._upgrade_exchange = None
        headers = exchange.headers
        if (
            exchange.start_line.method == "CONNECT"
            or headers.get("Content-Length", "0") != "0"
            or "Transfer-Encoding" in headers
        ):
            # llhttp stopped before any body: the rest is not HTTP we can trust.
            self._close_when_written()
            return
        self._parser = httptools.HttpRequestParser(self)
        if data:
            self.data_received(data)
        elif not self._exchanges:
            self._arm(_IDLE_DEADLINE, self.params.idle_connection_timeout)

    def detach(self, exchange: HTTP1Connection) -> Any:
        from squall.iostream import IOStream

        assert self.transport is not None
        data = self._upgrade_data or b""
        self._upgrade_data = None
        self._stop_reading()
        self._cancel_timer()
        self._exchanges.clear()
        transport, self.transport = self.transport, None
        self._life = CLOSED
        # The connection now belongs to the caller, not to the HTTP server:
        # it must not wait for it in close_all_connections.
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)
        self._flow.release()
        return IOStream._from_transport(transport, initial_data=data)

    # -- writing ------------------------------------------------------------------

    def write(self, data: bytes) -> asyncio.Future[None]:
        transport = self.transport
        if transport is None or self._life is CLOSED or transport.is_closing():
            from squall.iostream import StreamClosedError

            future: asyncio.Future[None] = self._loop.create_future()
            future.set_exception(StreamClosedError())
            # Callers often ignore this future (finish() after the client
            # left): mark the exception seen so asyncio does not log it;
            # awaiting the future still raises.
            future.exception()
            return future
        if data:
            transport.write(data)
        if self._flow.writing_paused:
            return self._flow.drain(self._loop)
        done = self._done_future
        if done is None:
            done = self._done_future = self._loop.create_future()
            done.set_result(None)
        return done

    def _stop_reading(self) -> None:
        """Read nothing more: answer what came, then close (ANSWERING)."""
        if self._life is not CLOSED:
            self._life = ANSWERING

    def _close_when_written(self) -> None:
        self._stop_reading()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # asyncio flushes buffered data first

    def abort(self) -> None:
        self._stop_reading()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection once pending output is written."""
        if self.transport is None and self._life is not CLOSED:
            # Never connected (or detached): nothing will call connection_lost.
            self.connection_lost(None)
            return
        self._close_when_written()

    # -- refusing bad input -----------------------------------------------------

    def _refuse(self, problem: rules.Reject) -> None:
        """Answer a bad request with its 4xx, after the good requests before it."""
        self._stop_reading()
        self._cancel_timer()
        gen_log.info("Malformed HTTP request from %s: %s", _peer(self), problem.message)
        self._current = None
        # The request the problem belongs to, if it got as far as a delegate:
        # the one whose message never completed.
        for failing in [ex for ex in self._exchanges if not ex._request_complete]:
            if failing._response_started:
                self.abort()
                return
            self._exchanges.remove(failing)
            failing._connection_lost()
        if self._exchanges:
            # Earlier complete requests are still being answered.
            self._pending_refusal = problem
            return
        self._send_error(problem.status, problem.message)
        self._close_when_written()

    def _send_error(self, status: int, message: str) -> None:
        reason = responses.get(status, "Error")
        body = f"{status} {reason}: {message}\n".encode()
        head = heads.format_response_head(
            ("HTTP/1.1", status, reason),
            {
                "Content-Type": ["text/plain; charset=utf-8"],
                "Content-Length": [str(len(body))],
                "Connection": ["close"],
                "Date": [heads.http_date()],
                "Server": [_SERVER_HEADER],
            },
        )
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head + body)

    # -- timeouts and flow control ------------------------------------------------

    # One timer per connection, re-armed lazily: arming a deadline records
    # it, and the timer is only rescheduled when the new deadline is earlier
    # than the one it is set for. Keep-alive traffic thus costs no timer
    # churn per request, yet every phase keeps its own timeout.

    def _arm(self, phase: int, timeout: float | None) -> None:
        if not timeout:
            self._phase = _NO_DEADLINE
            return
        self._phase = phase
        deadline = self._loop.time() + timeout
        self._deadline = deadline
        if self._timer is None or deadline < self._timer_when:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_when = deadline

    def _cancel_timer(self) -> None:
        self._phase = _NO_DEADLINE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        phase = self._phase
        if phase == _NO_DEADLINE or self._life is CLOSED:
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            self._timer_when = self._deadline
            return
        if phase == _BODY_RATE_DEADLINE and not self._body_rate_missed():
            return
        self._phase = _NO_DEADLINE
        if phase == _IDLE_DEADLINE:
            self._on_idle_timeout()
        elif phase == _HEADER_DEADLINE:
            self._on_header_timeout()
        else:
            self._on_body_timeout()

    def _body_rate_missed(self) -> bool:
        """Whether the body has fallen below the minimum rate; if not, the
        deadline moves to where the rate says it is."""
        exchange = self._current
        if exchange is None:
            return True  # _on_body_timeout finds nothing to do
        now = self._loop.time()
        if self._flow.reading_paused:
            # We stopped reading, not the peer sending: start the clock over.
            self._body_clock = now
            allowed = now + BODY_RATE_GRACE
        else:
            allowed = self._body_clock + BODY_RATE_GRACE + exchange._body_received / BODY_MIN_RATE
        if now >= allowed:
            return True
        self._deadline = allowed
        self._timer = self._loop.call_at(allowed, self._on_timer)
        self._timer_when = allowed
        return False

    def _on_idle_timeout(self) -> None:
        if not self._exchanges and self._current is None and self._message is not HEAD:
            self._close_when_written()

    def _on_header_timeout(self) -> None:
        if self._life is CLOSED:
            return
        if self._message is not HEAD and not self._exchanges and self._current is None:
            # Not a byte since the accept: close without an answer to nothing.
            gen_log.debug("Closing silent connection from %s", _peer(self))
            self._close_when_written()
            return
        if self._message is HEAD:
            gen_log.info("Timeout reading request headers from %s", _peer(self))
            self._stop_reading()
            if not self._exchanges:
                self._send_error(408, "timed out reading request headers")
            self._close_when_written()

    def _on_body_timeout(self) -> None:
        exchange = self._current
        if exchange is not None and not exchange._request_complete and self._life is not CLOSED:
            gen_log.info("Timeout reading request body from %s", _peer(self))
            self._stop_reading()
            if (
                not exchange._response_started
                and self._exchanges
                and self._exchanges[0] is exchange
            ):
                self._send_error(408, "timed out reading request body")
            self._close_when_written()

    def _can_resume(self) -> bool:
        if len(self._exchanges) > MAX_PIPELINED_REQUESTS // 2:
            return False
        return all(ex._buffered_body <= BODY_BUFFER_HIGH_WATER // 2 for ex in self._exchanges)


def _is_stream_closed(exc: BaseException) -> bool:
    from squall.iostream import StreamClosedError

    return isinstance(exc, StreamClosedError)


def _is_done(result: Any) -> bool:
    """A delegate call's result that needs no waiting: a finished future
    that neither failed nor was cancelled (``exception()`` would raise
    CancelledError for that one, inside data_received)."""
    return (
        isinstance(result, asyncio.Future)
        and result.done()
        and not result.cancelled()
        and result.exception() is None
    )


def _peer(protocol: HTTP1ServerProtocol) -> str:
    context = protocol.context
    return str(getattr(context, "remote_ip", None) or "unknown peer")
