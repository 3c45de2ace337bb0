"""One HTTP/1.1 request and response on a client connection.

``write_request`` checks and sends the request head (and body);
``read_response`` reads the answer with httptools' response parser and
reports whether the connection may carry another request. The head of each
response is read with ``read_until(CRLF CRLF)`` and fed to llhttp whole, so
no byte of what follows it is consumed by mistake: a 1xx answer, a HEAD
response or a 204 leaves the stream exactly at the next message.

Errors::

    ValueError              the request itself is malformed (never sent)
    ResponseError           the peer's answer is unusable; ``message`` says why
    iostream.StreamClosedError  the connection closed (``response_started``
                            on the exchange tells whether any answer came)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httptools

from squall.httputil import HTTPHeaders, _normalize_header
from squall.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from squall.util import GzipDecompressor

__all__ = ["Exchange", "ResponseError", "ResponseHead"]

# Interim (1xx) answers tolerated before the final one. RFC 9110 §15.2 sets
# no bound; a server sending them forever would hold the client, so stop at
# 10 (the limit; curl allows fewer in practice).
MAX_INFORMATIONAL_RESPONSES = 10
# Bytes asked of the stream per body read: the server's chunk size (64 KiB).
READ_CHUNK_SIZE = 64 * 1024
# Decompressed bytes produced per step, so a gzip bomb is caught after at
# most this much output beyond the limit: the same 64 KiB.
INFLATE_CHUNK_SIZE = 64 * 1024

_HEAD_END = b"\r\n\r\n"
# RFC 9110 §5.6.2: field names and methods are tokens.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 9110 §5.5: CR, LF and NUL are never allowed in a field value.
_BAD_VALUE_RE = re.compile(r"[\r\n\x00]")
# Field names already found to be tokens: the same few names come back on
# every request. Bounded, so that varied names cannot grow it without limit.
_CHECKED_NAMES: set[str] = set()
_CHECKED_NAMES_LIMIT = 1024
# RFC 9112 §3.2: the request target has no whitespace or control characters.
_BAD_TARGET_RE = re.compile(r"[\x00-\x20\x7f]")


class ResponseError(Exception):
    """The server's answer broke HTTP/1.1 or one of the client's limits."""


class ResponseHead:
    """The status line and header fields of a response."""

    __slots__ = ("code", "header_lines", "headers", "reason", "version")

    def __init__(self) -> None:
        self.code = 0
        self.reason = ""
        self.version = "HTTP/1.1"
        self.headers = HTTPHeaders()
        self.header_lines: list[str] = []


def check_request_head(method: str, target: str, headers: HTTPHeaders) -> None:
    """ValueError for anything that would let the request head be forged."""
    if not _TOKEN_RE.match(method):
        raise ValueError(f"Invalid HTTP method {method!r}")
    if not target or _BAD_TARGET_RE.search(target):
        raise ValueError(f"Invalid characters in request target {target!r}")
    for name, value in headers.get_all():
        # Three substring scans beat a regex search per value.
        if "\r" in value or "\n" in value or "\x00" in value:
            raise ValueError(f"Illegal characters (CR or LF) in header: {name}: {value!r}")
        if name not in _CHECKED_NAMES:
            if _BAD_VALUE_RE.search(name):
                raise ValueError(f"Illegal characters (CR or LF) in header: {name}: {value!r}")
            if not _TOKEN_RE.match(name):
                raise ValueError(f"Invalid header name {name!r}")
            if len(_CHECKED_NAMES) < _CHECKED_NAMES_LIMIT:
                _CHECKED_NAMES.add(name)


def format_request_head(method: str, target: str, headers: HTTPHeaders) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers.get_all())
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


class _ParserEvents:
    """httptools callbacks: they record, the exchange acts afterwards."""

    def __init__(self, head: ResponseHead) -> None:
        self.head = head
        self.parser: httptools.HttpResponseParser | None = None
        self.headers_done = False
        # llhttp forgets this once the message ends, so it is kept here.
        self.keep_alive = False
        self.complete = False
        self.extra_message = False
        self.body: list[bytes] = []

    def on_message_begin(self) -> None:
        if self.complete:
            # A second message after ours: bytes nobody asked for.
            self.extra_message = True

    def on_status(self, status: bytes) -> None:
        self.head.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head.headers.add(
            _normalize_header(name.decode("latin-1")), value.decode("latin-1").strip()
        )

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.parser is not None:
            self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if not self.complete:  # not a body of the unasked-for next message
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


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
        self._inflater: GzipDecompressor | None = None

    async def read_head(self) -> tuple[ResponseHead, httptools.HttpResponseParser, _ParserEvents]:
        """Read one response head (interim or final) and parse it."""
        try:
            data = await self.stream.read_until(_HEAD_END, max_bytes=self.max_header_size)
        except UnsatisfiableReadError:
            raise ResponseError(
                f"response header block larger than max_header_size ({self.max_header_size})"
            ) from None
        except StreamClosedError as e:
            if isinstance(e, UnsatisfiableReadError):
                raise ResponseError(
                    f"response header block larger than max_header_size ({self.max_header_size})"
                ) from None
            raise
        self.response_started = True
        head = ResponseHead()
        events = _ParserEvents(head)
        parser = httptools.HttpResponseParser(events)
        events.parser = parser
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as e:
            if events.headers_done and parser.get_status_code() == 101:
                # llhttp pauses at a 101; squall never asks to switch protocols.
                raise ResponseError("unexpected 101 Switching Protocols") from None
            raise ResponseError(f"malformed HTTP response: {e}") from None
        if not events.headers_done:  # pragma: no cover - llhttp ends heads at CRLF CRLF
            raise ResponseError("malformed HTTP response: incomplete head")
        head.code = parser.get_status_code()
        head.version = "HTTP/" + parser.get_http_version()
        head.header_lines = [line + "\r\n" for line in data.decode("latin-1").split("\r\n")[:-1]]
        return head, parser, events

    async def read_response(
        self, on_continue: Callable[[], Awaitable[None]] | None = None
    ) -> ResponseHead:
        """Read the final response; ``on_continue`` runs on a 100 Continue."""
        interim = 0
        while True:
            head, parser, events = await self.read_head()
            if head.code >= 200:
                break
            interim += 1
            if interim > MAX_INFORMATIONAL_RESPONSES:
                raise ResponseError(f"more than {MAX_INFORMATIONAL_RESPONSES} 1xx responses")
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
                self.header_callback(line)
        no_body = self.method == "HEAD" or head.code in (204, 304)
        if no_body:
            events.complete = True
        elif self.decompress and head.headers.get("Content-Encoding", "").lower() == "gzip":
            # As Tornado does: the body is handed over decoded, and the
            # header that described the coding moves aside.
            head.headers["X-Consumed-Content-Encoding"] = head.headers["Content-Encoding"]
            del head.headers["Content-Encoding"]
            self._inflater = GzipDecompressor()
        until_close = not no_body and not (
            "Content-Length" in head.headers or "Transfer-Encoding" in head.headers
        )
        await self._read_body(parser, events, until_close)
        self.reusable = (
            not until_close
            and not events.extra_message
            and events.keep_alive
            and _server_keeps_alive(head)
        )
        return head

    async def _read_body(
        self,
        parser: httptools.HttpResponseParser,
        events: _ParserEvents,
        until_close: bool,
    ) -> None:
        await self._take(events)
        while not events.complete:
            try:
                chunk = await self.stream.read_bytes(READ_CHUNK_SIZE, partial=True)
            except StreamClosedError:
                if until_close:
                    return
                raise
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as e:
                if not events.complete:
                    raise ResponseError(f"malformed HTTP response body: {e}") from None
                events.extra_message = True
            await self._take(events)

    async def _take(self, events: _ParserEvents) -> None:
        """Deliver the body bytes parsed so far."""
        if not events.body:
            return
        parts, events.body = events.body, []
        for part in parts:
            if self._inflater is None:
                await self._deliver(part)
                continue
            data = part
            while data:
                try:
                    out = self._inflater.decompress(data, INFLATE_CHUNK_SIZE)
                except Exception as e:
                    raise ResponseError(f"invalid gzip body: {e}") from None
                data = self._inflater.unconsumed_tail
                if out:
                    await self._deliver(out)
                elif data:  # pragma: no cover - zlib always progresses with output room
                    break

    @staticmethod
    def _discard(data: bytes) -> None:
        pass

    async def _deliver(self, data: bytes) -> None:
        self._body_size += len(data)
        if self._body_size > self.max_body_size:
            raise ResponseError(f"response body larger than max_body_size ({self.max_body_size})")
        if self.streaming_callback is not None:
            result = self.streaming_callback(data)
            if result is not None:
                await result
        else:
            self.body_parts.append(data)


def _server_keeps_alive(head: ResponseHead) -> bool:
    """RFC 9112 §9.3: 1.1 persists unless ``close``; 1.0 needs keep-alive."""
    connection = head.headers.get("Connection", "").lower()
    tokens = {t.strip() for t in connection.split(",")}
    if head.version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens
