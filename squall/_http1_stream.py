"""HTTP/1.x over an ``IOStream``: Tornado's ``HTTP1Connection``, in either
role, as ``squall.http1connection`` offers it (``HTTP1ServerConnection``,
the server loop over it, is in ``_http1_stream_server``).

squall's own server does not use these: it serves from an asyncio protocol
(``_http1_server``), with its own per-request connection object. These
classes are for code that holds a stream and speaks HTTP on it itself, as
Tornado's API allows: a client reading a response from a stream it
connected, or a server loop over an accepted stream.

The wire format is the HTTP/1 core's (``squall._http1``): llhttp parses
every head and every body byte (``_response`` for responses,
``_request_in`` for requests), heads are written by ``_heads``, and
persistence follows ``_persistence``. This module only decides how many
bytes to ask of the stream, so that no byte of the next message is read:
a head up to its blank line, a Content-Length body exactly, a chunked body
chunk by chunk.

Errors::

    httputil.HTTPInputError     bad input from the peer: logged as
                                "Malformed HTTP message from <context>: ...",
                                a server answers 400, and the connection
                                closes (``read_response`` resolves False)
    httputil.HTTPOutputError    the application wrote more or less than its
                                Content-Length
    iostream.StreamClosedError  the stream closed under a read or a write
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from squall._http1 import _heads as heads
from squall._http1._inflate import BoundedInflater, InflateError, InflateLimitError
from squall._http1._limits import HTTP1ConnectionParameters
from squall._http1._persistence import keeps_alive
from squall._http1._request_in import RequestParser
from squall._http1._requests import Reject
from squall._http1._response import ResponseError, ResponseParser
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from squall.iostream import IOStream, StreamClosedError
from squall.log import app_log, gen_log

__all__ = ["HTTP1Connection"]

# Interim (1xx) responses a client accepts before the final one: Tornado
# stops after ten. RFC 9110 §15.2 sets no bound, but an endless stream of
# them would hold the client for ever.
MAX_INFORMATIONAL_RESPONSES = 10
# A chunk-size line (RFC 9112 §7.1) longer than this is refused: Tornado's
# bound (64 bytes), ample for a size and a short extension.
MAX_CHUNK_LINE = 64
# Chunks parsed from already-buffered data between two turns of the event
# loop: a body of many tiny chunks must not keep other connections waiting.
# No standard sets it; 100 chunks cost well under a millisecond.
CHUNKS_PER_YIELD = 100
# The end of a head: CRLF CRLF, or bare LFs, which llhttp then refuses with
# a clear message instead of the read waiting for a CRLF that never comes.
_HEAD_END = rb"\r?\n\r?\n"
# What a server answers to any malformed request (Tornado's bare 400).
_BAD_REQUEST = heads.format_response_head(("HTTP/1.1", 400, "Bad Request"), {})
# Request methods whose body a client frames with chunked encoding when no
# length is given (as Tornado does; others are sent without a body).
_BODY_METHODS = ("POST", "PUT", "PATCH")


class _DelegateFailed(Exception):
    """A delegate raised; it has been logged, the message is abandoned."""


class HTTP1Connection(HTTPConnection):
    """One HTTP/1.x message exchange at a time over ``stream``.

    ``is_client`` chooses the role: a client writes a request
    (``write_headers``/``write``/``finish``) and reads the response with
    ``read_response``; a server (normally driven by
    ``HTTP1ServerConnection``) reads a request with ``read_response`` and
    writes the response. ``context`` names the peer in log lines.
    """

    def __init__(
        self,
        stream: IOStream,
        is_client: bool,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.is_client = is_client
        self.stream: IOStream | None = stream
        self.params = params if params is not None else HTTP1ConnectionParameters()
        self.context = context
        self.no_keep_alive = self.params.no_keep_alive
        self._max_body_size = self.params.max_body_size
        self._body_timeout = self.params.body_timeout
        self._close_callback: Callable[[], None] | None = None
        # Our side of the exchange is written (or the stream is gone): a
        # message is over only when both directions are. A reader that must
        # wait for it waits on ``_finish_waiter``.
        self._finished = False
        self._finish_waiter: asyncio.Future[None] | None = None
        self._disconnect_on_finish = False
        self._pending_write: asyncio.Future[None] | None = None
        self._timed_out = False
        # The request of this exchange (written by a client, read by a server).
        self._request_start_line: RequestStartLine | None = None
        self._request_headers: HTTPHeaders | None = None
        # Output framing.
        self._chunking_output = False
        self._expected_content_remaining: int | None = None
        self._discard_body = False  # the answer to HEAD has no body
        # The message being read: its parser, its body's framing, and
        # whether its delegate has been given headers (and so must be told
        # if the message fails).
        self._parser: ResponseParser | RequestParser = ResponseParser()
        self._framing: tuple[str, int] = ("none", 0)
        self._delegate_told = False

    # -- reading ---------------------------------------------------------------

    def read_response(self, delegate: HTTPMessageDelegate) -> Awaitable[bool]:
        """Read one message (a response for a client, a request for a server)
        and give it to ``delegate``.

        Resolves True once the message was delivered whole and both sides
        of the exchange are done; False if it failed (bad input, a failing
        delegate, a body timeout) or the stream was detached. As in Tornado,
        a message that ends the connection (``Connection: close``, a body
        delimited by the close) still gives True: ``stream.closed()`` tells.
        Raises ``StreamClosedError`` if the stream closes mid-message.
        """
        if self.params.decompress:
            delegate = _InflatingDelegate(delegate, self.params.chunk_size, self._max_body_size)
        return self._read_message(delegate)

    async def _read_message(self, delegate: HTTPMessageDelegate) -> bool:
        self._delegate_told = False
        try:
            await self._read_heads(delegate)
            if self.stream is None:
                return False  # detached by the delegate
            await self._read_body_in_time(delegate)
            if self._timed_out:
                return False
            if self.stream is None:
                return False
            self._call(delegate.finish)
            self._delegate_told = False
            stream = self.stream
            if stream is None:
                return False
            if not self._finished and not stream.closed():
                stream.set_close_callback(self._on_connection_close)
                self._finish_waiter = asyncio.get_running_loop().create_future()
                await self._finish_waiter
            if self.is_client and self._disconnect_on_finish:
                self.close()
            return self.stream is not None
        except HTTPInputError as e:
            gen_log.info("Malformed HTTP message from %s: %s", self.context, e)
            if not self.is_client and self.stream is not None and not self.stream.closed():
                try:
                    await self.stream.write(_BAD_REQUEST)
                except StreamClosedError:
                    pass
            self.close()
            # As Tornado: a client's delegate hears of the failure even when
            # the head itself was bad.
            self._delegate_told = self._delegate_told or self.is_client
            return False
        except _DelegateFailed:
            self.close()
            return False
        except StreamClosedError:
            if self._timed_out:
                return False
            raise
        finally:
            # A delegate that detached the stream took it over knowingly.
            if self._delegate_told and self.stream is not None:
                self._delegate_told = False
                try:
                    delegate.on_connection_close()
                except Exception:
                    app_log.error("Uncaught exception in on_connection_close", exc_info=True)
            self._clear_callbacks()

    async def _read_heads(self, delegate: HTTPMessageDelegate) -> None:
        """Read the head (for a client, interim 1xx heads first), give each
        to the delegate; leave the body's framing in ``self._framing``."""
        interim = 0
        while True:
            data = await self._read_head_bytes()
            if data is None:
                raise StreamClosedError()
            start_line: RequestStartLine | ResponseStartLine
            if self.is_client:
                response_parser = ResponseParser()
                self._parser = response_parser
                start_line, headers = self._parse_response_head(response_parser, data)
            else:
                request_parser = RequestParser()
                self._parser = request_parser
                start_line, headers = self._parse_request_head(request_parser, data)
            self._delegate_told = True
            await self._call_async(delegate.headers_received, start_line, headers)
            if self.stream is None:
                return
            if isinstance(start_line, ResponseStartLine) and 100 <= start_line.code < 200:
                if "Content-Length" in headers or "Transfer-Encoding" in headers:
                    raise HTTPInputError(f"Response code {start_line.code} cannot have body")
                if interim >= MAX_INFORMATIONAL_RESPONSES:
                    raise HTTPInputError("Too many 1xx responses")
                interim += 1
                continue
            self._framing = self._body_framing(start_line, headers)
            if (
                isinstance(start_line, RequestStartLine)
                and start_line.version == "HTTP/1.1"
                and headers.get("Expect", "").lower() == "100-continue"
                and self._framing[0] != "none"
                and self._pending_write is None
            ):
                # RFC 9110 §10.1.1: the client waits for this before the body.
                self._write(heads.CONTINUE_100)
            return

    async def _read_head_bytes(self) -> bytes | None:
        stream = self.stream
        assert stream is not None
        future = stream.read_until_regex(_HEAD_END, max_bytes=self.params.max_header_size)
        timeout = self.params.header_timeout
        if self.is_client or not timeout:
            # A client waits as long as the server takes to answer (its own
            # request timeout bounds that); the header timeout guards a
            # server against peers that hold a connection open silently.
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            future.add_done_callback(_retrieve)
            self.close()
            return None

    def _parse_response_head(
        self, parser: ResponseParser, data: bytes
    ) -> tuple[ResponseStartLine, HTTPHeaders]:
        try:
            head = parser.parse_head(data)
        except ResponseError as e:
            raise HTTPInputError(_response_problem(data, str(e))) from None
        if parser.switching:
            parser.no_body()  # what follows a 101 is another protocol's
        start_line = ResponseStartLine(head.version, head.code, head.reason)
        if head.code >= 200:
            request = self._request_start_line
            self._disconnect_on_finish = (
                request is None
                or self.no_keep_alive
                or not head.keeps_alive()
                or not keeps_alive(
                    request.version,
                    self._request_headers.get_list("Connection")
                    if self._request_headers is not None
                    else None,
                )
            )
        return start_line, head.headers

    def _parse_request_head(
        self, parser: RequestParser, data: bytes
    ) -> tuple[RequestStartLine, HTTPHeaders]:
        try:
            head = parser.parse_head(data)
        except Reject as e:
            raise HTTPInputError(e.message) from None
        start_line = RequestStartLine(head.method, head.target, head.version)
        headers = head.headers
        self._request_start_line = start_line
        self._request_headers = headers
        self._disconnect_on_finish = self.no_keep_alive or not keeps_alive(
            head.version, headers.get_list("Connection")
        )
        self._discard_body = head.method == "HEAD"
        return start_line, headers

    def _body_framing(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> tuple[str, int]:
        """How the body is delimited: ("none" | "length" | "chunked" |
        "close", length). llhttp has already refused contradictory or
        malformed framing fields."""
        if isinstance(start_line, ResponseStartLine):
            code = start_line.code
            request = self._request_start_line
            if code == 204 and (
                "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0"
            ):
                raise HTTPInputError(f"Response with code {code} should not have body")
            if code in (204, 304) or (request is not None and request.method == "HEAD"):
                return ("none", 0)
            if code == 101:
                # What follows is another protocol's: the delegate detaches
                # the stream, or it is not reused for HTTP.
                self._disconnect_on_finish = True
                return ("none", 0)
        if "Transfer-Encoding" in headers:
            coding = headers["Transfer-Encoding"]
            if coding.strip().lower() != "chunked":
                raise HTTPInputError(f"Unsupported Transfer-Encoding {coding}")
            return ("chunked", 0)
        if "Content-Length" in headers:
            length = int(headers["Content-Length"])
            if length > self._max_body_size:
                raise HTTPInputError("Content-Length too long")
            return ("length", length)
        if isinstance(start_line, ResponseStartLine):
            self._disconnect_on_finish = True
            return ("close", 0)
        return ("none", 0)

    async def _read_body_in_time(self, delegate: HTTPMessageDelegate) -> None:
        timeout = self._body_timeout
        if not timeout:
            await self._read_body(delegate)
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, self._on_body_timeout)
        try:
            await self._read_body(delegate)
        finally:
            timer.cancel()

    def _on_body_timeout(self) -> None:
        gen_log.info("Timeout reading body from %s", self.context)
        self._timed_out = True
        self.close()

    async def _read_body(self, delegate: HTTPMessageDelegate) -> None:
        kind, length = self._framing
        parser = self._parser
        stream = self.stream
        assert stream is not None
        if kind == "none":
            if isinstance(parser, ResponseParser):
                parser.no_body()
            return
        chunk_size = self.params.chunk_size
        if kind == "length":
            remaining = length
            while remaining > 0:
                data = await stream.read_bytes(min(chunk_size, remaining), partial=True)
                remaining -= len(data)
                await self._deliver(delegate, self._feed(data))
            return
        if kind == "close":
            received = 0
            while True:
                try:
                    data = await stream.read_bytes(chunk_size, partial=True)
                except StreamClosedError:
                    if self._timed_out:
                        raise
                    return
                received += len(data)
                if received > self._max_body_size:
                    raise HTTPInputError("Body too long")
                await self._deliver(delegate, self._feed(data))
        await self._read_chunked(delegate, stream, chunk_size)

    async def _read_chunked(
        self, delegate: HTTPMessageDelegate, stream: IOStream, chunk_size: int
    ) -> None:
        received = 0
        # Chunks already received are handed over together (up to
        # chunk_size): a body sent as thousands of tiny chunks reaches the
        # delegate in a few calls, not one per chunk. What waits is
        # delivered as soon as the stream has nothing more buffered.
        pending: list[bytes] = []
        pending_size = 0
        chunks = 0
        while True:
            line = await stream.read_until(b"\r\n", max_bytes=MAX_CHUNK_LINE)
            self._feed(line)  # llhttp checks the line before it is trusted
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                break
            chunks += 1
            if chunks % CHUNKS_PER_YIELD == 0:
                # Buffered chunks are read without waiting: let the loop run
                # other work now and then while thousands are parsed.
                await asyncio.sleep(0)
            received += size
            if received > self._max_body_size:
                raise HTTPInputError("chunked body too large")
            remaining = size + 2  # the data and its CRLF
            while remaining > 0:
                data = await stream.read_bytes(min(chunk_size, remaining), partial=True)
                remaining -= len(data)
                for piece in self._feed(data):
                    pending.append(piece)
                    pending_size += len(piece)
                if pending_size >= chunk_size or not _buffered(stream):
                    await self._deliver(delegate, pending)
                    pending, pending_size = [], 0
        await self._deliver(delegate, pending)
        # The trailer section (RFC 9112 §7.1.2) up to its empty line.
        parser = self._parser
        trailer = 0
        while not parser.complete:
            line = await stream.read_until(b"\r\n", max_bytes=self.params.max_header_size)
            trailer += len(line)
            if trailer > self.params.max_header_size:
                raise HTTPInputError("chunked trailer too large")
            self._feed(line)

    def _feed(self, data: bytes) -> list[bytes]:
        """Body pieces llhttp finds in ``data``, its complaints as HTTPInputError."""
        parser = self._parser
        try:
            return parser.feed(data)
        except Reject as e:
            raise HTTPInputError(_body_problem(e.message)) from None
        except ResponseError as e:
            raise HTTPInputError(_body_problem(str(e))) from None

    async def _deliver(self, delegate: HTTPMessageDelegate, pieces: list[bytes]) -> None:
        if not pieces:
            return
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        step = self.params.chunk_size
        for start in range(0, len(data), step):
            if self.stream is None:
                return
            await self._call_async(delegate.data_received, data[start : start + step])

    # -- delegate calls --------------------------------------------------------

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except HTTPInputError:
            raise
        except Exception:
            app_log.error("Uncaught exception", exc_info=True)
            raise _DelegateFailed() from None

    async def _call_async(self, method: Callable[..., Any], *args: Any) -> None:
        result = self._call(method, *args)
        if result is not None and inspect.isawaitable(result):
            try:
                await result
            except HTTPInputError:
                raise
            except Exception:
                app_log.error("Uncaught exception", exc_info=True)
                raise _DelegateFailed() from None

    # -- connection state -------------------------------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the stream closes outside a message's reading
        (the delegate's ``on_connection_close`` covers that): for a server,
        a client leaving while its response is being written."""
        self._close_callback = callback
        if self.stream is not None:
            self.stream.set_close_callback(self._on_connection_close if callback else None)

    def _on_connection_close(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            callback()
        self._set_finished()
        self._clear_callbacks()

    # Per-message limits, set by the delegate before the body is read.

    def set_max_body_size(self, max_body_size: int) -> None:
        """Limit the current message's body to ``max_body_size`` bytes."""
        self._max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """Limit the time the current message's body may take to arrive."""
        self._body_timeout = timeout

    def _set_finished(self) -> None:
        self._finished = True
        waiter = self._finish_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _clear_callbacks(self) -> None:
        self._close_callback = None
        if self.stream is not None:
            self.stream.set_close_callback(None)

    def close(self) -> None:
        """Close the stream; a pending ``read_response`` resolves False."""
        if self.stream is not None:
            self.stream.close()
        self._clear_callbacks()
        self._set_finished()

    def detach(self) -> IOStream:
        """Take the stream over: this connection stops using it (a pending
        ``read_response`` resolves False) and returns it."""
        handed_over = self.stream
        assert handed_over is not None, "already detached"
        # The stream's close callback still points at us: unhook it first.
        self._clear_callbacks()
        self.stream = None
        self._set_finished()
        return handed_over

    # -- writing ---------------------------------------------------------------

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        """Send the start line and headers (a request for a client, a
        response for a server), and ``chunk`` as the first body piece."""
        fields = headers._lists
        if self.is_client:
            if not isinstance(start_line, RequestStartLine):
                raise TypeError("a client writes a RequestStartLine")
            self._request_start_line = start_line
            self._request_headers = headers
            self._chunking_output = (
                start_line.method in _BODY_METHODS
                and "Content-Length" not in fields
                and "Transfer-Encoding" not in fields
            )
            if self._chunking_output:
                headers["Transfer-Encoding"] = "chunked"
            self._discard_body = False
            head = heads.format_request_head(
                start_line.method, start_line.path, fields, start_line.version
            )
        else:
            if not isinstance(start_line, ResponseStartLine):
                raise TypeError("a server writes a ResponseStartLine")
            head = self._response_head(start_line, headers)
        if "Content-Length" in fields and not (
            not self.is_client
            and isinstance(start_line, ResponseStartLine)
            and start_line.code == 304
        ):
            try:
                self._expected_content_remaining = int(headers["Content-Length"])
            except ValueError:
                raise HTTPOutputError("invalid Content-Length header") from None
        else:
            self._expected_content_remaining = None
        if chunk:
            head += self._format_chunk(chunk)
        return self._write(head)

    def _response_head(self, start_line: ResponseStartLine, headers: HTTPHeaders) -> bytes:
        fields = headers._lists
        request = self._request_start_line
        version = request.version if request is not None else "HTTP/1.1"
        code = start_line.code
        bodiless = self._discard_body or code in (204, 304) or 100 <= code < 200
        framed = "Content-Length" in fields or "Transfer-Encoding" in fields
        self._chunking_output = version == "HTTP/1.1" and not bodiless and not framed
        if not self._chunking_output and not bodiless and not framed:
            # An HTTP/1.0 response of unknown length ends when we close.
            self._disconnect_on_finish = True
        if 100 <= code < 200:
            pass  # an interim answer says nothing about persistence
        elif self._disconnect_on_finish:
            if version == "HTTP/1.1":
                headers["Connection"] = "close"
        elif version == "HTTP/1.0":
            headers["Connection"] = "Keep-Alive"
        if self._chunking_output:
            headers["Transfer-Encoding"] = "chunked"
        return heads.format_response_head(start_line, fields)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        """Send a piece of the body (framed as a chunk when chunking)."""
        return self._write(self._format_chunk(chunk))

    def _format_chunk(self, chunk: bytes) -> bytes:
        remaining = self._expected_content_remaining
        if remaining is not None and not self._discard_body:
            remaining -= len(chunk)
            self._expected_content_remaining = remaining
            if remaining < 0:
                if self.stream is not None:
                    self.stream.close()
                raise HTTPOutputError("Tried to write more data than Content-Length")
        if self._discard_body or not chunk:
            return b""
        if self._chunking_output:
            return heads.frame_chunk(chunk)
        return chunk

    def _write(self, data: bytes) -> asyncio.Future[None]:
        stream = self.stream
        if stream is None or stream.closed():
            future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
            future.set_exception(StreamClosedError())
            future.add_done_callback(_retrieve)
            return future
        self._pending_write = stream.write(data)
        return self._pending_write

    def finish(self) -> None:
        """The message is written; for a server, the next request may be read."""
        remaining = self._expected_content_remaining
        if remaining and not self._discard_body and self.stream is not None:
            self.stream.close()
            raise HTTPOutputError(f"Tried to write {remaining} bytes less than Content-Length")
        if self._chunking_output and self.stream is not None and not self.stream.closed():
            self._pending_write = self.stream.write(heads.LAST_CHUNK)
        self._chunking_output = False
        pending = self._pending_write
        if pending is not None and not pending.done():
            pending.add_done_callback(self._finish_request)
        else:
            self._finish_request(None)

    def _finish_request(self, future: asyncio.Future[None] | None) -> None:
        if future is not None and not future.cancelled():
            future.exception()  # a closed stream is seen by the reader
        self._clear_callbacks()
        if not self.is_client and self._disconnect_on_finish:
            self.close()
            return
        self._set_finished()


class _InflatingDelegate(HTTPMessageDelegate):
    """Inflates a gzip body (``params.decompress``) before ``delegate`` sees
    it, and moves Content-Encoding to X-Consumed-Content-Encoding as Tornado
    does. The inflated size is held to ``max_body_size`` (a gzip bomb)."""

    def __init__(self, delegate: HTTPMessageDelegate, chunk_size: int, max_body_size: int) -> None:
        self._delegate = delegate
        self._chunk_size = chunk_size
        self._max_body_size = max_body_size
        self._inflater: BoundedInflater | None = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if headers.get("Content-Encoding", "").lower() == "gzip":
            self._inflater = BoundedInflater(self._max_body_size)
            headers.add("X-Consumed-Content-Encoding", headers["Content-Encoding"])
            del headers["Content-Encoding"]
        return self._delegate.headers_received(start_line, headers)

    async def data_received(self, chunk: bytes) -> None:
        inflater = self._inflater
        if inflater is None:
            await _maybe_await(self._delegate.data_received(chunk))
            return
        try:
            pieces = inflater.inflate(chunk)
        except InflateLimitError:
            raise HTTPInputError("gzip body larger than max_body_size") from None
        except InflateError as e:
            raise HTTPInputError(
                "invalid gzip data: " + str(e).removeprefix("invalid gzip body: ")
            ) from None
        step = self._chunk_size
        for piece in pieces:
            for start in range(0, len(piece), step):
                await _maybe_await(self._delegate.data_received(piece[start : start + step]))

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()


async def _maybe_await(result: Any) -> None:
    if result is not None and inspect.isawaitable(result):
        await result


def _buffered(stream: IOStream) -> int:
    """Bytes the stream has received and not yet handed out."""
    return len(stream._read_buffer)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (the failure is reported elsewhere)."""
    if not future.cancelled():
        future.exception()


def _response_problem(data: bytes, message: str) -> str:
    """Tornado's wording for a bad response head: the status line is named
    when it is the part llhttp refused."""
    line_end = data.find(b"\n")
    probe = ResponseParser()
    try:
        probe.parse_head(data[: line_end + 1] + b"\r\n")
    except ResponseError:
        return "Error parsing response start line"
    return message.removeprefix("malformed HTTP response: ")


def _body_problem(message: str) -> str:
    """Tornado's wording for bad chunked framing, from llhttp's."""
    lowered = message.lower()
    if "chunk size" in lowered:
        return "invalid chunk size"
    if "chunk" in lowered:
        return "improperly terminated chunk"
    return message.removeprefix("malformed HTTP response body: ")
