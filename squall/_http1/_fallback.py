"""A request parser in Python, for the requests llhttp refuses.

llhttp (through httptools) is fast but stricter than Tornado in places a
Tornado program can rely on: it knows a fixed list of methods (Tornado
routes any token, and the web layer answers 405 for one a handler lacks),
it refuses ``Content-Length: 5, 5`` and bare LF line ends, and its error
messages are its own. When llhttp refuses a request head, the server
parses that request again with this parser, which follows Tornado's
grammar: either the request is acceptable after all and is served, or it
is refused with the reason Tornado gives (``no colon in header line``,
``Only integer Content-Length is allowed: foo``...).

The parser keeps the connection from then on (no well-behaved client
ends up here, so its speed does not matter). It drives the protocol
through the same callbacks httptools calls, and raises httptools'
exception types, so the protocol treats both alike.
"""

from __future__ import annotations

import re
from typing import Any

import httptools

from squall._http1._abnf import BAD_TARGET_RE, TOKEN_RE, comma_tokens
from squall._http1._limits import MAX_REQUEST_LINE
from squall._http1._requests import MALFORMED_REQUEST_LINE, Reject
from squall._http1._states import Life
from squall.httputil import HTTPHeaders, HTTPInputError

__all__ = [
    "FallbackParseError",
    "FallbackRequestParser",
    "looks_like_request_line",
    "parse_request_head",
]

# Tornado ends a header block at the first empty line, CRLF or bare LF.
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT. Minor versions
# above 1 are served as 1.1 (RFC 9112 §2.5); other majors are not HTTP/1.
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])\Z")
# RFC 9112 §7.1: chunk-size = 1*HEXDIG. Tornado takes no chunk extensions.
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+\Z")
# How long a chunk-size line may be before the input is taken as garbage.
_MAX_CHUNK_SIZE_LINE = 64
# The start of a request: empty lines (RFC 9112 §2.2), then a method.
_REQUEST_START = re.compile(rb"[\r\n]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |\Z)")
# A header line that continues the one before it (obs-fold).
_FOLDED = re.compile(r"(?:^|\n)[ \t]")
# Content-Length is 1*DIGIT (RFC 9110 §8.6), ASCII digits only.
_DIGITS = re.compile(r"[0-9]+\Z")

# The parser's states.
_BETWEEN, _HEAD, _FIXED, _SIZE, _DATA, _DATA_END, _LAST, _STOPPED = range(8)


class FallbackParseError(httptools.HttpParserError):
    """The request is refused: ``reject`` says with what."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(reject.message)
        self.reject = reject


def looks_like_request_line(data: bytes) -> bool:
    """Whether ``data`` may begin a request: a method (a token) then a
    space, or a token cut off by the end of the bytes so far. Not a TLS
    ClientHello sent to a plain port, nor a chunk-size line: those are
    refused at once instead of waiting for a head that never comes."""
    return _REQUEST_START.match(data) is not None


class FallbackRequestParser:
    """Parses requests with Tornado's grammar; see the module docstring.

    ``protocol`` is the ``HTTP1ServerProtocol`` whose callbacks it calls.
    """

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        # Input not parsed yet is self._buffer[self._pos:]: reading moves
        # the position rather than copying what is left (a packet holding
        # many pipelined requests would cost a copy per request).
        self._buffer = b""
        self._pos = 0
        self._scanned = 0  # how far the current head was searched for its end
        self._state = _BETWEEN
        self._remaining = 0  # of a Content-Length body or of a chunk
        self._method = b""
        self._version = "1.1"
        self._upgrade = False
        self._upgrade_rest = 0  # bytes after an upgrade request's head

    # -- what httptools' parser answers -----------------------------------------

    def get_method(self) -> bytes:
        return self._method

    def get_http_version(self) -> str:
        return self._version

    def should_upgrade(self) -> bool:
        return self._upgrade

    # -- parsing -------------------------------------------------------------------

    def feed_data(self, data: bytes) -> None:
        """Parse ``data``; raises ``FallbackParseError`` for a refused request
        and ``httptools.HttpParserUpgrade`` (with the offset in ``data`` where
        the next protocol begins) after an upgrade request."""
        if self._pos:
            self._scanned -= self._pos
            self._buffer = self._buffer[self._pos :] + data
            self._pos = 0
        else:
            self._buffer += data
        protocol = self._protocol
        while self._state != _STOPPED and protocol._problem is None:
            if protocol._life is not Life.OPEN:
                # After Connection: close or a refusal nothing more is read.
                self._state = _STOPPED
                break
            if not self._step():
                break
        if self._state == _STOPPED:
            self._buffer, self._pos = b"", 0
            if self._upgrade:
                # The head ended in ``data``: what follows it is all there.
                self._upgrade = False
                raise httptools.HttpParserUpgrade(len(data) - self._upgrade_rest)

    def _step(self) -> bool:
        """Advance one state; False when more input is needed."""
        state = self._state
        if state == _BETWEEN:
            # RFC 9112 §2.2: empty lines before a request line are ignored.
            buffer, pos = self._buffer, self._pos
            while pos < len(buffer) and buffer[pos] in b"\r\n":
                pos += 1
            self._pos = self._scanned = pos
            if pos == len(buffer):
                return False
            self._state = _HEAD
            self._protocol.on_message_begin()
            # The request line is checked here, not by the protocol's
            # llhttp-specific checks.
            self._protocol._in_request_line = False
            return True
        if state == _HEAD:
            return self._parse_head()
        if state == _FIXED or state == _DATA:
            return self._read_body()
        if state == _SIZE:
            return self._read_chunk_size()
        if state == _DATA_END:
            return self._expect_crlf(_SIZE, "improperly terminated chunk")
        return self._expect_crlf(_BETWEEN, "improperly terminated chunked request", end=True)

    def _parse_head(self) -> bool:
        buffer, pos = self._buffer, self._pos
        # Only the new bytes are searched (and the three before them, where
        # the blank line may have begun): a head trickled in byte by byte
        # costs no more than one sent whole.
        found = _HEAD_END.search(buffer, max(pos, self._scanned - 3))
        if found is None:
            self._scanned = len(buffer)
            line_end = buffer.find(b"\n", pos, pos + MAX_REQUEST_LINE + 1)
            if line_end < 0 and len(buffer) - pos > MAX_REQUEST_LINE:
                raise FallbackParseError(Reject(414, "request line too long"))
            return False  # the protocol bounds the whole header block
        self._pos = found.end()
        method, target, version, headers, length = parse_request_head(buffer[pos : found.start()])
        self._method = method.encode("latin-1")
        self._version = version
        protocol = self._protocol
        protocol._method = self._method
        protocol._version = version
        protocol.on_url(target.encode("latin-1"))
        for name, value in headers.get_all():
            protocol.on_header(name.encode("latin-1"), value.encode("latin-1"))
        if length is not None:
            # One clean value, whatever list the client sent.
            protocol._fields["Content-Length"] = [str(length)]
        self._upgrade = method == "CONNECT" or (
            "Upgrade" in headers and "upgrade" in comma_tokens(headers.get_list("Connection"))
        )
        protocol.on_headers_complete()
        if self._upgrade:
            # What follows the head belongs to the next protocol.
            self._upgrade_rest = len(buffer) - self._pos
            protocol.on_message_complete()
            self._state = _STOPPED
            return False
        if length is not None and length > 0:
            self._state, self._remaining = _FIXED, length
        elif length is None and "Transfer-Encoding" in headers:
            self._state = _SIZE
        else:
            self._state = _BETWEEN
            protocol.on_message_complete()
        return True

    def _read_body(self) -> bool:
        """Part of a Content-Length body, or of a chunk's data."""
        buffer, pos = self._buffer, self._pos
        if pos == len(buffer):
            return False
        piece = buffer[pos : pos + self._remaining]
        self._pos = pos + len(piece)
        self._remaining -= len(piece)
        self._protocol.on_body(piece)
        if self._remaining == 0:
            if self._state == _DATA:
                self._state = _DATA_END
            else:
                self._state = _BETWEEN
                self._protocol.on_message_complete()
        return True

    def _read_chunk_size(self) -> bool:
        buffer, pos = self._buffer, self._pos
        end = buffer.find(b"\r\n", pos, pos + _MAX_CHUNK_SIZE_LINE + 2)
        if end < 0:
            if len(buffer) - pos > _MAX_CHUNK_SIZE_LINE:
                raise FallbackParseError(Reject(400, "invalid chunk size"))
            return False
        size = buffer[pos:end]
        if not _CHUNK_SIZE.match(size):
            raise FallbackParseError(Reject(400, "invalid chunk size"))
        self._pos = end + 2
        self._remaining = int(size, 16)
        self._state = _DATA if self._remaining else _LAST
        return True

    def _expect_crlf(self, then: int, reason: str, end: bool = False) -> bool:
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos < 2:
            return False
        if buffer[pos : pos + 2] != b"\r\n":
            raise FallbackParseError(Reject(400, reason))
        self._pos = pos + 2
        self._state = then
        if end:
            self._protocol.on_message_complete()
        return True


def parse_request_head(
    head: bytes,
) -> tuple[str, str, str, HTTPHeaders, int | None]:
    """(method, target, version digits, headers, Content-Length) of a
    request head (without its blank line), by Tornado's grammar; raises
    ``FallbackParseError`` with Tornado's reason. The length is None for
    no Content-Length (a chunked body, or none)."""
    text = head.decode("latin-1")
    line, _, header_text = text.partition("\n")
    if len(line) > MAX_REQUEST_LINE:
        raise FallbackParseError(Reject(414, "request line too long"))
    method, target, version = _split_request_line(line.rstrip("\r"))
    if _FOLDED.search(header_text):
        # RFC 9112 §5.2: obs-fold in a request is refused with a 400.
        raise FallbackParseError(
            Reject(400, "header line cannot start with whitespace, folding not supported")
        )
    try:
        headers = HTTPHeaders.parse(header_text)
    except HTTPInputError as e:
        raise FallbackParseError(Reject(400, str(e))) from None
    return method, target, version, headers, _framing(headers)


def _split_request_line(line: str) -> tuple[str, str, str]:
    """(method, target, version digits) of a request line, or raise."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise FallbackParseError(Reject(400, MALFORMED_REQUEST_LINE))
    method, target, version = parts
    if not TOKEN_RE.match(method) or not target or BAD_TARGET_RE.search(target):
        raise FallbackParseError(Reject(400, MALFORMED_REQUEST_LINE))
    match = _VERSION.match(version)
    if match is None:
        raise FallbackParseError(Reject(400, MALFORMED_REQUEST_LINE))
    if match.group(1) != "1":
        # Not HTTP/1.x: RFC 9110 §15.6.6.
        raise FallbackParseError(Reject(505, f"{version} is not supported"))
    return method, target, f"1.{match.group(2)}"


def _framing(headers: HTTPHeaders) -> int | None:
    """The Content-Length to read, None for none (or chunked); raises for
    framing Tornado refuses, with its reasons."""
    te = headers.get("Transfer-Encoding")
    cl = headers.get("Content-Length")
    if te is not None:
        if cl is not None:
            # RFC 9112 §6.3: a request smuggling vector; refused outright.
            raise FallbackParseError(
                Reject(400, "Message with both Transfer-Encoding and Content-Length")
            )
        if te.strip(" \t").lower() != "chunked":
            raise FallbackParseError(Reject(400, f"Unsupported Transfer-Encoding {te}"))
        return None
    if cl is None:
        return None
    value = cl
    if "," in cl:
        # RFC 9110 §8.6: a list of identical values may stand for one.
        values = {piece.strip(" \t") for piece in cl.split(",")}
        if len(values) != 1:
            raise FallbackParseError(Reject(400, f"Multiple unequal Content-Lengths: {cl!r}"))
        value = values.pop()
    if not _DIGITS.match(value):
        raise FallbackParseError(Reject(400, f"Only integer Content-Length is allowed: {value}"))
    return int(value)
