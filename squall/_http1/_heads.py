"""Message heads out: the one place squall turns a start line and header
fields into bytes, for both roles (server responses, client requests,
both WebSocket handshakes).

Every head is validated before a byte of it exists: a method must be a
token, a target free of whitespace and controls, a field name a token and
a field value free of CR, LF and NUL (RFC 9110 §5.5; a CR or LF would start
a new header line on the wire: header injection).

``fields`` is ``HTTPHeaders``' internal layout: canonical name -> list of
values, in order.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from squall._http1._abnf import BAD_TARGET_RE, has_forbidden_char, is_token

__all__ = [
    "CONTINUE_100",
    "LAST_CHUNK",
    "InvalidHead",
    "check_fields",
    "format_request_head",
    "format_response_head",
    "frame_chunk",
    "http_date",
]


class InvalidHead(ValueError):
    """A head squall was asked to send would not be valid HTTP/1.1."""


# RFC 9110 §15.2.1, sent bare as the interim answer to Expect: 100-continue.
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
# RFC 9112 §7.1: the zero-size chunk that ends a chunked body (no trailers).
LAST_CHUNK = b"0\r\n\r\n"

# Status lines by (version, code, reason). Bounded: reasons may come from
# the application, and a varying one must not grow the cache for ever.
_STATUS_LINES: dict[tuple[str, int, str], bytes] = {}
_STATUS_LINES_MAX = 1000


def frame_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1); ``data`` is not empty."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def check_fields(fields: dict[str, list[str]]) -> None:
    """``InvalidHead`` unless every name is a token and no value holds CR,
    LF or NUL."""
    for name, values in fields.items():
        if not is_token(name):
            if has_forbidden_char(name):
                raise InvalidHead(f"Illegal characters (CR, LF or NUL) in header name: {name!r}")
            raise InvalidHead(f"Invalid header name {name!r}")
        for value in values:
            if has_forbidden_char(value):
                raise InvalidHead(
                    f"Illegal characters (CR, LF or NUL) in header: {name}: {value!r}"
                )


def _field_lines(fields: dict[str, list[str]]) -> str:
    check_fields(fields)
    return "\r\n".join(f"{name}: {value}" for name, values in fields.items() for value in values)


def _latin1_or_utf8(line: str) -> bytes:
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode("utf-8")


def format_response_head(start_line: tuple[str, int, str], fields: dict[str, list[str]]) -> bytes:
    """A status line (``(version, code, reason)``, such as a
    ``ResponseStartLine``) and header block, ending with the blank line.

    Field lines are encoded as Latin-1 (as Tornado's server does), or as
    UTF-8 if a value holds a character beyond Latin-1; the status line as
    Latin-1.
    """
    status = _STATUS_LINES.get(start_line)
    if status is None:
        version, code, reason = start_line
        if has_forbidden_char(reason):
            raise InvalidHead(f"Illegal characters in reason phrase {reason!r}")
        if version not in ("HTTP/1.1", "HTTP/1.0") or not 100 <= code <= 999:
            raise InvalidHead(f"Invalid status line {version} {code}")
        status = f"{version} {code} {reason}\r\n".encode("latin-1")
        if len(_STATUS_LINES) < _STATUS_LINES_MAX:
            _STATUS_LINES[(version, code, reason)] = status
    # Once per response, so kept lean: CR and LF (what would inject a
    # header) are looked for in all the lines at once. NUL and non-token
    # names are refused earlier, by every HTTPHeaders setter and by the web
    # handler's; only a caller editing the private field lists skips those.
    lines = [f"{name}: {value}" for name, values in fields.items() for value in values]
    if not lines:
        return status + b"\r\n"
    flat = "".join(lines)
    if "\r" in flat or "\n" in flat:
        check_fields(fields)
    block = "\r\n".join(lines)
    try:
        # Latin-1, as Tornado writes: a value given as bytes (held decoded
        # as Latin-1) goes out byte for byte, and a str one within Latin-1
        # is read back the same by Latin-1 clients (RFC 9110 section 5.5).
        encoded = block.encode("latin-1")
    except UnicodeEncodeError:
        # Beyond Latin-1 Tornado refuses the value; squall sends that line
        # as UTF-8, as it always has (browsers show UTF-8 filenames), and
        # the others still as Latin-1.
        encoded = b"\r\n".join(_latin1_or_utf8(line) for line in lines)
    return status + encoded + b"\r\n\r\n"


def format_request_head(
    method: str, target: str, fields: dict[str, list[str]], version: str = "HTTP/1.1"
) -> bytes:
    """A request line and header block, ending with the blank line (Latin-1)."""
    if not is_token(method):
        raise InvalidHead(f"Invalid HTTP method {method!r}")
    if not target or BAD_TARGET_RE.search(target):
        raise InvalidHead(f"Invalid characters in request target {target!r}")
    line = f"{method} {target} {version}\r\n"
    if not fields:
        return (line + "\r\n").encode("latin-1")
    return (line + _field_lines(fields) + "\r\n\r\n").encode("latin-1")


_date_second = 0
_date_value = ""


def http_date() -> str:
    """The Date header value (RFC 9110 §6.6.1), formatted at most once a second."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_value = formatdate(now, usegmt=True)
        _date_second = now
    return _date_value
