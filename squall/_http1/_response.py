"""Responses in, for the client role (the HTTP client and the WebSocket
client's handshake): bytes in, a head and body pieces out.

httptools' response parser (llhttp) does the parsing. The head is fed
whole (the caller reads up to the blank line first), so no byte of the
next message is taken by mistake; body bytes follow through ``feed``.

llhttp's callbacks go to a separate recorder object, not to the
``ResponseParser`` holding llhttp's parser: a parser whose callbacks were
bound methods of its owner would form a reference cycle, and every
response would leave garbage for the cycle collector.

llhttp refuses a few heads that Tornado accepts (a Content-Length
repeated with one value: "2, 2", or the field twice), and words its
refusals its own way. A refused head is looked at again, on that error
path only, never for a well-formed one (``_length_problem``,
``_head_problem``): the reason given is then Tornado's, where Tornado
refuses the same thing.
"""

from __future__ import annotations

import re

import httptools

from squall._http1._persistence import keeps_alive
from squall.httputil import HTTPHeaders
from squall.httputil._headers import _normalize_header

__all__ = ["ResponseError", "ResponseHead", "ResponseParser"]


class ResponseError(Exception):
    """The server's answer broke HTTP/1.1 or one of the client's limits.

    ``reason`` is the bare reason, worded as Tornado words it where Tornado
    has the same check ("Content-Length too long"); ``str()`` may add
    context.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class ResponseHead:
    """The status line and header fields of a response."""

    __slots__ = ("code", "header_lines", "headers", "reason", "version")

    def __init__(self) -> None:
        self.code = 0
        self.reason = ""
        self.version = "HTTP/1.1"
        self.headers = HTTPHeaders()
        self.header_lines: list[str] = []

    def keeps_alive(self) -> bool:
        """Whether the server lets the connection carry another request."""
        return keeps_alive(self.version, self.headers.get_list("Connection"))


class _Recorder:
    """Receives llhttp's callbacks for one response and records them."""

    __slots__ = ("body", "complete", "extra_message", "head", "headers_done")

    def __init__(self) -> None:
        self.head = ResponseHead()
        self.headers_done = False
        self.complete = False
        self.extra_message = False
        self.body: list[bytes] = []

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra_message = True

    def on_status(self, status: bytes) -> None:
        self.head.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head.headers._add_raw(
            _normalize_header(name.decode("latin-1")), value.decode("latin-1").strip(" \t")
        )

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:  # not a body of the unasked-for next message
            self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


# Tornado splits a Content-Length list at commas and the blanks after them
# ("2, 2" and "2,2" are one length; "2 , 2" and "2," are not).
_LENGTH_LIST_SEPARATOR = re.compile(r",\s*")


def _length_problem(data: bytes) -> tuple[str | None, bytes | None]:
    """For a head llhttp refused: Tornado's reason to refuse it, if its
    Content-Length is the trouble, or the head with a repeated length
    written once (when all copies agree)."""
    lines = data.split(b"\r\n")
    lengths = []
    others = []
    chunked = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        lowered = name.lower()  # "Name :" is refused by llhttp, and stays so
        if colon and lowered == b"content-length":
            lengths.append(value.strip(b" \t").decode("latin-1"))
            continue
        if colon and lowered == b"transfer-encoding":
            chunked = True
        others.append(line)
    if not lengths:
        return None, None
    if chunked:
        return "Message with both Transfer-Encoding and Content-Length", None
    joined = ",".join(lengths)
    values = set(_LENGTH_LIST_SEPARATOR.split(joined))
    if len(values) > 1:
        return f"Multiple unequal Content-Lengths: {joined!r}", None
    (length,) = values
    if not length.isdigit() or not length.isascii():
        return f"Only integer Content-Length is allowed: {length}", None
    if len(lengths) == 1 and length == joined:
        return None, None  # not the length: llhttp's own reason stands
    fixed = [lines[0], f"Content-Length: {length}".encode("latin-1"), *others]
    return None, b"\r\n".join(fixed)


# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
_STATUS_LINE = re.compile(rb"(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: .*)?")


def _head_problem(data: bytes) -> str | None:
    """Tornado's reason to refuse a head llhttp refused, for the faults
    both check (None: give llhttp's)."""
    lines = data.split(b"\r\n")
    status = _STATUS_LINE.fullmatch(lines[0])
    if status is None:
        return "Error parsing response start line"
    if not status.group(1).startswith(b"HTTP/1."):
        return f"Unexpected HTTP version {status.group(1).decode('latin-1')!r}"
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 §5.2: obs-fold is obsolete; Tornado refuses it too.
            return "header line cannot start with whitespace, folding not supported"
        if line and b":" not in line:
            return "no colon in header line"
    return None


class ResponseParser:
    """One response (interim answers each get their own parser).

    After ``parse_head``: ``switching`` is True for a 101 (llhttp stops
    there: what follows is another protocol's). After ``feed``:
    ``complete`` once the body has ended, ``extra_message`` if bytes of a
    further, unasked-for message came after it.
    """

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._parser = httptools.HttpResponseParser(self._recorder)
        self.switching = False

    @property
    def head(self) -> ResponseHead:
        return self._recorder.head

    @property
    def headers_done(self) -> bool:
        return self._recorder.headers_done

    @property
    def complete(self) -> bool:
        return self._recorder.complete

    @property
    def extra_message(self) -> bool:
        return self._recorder.extra_message

    def parse_head(self, data: bytes) -> ResponseHead:
        """Parse a head that ends with its blank line."""
        parser = self._parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.switching = self.headers_done and parser.get_status_code() == 101
            if not self.switching:  # pragma: no cover - llhttp upgrades only on 101
                raise ResponseError("malformed HTTP response: unexpected upgrade") from None
        except httptools.HttpParserError as e:
            if self.headers_done and parser.get_status_code() == 101:
                self.switching = True
            else:
                reason, fixed = _length_problem(data)
                reason = _head_problem(data) or reason
                if reason is not None:
                    raise ResponseError(f"malformed HTTP response: {reason}", reason) from None
                if fixed is None:
                    raise ResponseError(f"malformed HTTP response: {e}") from None
                # The same head with its length written once: parsed afresh.
                self._recorder = _Recorder()
                self._parser = httptools.HttpResponseParser(self._recorder)
                return self.parse_head(fixed)
        if not self.headers_done:
            raise ResponseError("malformed HTTP response: incomplete head")
        head = self.head
        head.code = parser.get_status_code()
        head.version = "HTTP/" + parser.get_http_version()
        if not head.version.startswith("HTTP/1."):  # llhttp takes any digit.digit
            reason = f"Unexpected HTTP version {head.version!r}"
            raise ResponseError(f"malformed HTTP response: {reason}", reason)
        head.header_lines = [line + "\r\n" for line in data.decode("latin-1").split("\r\n")[:-1]]
        return head

    def no_body(self) -> None:
        """The response has no body whatever its framing says (HEAD, 204, 304)."""
        self._recorder.complete = True

    def feed(self, data: bytes) -> list[bytes]:
        """Body pieces parsed from ``data`` (framing removed)."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            if not self.complete:
                raise ResponseError(f"malformed HTTP response body: {e}") from None
            self._recorder.extra_message = True
        return self.take()

    def take(self) -> list[bytes]:
        """Body pieces parsed so far and not yet taken."""
        recorder = self._recorder
        body, recorder.body = recorder.body, []
        return body
