"""Small helpers: URLs, dates, host:port, Basic credentials, cookies."""

from __future__ import annotations

import calendar
import datetime
import email.utils
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, AnyStr
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from squall.escape import utf8

# ---------------------------------------------------------------------------
# URLs and dates


def url_concat(
    url: str,
    args: dict[str, str] | list[tuple[str, str]] | tuple[tuple[str, str], ...] | None,
) -> str:
    """Append query arguments to ``url``, after any it already has.

    ``args`` is a dict or a sequence of pairs (which may repeat a name).

    >>> url_concat("http://example.com/foo?a=b", dict(c="d"))
    'http://example.com/foo?a=b&c=d'
    >>> url_concat("http://example.com/foo", [("c", "d"), ("c", "d2")])
    'http://example.com/foo?c=d&c=d2'
    """
    if args is None:
        return url
    if isinstance(args, dict):
        pairs: list[tuple[str, Any]] = list(args.items())
    elif isinstance(args, (list, tuple)):
        pairs = list(args)
    else:
        raise TypeError(f"'args' parameter should be dict, list or tuple. Not {type(args)}")
    parsed = urlparse(url)
    query = parse_qsl(parsed.query, keep_blank_values=True)
    query.extend(pairs)
    return urlunparse(
        (
            parsed.scheme,
            parsed.netloc,
            parsed.path,
            parsed.params,
            urlencode(query),
            parsed.fragment,
        )
    )


# The last formatted second: responses in the same second share a Date.
_last_timestamp: tuple[int, str] = (-1 << 63, "")


def format_timestamp(
    ts: int | float | tuple[Any, ...] | time.struct_time | datetime.datetime,
) -> str:
    """Format a time as an HTTP date (RFC 9110 section 5.6.7, IMF-fixdate).

    Accepts a Unix timestamp, a UTC time tuple (``time.gmtime()``), or a
    ``datetime`` (naive ones are taken as UTC).

    >>> format_timestamp(1359312200)
    'Sun, 27 Jan 2013 18:43:20 GMT'
    """
    global _last_timestamp
    if isinstance(ts, (int, float)):
        seconds = int(ts // 1)
    elif isinstance(ts, (tuple, time.struct_time)):
        seconds = calendar.timegm(ts)
    elif isinstance(ts, datetime.datetime):
        seconds = calendar.timegm(ts.utctimetuple())
    else:
        raise TypeError(f"unknown timestamp type: {ts!r}")
    cached_seconds, cached = _last_timestamp
    if seconds == cached_seconds:
        return cached
    # formatdate writes English day and month names whatever the locale.
    formatted = email.utils.formatdate(seconds, usegmt=True)
    _last_timestamp = (seconds, formatted)
    return formatted


# ---------------------------------------------------------------------------
# Small helpers


def qs_to_qsl(qs: Mapping[str, list[AnyStr]]) -> Iterable[tuple[str, AnyStr]]:
    """Turn ``{name: [values]}`` (as from ``parse_qs``) into ``(name, value)`` pairs."""
    for name, values in qs.items():
        for value in values:
            yield name, value


def split_host_and_port(netloc: str) -> tuple[str, int | None]:
    """Split ``"host:port"`` into ``("host", port)``; the port is None if absent.

    An IPv6 literal keeps its brackets (``"[::1]:8080"`` gives
    ``("[::1]", 8080)``). Anything after the last colon that is not all
    digits means there is no port.
    """
    host, colon, port = netloc.rpartition(":")
    if colon and host and port.isdecimal() and "\n" not in host:
        return host, int(port)
    return netloc, None


def encode_username_password(username: str | bytes, password: str | bytes) -> bytes:
    """``username:password`` as bytes (UTF-8 for str), for HTTP Basic authentication."""
    user = utf8(username)
    secret = utf8(password)
    if user is None or secret is None:
        raise TypeError("username and password must be str or bytes, not None")
    return user + b":" + secret


# RFC 6265 section 4.1.1 values may be quoted; inside, Python's cookie
# writer escapes with a backslash and three octal digits or a backslash and
# the character, so reading undoes both.
_COOKIE_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)


def _unquote_cookie(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value

    def unescape(m: re.Match[str]) -> str:
        octal = m.group(1)
        return chr(int(octal, 8)) if octal else m.group(2)

    return _COOKIE_ESCAPE_RE.sub(unescape, value[1:-1])


def parse_cookie(cookie: str) -> dict[str, str]:
    """Parse a Cookie header into ``{name: value}`` the way browsers read it.

    Pairs are split at every ``;`` (quotes do not protect one) and at the
    first ``=``; a pair without ``=`` has the empty name. Whitespace around
    names and values is dropped and quoted values are unquoted. Text inside
    one cookie's value never becomes a cookie of its own, so a value such
    as ``x]_xsrf=evil`` cannot plant an ``_xsrf`` cookie. The last of
    repeated names wins. Linear in the header length.
    """
    result: dict[str, str] = {}
    for chunk in cookie.split(";"):
        name, eq, value = chunk.partition("=")
        if not eq:
            name, value = "", name
        name = name.strip()
        value = value.strip()
        if name or value:
            result[name] = _unquote_cookie(value)
    return result
