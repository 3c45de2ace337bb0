"""The checks squall adds to llhttp's when parsing a request (server role).

llhttp (through httptools, with no leniency flag) already rejects bad
methods, control characters in the target, bad header names and values,
obs-fold, bare LF, malformed or duplicate Content-Length, Transfer-Encoding
with Content-Length, bad chunk sizes and data after ``Connection: close``.
It accepts, and squall refuses here:

- a request line that is not exactly ``method SP target SP version CRLF``
  (double spaces; RFC 9112 §3 allows recipients to be lenient, which is how
  request smuggling starts);
- HTTP/0.9 and HTTP/2.0 on this HTTP/1.1 connection (400 / 505);
- ``*`` as the target of anything but OPTIONS (RFC 9112 §3.2.4);
- a missing, repeated or malformed Host (RFC 9112 §3.2: exactly one, in 1.1);
- Transfer-Encoding other than exactly ``chunked`` (RFC 9112 §6.1). On
  an HTTP/1.0 request it is read (as Tornado does), and the connection
  closes after the answer (RFC 9112 §6.1: the framing of such a message
  cannot be trusted to end where the client meant).
"""

from __future__ import annotations

from typing import Any

import httptools

from squall import _tornado_mode
from squall._http1._abnf import HOST_RE
from squall._http1._persistence import keeps_alive

__all__ = [
    "Reject",
    "check_request",
    "find_request_line",
    "reject_for_parser_error",
    "wants_keep_alive",
]


# The wording Tornado logs for a request line it cannot read (programs and
# tests match it in the "Malformed HTTP message from ..." log line).
MALFORMED_REQUEST_LINE = "Malformed HTTP request line"


class Reject(Exception):
    """The request must be refused with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Host values already found valid: clients repeat theirs on every request.
# Bounded, as the values come from the network.
_VALID_HOSTS_MAX = 1000
_valid_hosts: set[str] = set()


def find_request_line(
    method: bytes, url: bytes, version: str, chunk: bytes, tail: bytes, start: int = 0
) -> int:
    """Where the request line llhttp reported ends in the bytes received.

    llhttp skips repeated spaces, so the line it reports is rebuilt in
    canonical form and must appear verbatim in the input: in the current
    packet at or after ``start`` (where the previous message of the packet
    ended), or across the end of the previous packets (``tail``). Returns
    the offset in ``chunk`` just past the line; raises ``Reject`` for a
    malformed line or a version this server does not speak. (Negative
    when the line ended in ``tail``.)
    """
    ending = _LINE_ENDINGS.get(version)
    if ending is None:
        if version == "0.9":
            raise Reject(400, "HTTP/0.9 requests are not supported")
        raise Reject(505, f"HTTP/{version} is not supported")
    line = method + b" " + url + ending
    if tail:
        # The line began in an earlier packet: it starts in ``tail`` and
        # ends in this packet or even in that one (llhttp reports a header
        # line only once it sees what follows it, so the check can come a
        # packet late). A copy further on in this packet is another
        # request's line.
        at = (tail + chunk).find(line)
        if 0 <= at < len(tail):
            return at + len(line) - len(tail)  # below 0 if it ended there
        raise Reject(400, MALFORMED_REQUEST_LINE)
    at = chunk.find(line, start)
    if at >= 0:
        return at + len(line)
    raise Reject(400, MALFORMED_REQUEST_LINE)


# The end of a canonical request line, for each version this server speaks.
_LINE_ENDINGS = {"1.1": b" HTTP/1.1\r\n", "1.0": b" HTTP/1.0\r\n"}


def check_request(method: str, url: bytes, version: str, fields: dict[str, list[str]]) -> None:
    """Raise ``Reject`` for what llhttp accepted but squall does not.

    ``fields`` maps canonical header names (``Content-Length``) to values,
    as ``HTTPHeaders`` stores them.
    """
    if url == b"*" and method != "OPTIONS":
        raise Reject(400, "only OPTIONS may use the * target")
    # The reasons below are Tornado's words for the same refusals.
    hosts = fields.get("Host", [])
    if len(hosts) > 1:
        raise Reject(400, f"Multiple host headers not allowed: {','.join(hosts)!r}")
    if not hosts:
        if version == "HTTP/1.1":
            raise Reject(400, "Missing Host header")
    elif hosts[0] not in _valid_hosts:
        if not HOST_RE.match(hosts[0].strip(" \t")):
            raise Reject(400, f"Invalid Host header: {hosts[0]!r}")
        if len(_valid_hosts) < _VALID_HOSTS_MAX:
            _valid_hosts.add(hosts[0])
    te = fields.get("Transfer-Encoding")
    if te and (len(te) != 1 or te[0].strip(" \t").lower() != "chunked"):
        raise Reject(400, f"Unsupported Transfer-Encoding {','.join(te)}")


def wants_keep_alive(version: str, fields: dict[str, list[str]]) -> bool:
    """Whether the client lets the connection persist (see ``keeps_alive``)."""
    if not keeps_alive(version, fields.get("Connection")):
        return False
    if version != "HTTP/1.1" and "Transfer-Encoding" in fields:
        # RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has
        # faulty framing; close once it is answered. Tornado keeps such a
        # connection open when asked to, and so does its alias.
        return _tornado_mode.answer_as_tornado
    return True


def reject_for_parser_error(error: Exception, parser: Any, chunk: bytes = b"") -> Reject:
    """The 4xx for something llhttp refused (a request head it refuses is
    parsed again by ``_fallback`` first; this covers the rest), worded as
    Tornado words it where Tornado refuses the same thing."""
    reject = getattr(error, "reject", None)
    if isinstance(reject, Reject):  # the fallback parser's own refusal
        return reject
    message = str(error) or "malformed request"
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return Reject(400, MALFORMED_REQUEST_LINE)
    if message.startswith("Pause on PRI"):
        # The HTTP/2 connection preface (RFC 9113 §3.4), which llhttp stops
        # at with its own wording: this server speaks HTTP/1.x only.
        return Reject(505, "HTTP/2 is not supported here")
    if message == "Invalid HTTP version":
        try:
            major = int(parser.get_http_version().split(".")[0])
        except (ValueError, IndexError):
            major = 1
        if major >= 2:
            return Reject(505, "HTTP version not supported")
    lowered = message.lower()
    if "chunk size" in lowered:
        return Reject(400, "invalid chunk size")
    if "chunk data" in lowered:
        return Reject(400, "improperly terminated chunk")
    return Reject(400, message[0].lower() + message[1:])
