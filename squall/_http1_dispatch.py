"""The server connection's core, below the parser: handing parsed requests
to their delegates in order, the responses' bookkeeping, writing, refusing
bad input, and the timeouts. ``HTTP1ServerProtocol`` (``_http1_server``)
adds the asyncio callbacks and the parser's.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable
from typing import Any

import httptools

from squall import _tornado_mode
from squall._http1 import _heads as heads
from squall._http1 import _limits
from squall._http1 import _requests as rules
from squall._http1._flow import APPLICATION_BEHIND, FlowControl
from squall._http1._limits import (
    BODY_BUFFER_HIGH_WATER,
    MAX_PIPELINED_REQUESTS,
    HTTP1ConnectionParameters,
)
from squall._http1._states import Life, Message
from squall._http1_exchange import HTTP1Connection
from squall.httputil import (
    HTTPInputError,
    HTTPServerConnectionDelegate,
    responses,
)
from squall.log import app_log, gen_log

__all__: list[str] = []

# Events buffered for a request whose delegate is not ready for them yet.
_HEADERS, _BODY, _END = 0, 1, 2
# What a connection's deadline is for.
_NO_DEADLINE, _IDLE_DEADLINE, _HEADER_DEADLINE, _BODY_DEADLINE, _BODY_RATE_DEADLINE = 0, 1, 2, 3, 4
# The connection's states (see squall._http1._states), as module names.
BETWEEN, HEAD, BODY = Message.BETWEEN, Message.HEAD, Message.BODY
OPEN, UPGRADING, ANSWERING, CLOSED = Life.OPEN, Life.UPGRADING, Life.ANSWERING, Life.CLOSED
# Tornado's log line for a request refused as malformed (programs and tests
# match its wording).
MALFORMED_LOG = "Malformed HTTP message from %s: %s"
# Tornado's log line for a head that outgrows its buffer (max_header_size),
# which squall refuses with 431 or 414.
UNSATISFIABLE_LOG = "Unsatisfiable read, closing connection: %s (from %s)"
_HEAD_TOO_LARGE = frozenset({414, 431})
# The answers to refused requests, by status: the status line alone.
_REFUSALS = {
    status: f"HTTP/1.1 {status} {responses[status]}\r\n\r\n".encode()
    for status in (400, 408, 413, 414, 431, 500, 505)
}
# Under the Tornado alias: refusals Tornado answers with a plain 400 (a body
# over max_body_size), and those it answers by closing the connection (a
# header block over max_header_size, a request too slow to arrive, a
# delegate that raised before answering).
_TORNADO_PLAIN_400 = frozenset({413})
_TORNADO_SILENT = frozenset({408, 414, 431, 500})


class _Dispatcher(asyncio.Protocol):
    """State and the delivery side of one server connection (see the module)."""

    # One per connection, touched on every request and held for as long as
    # the connection is kept alive: slots keep it small and compact in memory.
    __slots__ = (
        "__weakref__",
        "_accepted_at",
        "_body_clock",
        "_body_parts",
        "_body_pending",
        "_chunk",
        "_chunked_packet",
        "_context_factory",
        "_current",
        "_deadline",
        "_done_future",
        "_eof_timer",
        "_exchanges",
        "_fields",
        "_flow",
        "_head_parts",
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
        "_packet_began_idle",
        "_packet_end",
        "_packet_idle",
        "_parser",
        "_pending_refusal",
        "_phase",
        "_problem",
        "_raw_header_bytes",
        "_stream_close_callback",
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
        on_close: Callable[[Any], None] | None = None,
    ) -> None:
        self.delegate = delegate
        self.params = params
        self._context_factory = context_factory
        self._on_close = on_close
        # Set through ``request.connection.stream.set_close_callback``.
        self._stream_close_callback: Callable[[], None] | None = None
        self.transport: asyncio.Transport | None = None
        self.context: Any = None
        # httptools, or the fallback parser after llhttp refused a request.
        self._parser: Any = httptools.HttpRequestParser(self)
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
        # A head's bytes while it spans packets (see _failed_head).
        self._head_parts: list[bytes] = []
        self._chunk: bytes = b""
        self._packet_idle = False
        self._packet_began_idle = False  # whether this packet began between messages
        self._chunked_packet: bytes | None = None  # the last packet a chunked body began in
        self._line_at_start = False
        self._next_line_at = 0  # where the next request line may start in _chunk
        self._line_end = 0  # where the request line ended in _chunk (<= 0: before it)
        self._packet_end = b""  # the previous packet's last bytes
        self._current: HTTP1Connection | None = None
        self._accepted_at = 0.0
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

    def _continue_after_unused_upgrade(self, exchange: HTTP1Connection) -> None:
        raise NotImplementedError  # HTTP1ServerProtocol's

    def detach(self, exchange: HTTP1Connection) -> Any:
        raise NotImplementedError  # HTTP1ServerProtocol's

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
                if exchange._response_finished:
                    # Answered already (a handler that returned early): the
                    # rest of the body is read and dropped, as Tornado does.
                    return True
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
        gen_log.info(MALFORMED_LOG, _peer(self), error)
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

    def shutdown(self) -> None:
        """The server is shutting down gracefully (``HTTPServer.shutdown``).

        An idle connection closes now. Otherwise the requests already
        received are answered, the last with ``Connection: close``, and
        nothing more is read; a request still arriving is read to its end
        (its head says close, from the server's ``no_keep_alive``). A
        request whose delegate asks to end now (a long poll, see
        ``HTTPMessageDelegate.on_server_shutdown``) closes the connection
        at once, which its handler hears as ``on_connection_close``.
        """
        if self._life is not OPEN:
            return  # closing already, or being taken over (an upgrade)
        exchanges = self._exchanges
        for exchange in exchanges:
            delegate = exchange.delegate
            if (
                not exchange._response_started
                and delegate is not None
                and delegate.on_server_shutdown()
            ):
                self.abort()
                return
        if self._message is not BETWEEN:
            current = self._current
            if current is not None and not current._response_started:
                current._close_after = True
            return
        if not exchanges:
            if (
                self._phase == _HEADER_DEADLINE
                and self._loop.time() - self._accepted_at < _limits.SHUTDOWN_FIRST_REQUEST_GRACE
            ):
                return  # just accepted: its first request is likely on its way
            self._close_when_written()
            return
        self._life = ANSWERING  # closes once the last one is answered (_advance)
        last = exchanges[-1]
        if not last._response_started:
            last._close_after = True

    def _close_when_written(self) -> None:
        self._stop_reading()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # asyncio flushes buffered data first

    def abort(self) -> None:
        """Close the connection now, dropping pending output."""
        if self._never_connected():
            return
        self._stop_reading()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection once pending output is written."""
        if self._never_connected():
            return
        self._close_when_written()

    def _never_connected(self) -> bool:
        # Never connected (a TLS handshake that failed, or detached):
        # nothing will call connection_lost, so it is called here.
        if self.transport is None and self._life is not CLOSED:
            self.connection_lost(None)
            return True
        return False

    # -- refusing bad input -----------------------------------------------------

    def _refuse(self, problem: rules.Reject) -> None:
        """Answer a bad request with its 4xx, after the good requests before it."""
        self._stop_reading()
        self._cancel_timer()
        if problem.status in _HEAD_TOO_LARGE:
            gen_log.info(UNSATISFIABLE_LOG, problem.message, _peer(self))
        else:
            gen_log.info(MALFORMED_LOG, _peer(self), problem.message)
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
        """Refuse with ``status``: a bare status line, as Tornado answers a
        request it cannot read (the reason is in the log line), and the
        connection closes after it. Under the Tornado alias a refusal
        squall answers more precisely than Tornado is answered as Tornado
        does (see ``_tornado_mode``)."""
        if _tornado_mode.answer_as_tornado:
            if status in _TORNADO_SILENT:
                return  # Tornado closes without a word
            if status in _TORNADO_PLAIN_400:
                status = 400
        answer = _REFUSALS.get(status)
        if answer is None:
            answer = f"HTTP/1.1 {status} {responses.get(status, 'Error')}\r\n\r\n".encode()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)

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

    def _body_timeout_changed(self, exchange: HTTP1Connection, timeout: float | None) -> None:
        """A delegate set its request's body timeout (``set_body_timeout``,
        from a handler's ``prepare``): if that body is still arriving, its
        deadline is now ``timeout`` from now."""
        if self._current is exchange and self._message is BODY and timeout:
            self._arm(_BODY_DEADLINE, timeout)

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
            allowed = now + _limits.BODY_RATE_GRACE
        else:
            allowed = (
                self._body_clock
                + _limits.BODY_RATE_GRACE
                + exchange._body_received / _limits.BODY_MIN_RATE
            )
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
            gen_log.info("Timeout reading body from %s", _peer(self))
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


def _peer(protocol: _Dispatcher) -> str:
    context = protocol.context
    return str(getattr(context, "remote_ip", None) or "unknown peer")
