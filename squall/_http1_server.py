"""``HTTP1ServerProtocol``: HTTP/1.x on one asyncio transport.

A thin ``asyncio.Protocol`` around the connection's state machine
(``squall._http1._states``): bytes go to httptools (llhttp), whose
callbacks record what they parse (and any problem, never raising); the
dispatcher below (``_http1_dispatch``) hands complete events to the
delegates in order and answers. Flow control is ``_http1._flow``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
from typing import Any

import httptools

from squall import _tornado_mode
from squall._http1 import _limits
from squall._http1 import _requests as rules
from squall._http1._fallback import FallbackRequestParser, looks_like_request_line
from squall._http1._flow import APPLICATION_BEHIND
from squall._http1._inflate import BoundedInflater, InflateError, InflateLimitError
from squall._http1._limits import (
    MAX_HEADER_COUNT,
    MAX_PIPELINED_REQUESTS,
    MAX_REQUEST_LINE,
    RAW_HEADER_SLACK,
)
from squall._http1_dispatch import (
    _BODY,
    _BODY_DEADLINE,
    _BODY_RATE_DEADLINE,
    _END,
    _HEADER_DEADLINE,
    _HEADERS,
    _IDLE_DEADLINE,
    _NO_DEADLINE,
    ANSWERING,
    BETWEEN,
    BODY,
    CLOSED,
    HEAD,
    OPEN,
    UPGRADING,
    _Dispatcher,
)
from squall._http1_exchange import HTTP1Connection
from squall.httputil import (
    HTTPHeaders,
    RequestStartLine,
)
from squall.httputil._headers import _normalize_header
from squall.ioloop import track_transport, untangle_transport
from squall.log import app_log

__all__ = ["HTTP1ServerProtocol"]

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


class HTTP1ServerProtocol(_Dispatcher):
    """Serves HTTP/1.x on one transport, for one server delegate."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport  # type: ignore[assignment]
        # So that IOLoop.close() aborts it rather than hang or leak it.
        try:
            track_transport(transport, self)
        except RuntimeError:  # driven without a running loop (sans-I/O tests)
            pass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - the peer may be gone already
                pass
        self._flow.attach(transport)  # type: ignore[arg-type]
        self._accepted_at = self._loop.time()
        self.context = self._context_factory(transport)
        # The first request's head is due within the header timeout of the
        # accept, as nginx's client_header_timeout counts: a connection
        # that sends nothing is not held for the whole idle timeout. Nor
        # past the idle timeout, if that is shorter: an unused connection
        # is idle (Tornado closes it then).
        header, idle = self.params.header_timeout, self.params.idle_connection_timeout
        self._arm(_HEADER_DEADLINE, min(header, idle) if header and idle else header or idle)

    def connection_lost(self, exc: Exception | None) -> None:
        untangle_transport(self.transport)
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
        stream_callback, self._stream_close_callback = self._stream_close_callback, None
        if stream_callback is not None:
            try:
                stream_callback()
            except Exception:
                app_log.error("Uncaught exception in stream close callback", exc_info=True)

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
            self._eof_timer = self._loop.call_later(_limits.HALF_CLOSE_GRACE, self._on_eof_grace)
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
        self._packet_idle = self._packet_began_idle = self._message is BETWEEN
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
                head = self._failed_head(e, data)
                if head is not None:
                    # Parse that request again with Tornado's grammar, which
                    # accepts it or says why not; it keeps the connection.
                    self._parser = FallbackRequestParser(self)
                    self._message = BETWEEN
                    self.data_received(head)
                    return
                if self._message is BETWEEN and str(e).startswith("Data after `Connection"):
                    # Bytes after a request that closes the connection: they
                    # are dropped unread, as Tornado drops them.
                    self._stop_reading()
                else:
                    self._problem = rules.reject_for_parser_error(e, self._parser, data)
        if self._body_parts:
            self._flush_body()
        if self._message is HEAD and self._problem is None:
            if self._phase != _HEADER_DEADLINE:
                self._arm(_HEADER_DEADLINE, self.params.header_timeout)
            # The head's bytes so far, in case llhttp refuses it later and it
            # must be parsed again (_failed_head).
            if self._raw_header_bytes == 0:  # the packet it began in
                start = self._known_message_start(data)
                self._head_parts = [] if start is None else [data[start:]]
            elif self._head_parts:
                self._head_parts.append(data)
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

    def _failed_head(self, error: Exception, data: bytes) -> bytes | None:
        """The bytes of the request llhttp just refused, from its first
        byte on, for the fallback parser; None if that parser is already in
        charge, llhttp did not fail in a head, or where the request began
        is not known (then llhttp's refusal stands)."""
        if self._message is not HEAD or isinstance(self._parser, FallbackRequestParser):
            return None
        if str(error).startswith("Pause on PRI"):
            return None  # the HTTP/2 preface: answered 505 as it is
        if self._raw_header_bytes:  # the head began in an earlier packet
            parts, self._head_parts = self._head_parts, []
            head = b"".join(parts) + data if parts else b""
        else:
            start = self._known_message_start(data)
            head = b"" if start is None else data[start:]
        return head if looks_like_request_line(head) else None

    def _known_message_start(self, data: bytes) -> int | None:
        """Where the message being parsed began in ``data`` (the packet),
        if that is known for certain: at its start, or after requests whose
        ends were tracked exactly (no chunked body in this packet; one
        that began earlier would have left the packet not idle). A guess
        could take the inside of a body for a request: none is made."""
        if self._line_at_start:
            return 0
        if not self._packet_began_idle or self._chunked_packet is data:
            return None
        return self._next_line_at

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
        if self._header_count > MAX_HEADER_COUNT and not _tornado_mode.answer_as_tornado:
            self._problem = rules.Reject(431, "too many header lines")
        elif self._header_bytes > self.params.max_header_size:
            self._problem = rules.Reject(431, "header block too large")

    def on_headers_complete(self) -> None:
        if self._in_request_line:
            self._check_request_line()
        self._message = BODY
        self._phase = _NO_DEADLINE
        # _check_header_limits, inlined: this runs once per request.
        if self._problem is not None:
            return
        # Under the alias only the size bounds the header block, as in
        # Tornado, which has no count limit (its tests send thousands).
        if self._header_count > MAX_HEADER_COUNT and not _tornado_mode.answer_as_tornado:
            self._problem = rules.Reject(431, "too many header lines")
            return
        if self._header_bytes > self.params.max_header_size:
            self._problem = rules.Reject(431, "header block too large")
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
                self._problem = rules.Reject(413, "Content-Length too long")
                return
        elif "Transfer-Encoding" not in fields:
            return  # no body: the message is complete already
        else:
            # Where a chunked body ends is not tracked (_next_line_at stays
            # before it): note the packet, for _failed_head.
            self._chunked_packet = self._chunk
        if exchange.body_timeout is not None:  # the delegate may have set it
            self._arm(_BODY_DEADLINE, exchange.body_timeout)
        else:
            self._body_clock = self._loop.time()
            self._arm(_BODY_RATE_DEADLINE, _limits.BODY_RATE_GRACE)

    def on_body(self, body: bytes) -> None:
        exchange = self._current
        if exchange is None or self._problem is not None:
            return
        exchange._body_received += len(body)
        if exchange._body_received > exchange.max_body_size:
            # Tornado's wording, per framing.
            chunked = "Transfer-Encoding" in exchange.headers
            reason = "chunked body too large" if chunked else "Content-Length too long"
            self._problem = rules.Reject(413, reason)
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
        chunk_size = self.params.chunk_size
        if inflater is None:
            if len(body) <= chunk_size:
                self._deliver(exchange, _BODY, body)
            else:
                self._deliver_pieces(exchange, body, chunk_size)
            return
        inflater.limit = exchange.max_body_size
        try:
            pieces = inflater.inflate(body)
        except InflateLimitError:
            self._problem = rules.Reject(413, "decompressed body too large")
            return
        except InflateError as e:
            self._problem = rules.Reject(400, _invalid_gzip(e))
            return
        for piece in pieces:
            self._deliver_pieces(exchange, piece, chunk_size)

    def _deliver_pieces(self, exchange: HTTP1Connection, body: bytes, chunk_size: int) -> None:
        # data_received never gets more than chunk_size bytes at once, as
        # Tornado promises: a handler may size its buffers by it.
        for start in range(0, len(body), chunk_size):
            self._deliver(exchange, _BODY, body[start : start + chunk_size])

    def on_message_complete(self) -> None:
        if self._body_parts:
            self._flush_body()
        exchange = self._current
        self._current = None
        self._message = BETWEEN
        self._phase = _NO_DEADLINE
        if exchange is None or self._problem is not None:
            return
        if exchange._inflater is not None and not self._finish_inflating(exchange):
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

    def _finish_inflating(self, exchange: HTTP1Connection) -> bool:
        """The end of a gzip request body: False (and the request refused)
        if the stream was cut short or garbage follows it."""
        assert exchange._inflater is not None
        try:
            pieces = exchange._inflater.finish()
        except InflateError as e:
            self._problem = rules.Reject(400, _invalid_gzip(e))  # data_received refuses
            return False
        for piece in pieces:
            self._deliver_pieces(exchange, piece, self.params.chunk_size)
        return True

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


def _invalid_gzip(error: Exception) -> str:
    # Tornado's words first: programs and tests match "invalid gzip data".
    return "invalid gzip data: " + str(error).removeprefix("invalid gzip body: ")
