"""One HTTP/1.1 request and response on a client connection.

``write_request`` checks and sends the request head (and body);
``read_response`` reads the answer with httptools' response parser and
reports whether the connection may carry another request. The head of each
response is read with ``read_until(CRLF CRLF)`` and fed to llhttp whole, so
no byte of what follows it is consumed by mistake: a 1xx answer, a HEAD
response or a 204 leaves the stream exactly at the next message.

Errors::

    ValueError              the request itself is malformed (never sent)
    ResponseError           the peer's answer is unusable; ``reason`` says why
    CallbackError           the caller's header_callback or streaming_callback
                            raised; ``__cause__`` is what it raised
    iostream.StreamClosedError  the connection closed (``response_started``
                            on the exchange tells whether any answer came)
    iostream.UnsatisfiableReadError  a response head over max_header_size
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from squall._client_inflate import GzipBodyError, GzipBodyTooLarge, ResponseInflater
from squall._http1._heads import check_fields
from squall._http1._heads import format_request_head as _format
from squall._http1._response import ResponseError, ResponseHead, ResponseParser
from squall.httputil import HTTPHeaders
from squall.iostream import IOStream, StreamClosedError

__all__ = ["CallbackError", "Exchange", "ResponseError", "ResponseHead"]

# Interim (1xx) answers tolerated before the final one. RFC 9110 §15.2 sets
# no bound; a server sending them forever would hold the client, so stop
# after 10, Tornado's limit (``tornado.http1connection._MAX_1XX_RESPONSES``).
MAX_INFORMATIONAL_RESPONSES = 10
# Bytes asked of the stream per body read: the server's chunk size (64 KiB).
READ_CHUNK_SIZE = 64 * 1024

_HEAD_END = b"\r\n\r\n"


def check_request_head(method: str, target: str, headers: HTTPHeaders) -> None:
    """ValueError for anything that would let the request head be forged
    (the core's checks, run without formatting: curl sends the head)."""
    _format(method, target, {})
    check_fields(headers._lists)


def format_request_head(method: str, target: str, headers: HTTPHeaders) -> bytes:
    """The request head, checked (ValueError) before it exists."""
    return _format(method, target, headers._lists)


def _announces_body(headers: HTTPHeaders) -> bool:
    """Whether a head's framing fields promise a body."""
    return "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0"


class CallbackError(Exception):
    """The caller's header_callback or streaming_callback raised (the
    exception is the ``__cause__``); the response cannot be read on."""


def _cancelled_from_outside() -> bool:
    """Whether the running task itself was asked to stop (a timeout, the
    caller giving up), as opposed to a CancelledError a callback raised."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return cancelling is None or cancelling() > 0


class Exchange:
    """A request and its response on ``stream``.

    ``max_header_size`` bounds each response head, ``max_body_size`` the
    body after decompression. ``reusable`` is True after ``read_response``
    only if the message ended cleanly and both sides allow persistence.
    """

    def __init__(
        self,
        stream: IOStream,
        method: str,
        max_header_size: int,
        max_body_size: int,
        decompress: bool,
        streaming_callback: Callable[[bytes], Awaitable[None] | None] | None,
        header_callback: Callable[[str], None] | None,
        intermediate: Callable[[ResponseHead], bool] | None = None,
    ) -> None:
        self.stream = stream
        self.intermediate = intermediate
        self.method = method
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.decompress = decompress
        self.streaming_callback = streaming_callback
        self.header_callback = header_callback
        self.response_started = False
        self.reusable = False
        self.body_parts: list[bytes] = []
        self._body_size = 0
        self._inflater: ResponseInflater | None = None
        # Tornado's words for a body over max_body_size, by framing.
        self._too_long = "Body too long"

    async def read_head(self) -> tuple[ResponseHead, ResponseParser]:
        """Read one response head (interim or final) and parse it. A head
        over ``max_header_size`` closes the stream (logged, as Tornado logs
        it) and raises ``UnsatisfiableReadError``."""
        data = await self.stream.read_until(_HEAD_END, max_bytes=self.max_header_size)
        self.response_started = True
        parser = ResponseParser()
        head = parser.parse_head(data)
        if parser.switching:
            # llhttp stops at a 101; squall's client never asks to switch.
            raise ResponseError("unexpected 101 Switching Protocols")
        return head, parser

    async def read_response(
        self, on_continue: Callable[[], Awaitable[None]] | None = None
    ) -> ResponseHead:
        """Read the final response; ``on_continue`` runs on a 100 Continue."""
        interim = 0
        while True:
            head, parser = await self.read_head()
            if head.code >= 200:
                break
            if _announces_body(head.headers):
                reason = f"Response code {head.code} cannot have body"
                raise ResponseError(f"malformed HTTP response: {reason}", reason)
            interim += 1
            if interim > MAX_INFORMATIONAL_RESPONSES:
                raise ResponseError(
                    f"more than {MAX_INFORMATIONAL_RESPONSES} 1xx responses",
                    "Too many 1xx responses",
                )
            if head.code == 100 and on_continue is not None:
                sender, on_continue = on_continue, None
                await sender()
        if self.intermediate is not None and self.intermediate(head):
            # A redirect to follow or a challenge to answer: the caller's
            # callbacks see only the final response, and this body is dropped.
            self.header_callback = None
            self.streaming_callback = self._discard
        if self.header_callback is not None:
            for line in head.header_lines:
                self._call_back(self.header_callback, line)
        if head.code == 204 and _announces_body(head.headers):
            # RFC 9110 §15.3.5: a 204 has no content; Tornado refuses one
            # that says otherwise rather than guess where the next begins.
            reason = "Response with code 204 should not have body"
            raise ResponseError(f"malformed HTTP response: {reason}", reason)
        no_body = self.method == "HEAD" or head.code in (204, 304)
        headers = head.headers
        if no_body:
            parser.no_body()
        else:
            self._check_length(headers)
            if self.decompress and headers.get("Content-Encoding", "").lower() == "gzip":
                # As Tornado does: the body is handed over decoded, and the
                # header that described the coding moves aside.
                headers["X-Consumed-Content-Encoding"] = headers["Content-Encoding"]
                del headers["Content-Encoding"]
                self._inflater = ResponseInflater(self.max_body_size)
        until_close = not no_body and not (
            "Content-Length" in headers or "Transfer-Encoding" in headers
        )
        await self._read_body(parser, until_close)
        if self._inflater is not None:
            try:
                self._inflater.finish()
            except GzipBodyError as e:
                raise ResponseError(f"invalid gzip data: {e}") from None
        self.reusable = not until_close and not parser.extra_message and head.keeps_alive()
        return head

    def _check_length(self, headers: HTTPHeaders) -> None:
        """Refuse a body announced as larger than ``max_body_size`` before
        reading it; otherwise note how an overlong body will be described."""
        if "Transfer-Encoding" in headers:
            self._too_long = "chunked body too large"
            return
        length = headers.get("Content-Length")
        # The parser has checked it is a decimal number.
        if length is not None and int(length) > self.max_body_size:
            raise ResponseError(
                f"Content-Length {length} is over max_body_size ({self.max_body_size})",
                "Content-Length too long",
            )

    async def _read_body(self, parser: ResponseParser, until_close: bool) -> None:
        await self._take(parser.take())
        while not parser.complete:
            try:
                chunk = await self.stream.read_bytes(READ_CHUNK_SIZE, partial=True)
            except StreamClosedError:
                if until_close:
                    return
                raise
            await self._take(parser.feed(chunk))

    async def _take(self, parts: list[bytes]) -> None:
        """Deliver body pieces, inflated if the response was gzipped; an
        inflated piece goes to the caller before the next is made."""
        for part in parts:
            self._body_size += len(part)
            if self._body_size > self.max_body_size:
                raise ResponseError(
                    f"response body over max_body_size ({self.max_body_size})", self._too_long
                )
            if self._inflater is None:
                await self._deliver(part)
                continue
            pieces = self._inflater.pieces(part)
            while True:
                try:
                    piece = next(pieces, None)
                except GzipBodyTooLarge as e:
                    raise ResponseError(
                        f"inflated body over max_body_size ({self.max_body_size})", str(e)
                    ) from None
                except GzipBodyError as e:
                    raise ResponseError(f"invalid gzip data: {e}") from None
                if piece is None:
                    break
                await self._deliver(piece)

    @staticmethod
    def _discard(data: bytes) -> None:
        pass

    async def _deliver(self, data: bytes) -> None:
        if self.streaming_callback is None:
            self.body_parts.append(data)
            return
        try:
            result = self.streaming_callback(data)
            if result is not None:
                await result
        except asyncio.CancelledError as e:
            if _cancelled_from_outside():
                raise
            raise CallbackError() from e
        except Exception as e:
            raise CallbackError() from e

    @staticmethod
    def _call_back(callback: Callable[[str], None], line: str) -> None:
        try:
            callback(line)
        except Exception as e:
            raise CallbackError() from e
