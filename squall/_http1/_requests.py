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
- Transfer-Encoding other than exactly ``chunked``, or on HTTP/1.0
  (RFC 9112 §6.1: a 1.0 message with it must be treated as faulty framing).
"""

from __future__ import annotations

from typing import Any

import httptools

from squall._http1._abnf import HOST_RE, TOKEN_RE_BYTES
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
    hosts = fields.get("Host", [])
    if len(hosts) > 1:
        raise Reject(400, "more than one Host header")
    if not hosts:
        if version == "HTTP/1.1":
            raise Reject(400, "missing Host header")
    elif hosts[0] not in _valid_hosts:
        if not HOST_RE.match(hosts[0]):
            raise Reject(400, "invalid Host header")
        if len(_valid_hosts) < _VALID_HOSTS_MAX:
            _valid_hosts.add(hosts[0])
    te = fields.get("Transfer-Encoding")
    if te:
        if version == "HTTP/1.0":
            raise Reject(400, "Transfer-Encoding on an HTTP/1.0 request")
        if len(te) != 1 or te[0].strip().lower() != "chunked":
            raise Reject(400, "unsupported Transfer-Encoding")


def wants_keep_alive(version: str, fields: dict[str, list[str]]) -> bool:
    """Whether the client lets the connection persist (see ``keeps_alive``)."""
    return keeps_alive(version, fields.get("Connection"))


def _unknown_method(chunk: bytes) -> bytes | None:
    """The first method in ``chunk`` that llhttp does not know, looking at
    the packet's start and after each blank line (pipelined requests)."""
    starts = [0]
    position = chunk.find(b"\r\n\r\n")
    while position != -1:
        starts.append(position + 4)
        position = chunk.find(b"\r\n\r\n", position + 4)
    for start in starts:
        line = chunk[start : start + 64].lstrip(b"\r\n")
        method, space, _ = line.partition(b" ")
        if space and not _llhttp_knows(method):
            return method
    return None


def _llhttp_knows(method: bytes) -> bool:
    parser = httptools.HttpRequestParser(_NoCallbacks())
    try:
        parser.feed_data(method + b" / HTTP/1.1\r\n")
    except httptools.HttpParserInvalidMethodError:
        return False
    except httptools.HttpParserError:
        pass
    return True


class _NoCallbacks:
    pass


def reject_for_parser_error(error: Exception, parser: Any, chunk: bytes = b"") -> Reject:
    """The 4xx for something llhttp refused, with its own short reason."""
    message = str(error) or "malformed request"
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        # llhttp knows a fixed list of methods. A well-formed method it does
        # not know gets 405, as Tornado answers any method a handler lacks;
        # a method that is not even a token is malformed.
        method = _unknown_method(chunk)
        if method is not None and TOKEN_RE_BYTES.match(method):
            return Reject(405, "method not supported")
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
    return Reject(400, message[0].lower() + message[1:])
