"""Escaping and unescaping for HTML, URLs and JSON, and str/bytes conversion.

The names and results follow Tornado 6's ``tornado.escape``; templates and
handlers call these on every request, so the conversions (``utf8``,
``to_unicode``) check the common type first and return at once.

Errors: the functions raise the builtin exceptions their standard-library
counterparts raise (``TypeError`` for a value of the wrong type,
``UnicodeDecodeError`` for bytes that are not UTF-8, ``json.JSONDecodeError``
(a ``ValueError``) for bad JSON). ``xhtml_escape(None)`` and ``linkify(None)``
raise ``TypeError`` where Tornado happens to raise ``AttributeError``.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable, Container
from typing import Any, overload

from squall.util import unicode_type

__all__ = [
    "json_decode",
    "json_encode",
    "linkify",
    "native_str",
    "parse_qs_bytes",
    "recursive_unicode",
    "squeeze",
    "to_basestring",
    "to_unicode",
    "unicode_type",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
    "xhtml_unescape",
]


def _wrong_type(value: object) -> TypeError:
    return TypeError(f"Expected bytes, unicode, or None; got {type(value)!r}")


# ---------------------------------------------------------------------------
# str <-> bytes


@overload
def utf8(value: bytes) -> bytes: ...
@overload
def utf8(value: str) -> bytes: ...
@overload
def utf8(value: None) -> None: ...


def utf8(value: str | bytes | None) -> bytes | None:
    """``value`` as UTF-8 bytes; bytes and None come back unchanged.

    Only ``bytes``, ``str`` and ``None`` are accepted: a ``bytearray`` or a
    number raises ``TypeError`` rather than being converted by accident.
    """
    # bytes first: on the server's write path most values already are.
    if type(value) is bytes or value is None:
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise _wrong_type(value)


@overload
def to_unicode(value: str) -> str: ...
@overload
def to_unicode(value: bytes) -> str: ...
@overload
def to_unicode(value: None) -> None: ...


def to_unicode(value: str | bytes | None) -> str | None:
    """``value`` as a str, decoding bytes as UTF-8; str and None come back unchanged."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise _wrong_type(value)


def recursive_unicode(obj: Any) -> Any:
    """Decode every bytes value inside nested dicts, lists and tuples.

    Dict keys are decoded too. Other containers (sets, for instance) and
    non-bytes leaves are returned as they are.
    """
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    if isinstance(obj, dict):
        return dict(_decoded_pair(pair) for pair in obj.items())
    if isinstance(obj, (list, tuple)):
        members = [recursive_unicode(member) for member in obj]
        # A list (or list subclass) becomes a plain list, any tuple a tuple.
        return members if isinstance(obj, list) else tuple(members)
    return obj


def _decoded_pair(pair: tuple[Any, Any]) -> tuple[Any, Any]:
    key, value = pair
    return recursive_unicode(key), recursive_unicode(value)


# Names from Tornado's Python 2 days, for code written against it that
# still calls them: all three are to_unicode.
native_str = to_basestring = _unicode = to_unicode


def _text(value: str | bytes) -> str:
    """Like ``to_unicode`` but None is an error (the caller needs text)."""
    if type(value) is str:
        return value
    if value is None:
        raise TypeError("Expected bytes or unicode; got None")
    text = to_unicode(value)
    assert text is not None
    return text


# ---------------------------------------------------------------------------
# HTML


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``& < > " '`` so the text is safe in HTML content and attributes.

    The apostrophe becomes ``&#x27;`` (not ``&#39;``), the same bytes
    Tornado produces, so cached pages and tests comparing output agree.
    """
    if type(value) is not str:
        value = _text(value)
    return html.escape(value)


def xhtml_unescape(value: str | bytes) -> str:
    """Replace HTML character references (named, decimal and hex) by their characters.

    References are resolved the way HTML5 browsers do, including the named
    ones browsers accept without a trailing semicolon; unknown names stay
    as written and out-of-range numbers become U+FFFD.
    """
    return html.unescape(_text(value))


# ---------------------------------------------------------------------------
# URLs


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode ``value`` (UTF-8 first) for use in a URL.

    With ``plus`` (the default) spaces become ``+`` and ``/`` is encoded, as
    a query-string value needs. With ``plus=False`` spaces become ``%20`` and
    ``/`` is left alone, as a path needs.
    """
    data = utf8(value)
    if data is None:
        raise TypeError("url_escape() expected str or bytes, got None")
    if plus:
        return urllib.parse.quote_plus(data)
    return urllib.parse.quote(data)


# Percent-decoding, done here rather than by urllib.parse: its
# unquote_to_bytes splits the input at every "%" into a list of small
# objects, some 190 bytes of memory per input byte for "%%%...", which a
# peer controls through every path and query string. A regular expression
# substitution is fast, but holds about 90 bytes per escape until it
# joins: it is given slices of a bounded size, so the overhead is a
# constant and the memory a few times the input.

# RFC 3986 section 2.1: pct-encoded = "%" HEXDIG HEXDIG (either case).
_PCT_ENCODED_RE = re.compile(rb"%[0-9A-Fa-f]{2}")
# Every spelling of every escape, so one dict lookup decodes it.
_PCT_DECODED = {
    f"%{high}{low}".encode(): bytes([int(high + low, 16)])
    for high in "0123456789abcdefABCDEF"
    for low in "0123456789abcdefABCDEF"
}
# Bytes decoded per substitution: at most ~2700 escapes, ~250 KB held.
_UNQUOTE_SLICE = 8192
# urllib.parse.unquote leaves non-ASCII characters of a str as they are and
# decodes each ASCII run (escapes and the literal characters around them)
# as one string of bytes.
_ASCII_RUN_RE = re.compile(r"[\x00-\x7f]+")


def _decode_escape(match: re.Match[bytes]) -> bytes:
    return _PCT_DECODED[match.group()]


def _unquote_to_bytes(data: bytes) -> bytes:
    """``urllib.parse.unquote_to_bytes`` for bytes, with the same result:
    each valid ``%XX`` becomes its octet, anything else stays as written."""
    if b"%" not in data:
        return data
    size = len(data)
    if size <= _UNQUOTE_SLICE:
        return _PCT_ENCODED_RE.sub(_decode_escape, data)
    out = bytearray()
    start = 0
    while start < size:
        end = start + _UNQUOTE_SLICE
        if end < size:
            # An escape cut by the slice's end goes whole into the next one.
            cut = data.rfind(b"%", end - 2, end)
            if cut != -1:
                end = cut
        out += _PCT_ENCODED_RE.sub(_decode_escape, data[start:end])
        start = end
    return bytes(out)


def _unquote(text: str, encoding: str, errors: str = "replace") -> str:
    """``urllib.parse.unquote(text, encoding, errors)``, with the same result."""
    if "%" not in text:
        return text
    if text.isascii():
        return _unquote_to_bytes(text.encode("ascii")).decode(encoding, errors)
    # The result is gathered as UTF-8 in one buffer (a list or StringIO of
    # the pieces would cost an object per ASCII run); "surrogatepass" lets
    # lone surrogates through both ways unchanged.
    out = bytearray()
    done = 0
    for run in _ASCII_RUN_RE.finditer(text):
        # Every run is decoded, "%" or not, as urllib does: in an encoding
        # that is not ASCII-compatible (UTF-16) that changes the text.
        out += text[done : run.start()].encode("utf-8", "surrogatepass")
        decoded = _unquote_to_bytes(run.group().encode("ascii")).decode(encoding, errors)
        out += decoded.encode("utf-8", "surrogatepass")
        done = run.end()
    out += text[done:].encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "surrogatepass")


@overload
def url_unescape(value: str | bytes, encoding: None, plus: bool = True) -> bytes: ...
@overload
def url_unescape(value: str | bytes, encoding: str = "utf-8", plus: bool = True) -> str: ...


def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Undo ``url_escape``.

    The result is decoded with ``encoding`` (undecodable bytes become
    U+FFFD); ``encoding=None`` returns the raw bytes instead. With ``plus``
    (the default) ``+`` means a space, as in query strings; pass
    ``plus=False`` for paths, where ``+`` is literal.
    """
    if encoding is None:
        if isinstance(value, str):
            # As urllib.parse.unquote_to_bytes takes a str: its UTF-8.
            value = value.encode("utf-8")
        elif not isinstance(value, bytes):
            raise _wrong_type(value)
        if plus:
            value = value.replace(b"+", b" ")
        return _unquote_to_bytes(value)
    text = _text(value)
    if plus:
        text = text.replace("+", " ")
    return _unquote(text, encoding)


def parse_qs_bytes(
    qs: str | bytes | None,
    keep_blank_values: bool = False,
    strict_parsing: bool = False,
    *,
    max_num_fields: int | None = None,
) -> dict[str, list[bytes]]:
    """Parse a query string into ``{name: [value, ...]}`` with bytes values.

    Names are str, values stay bytes so the caller can pick the charset
    later. Both go through latin-1, which maps every byte to one code point
    and back: a name holding UTF-8 bytes comes out as their latin-1 reading
    (re-encode with latin-1 to recover the bytes). A str ``qs`` must
    therefore only hold code points below 256 (``UnicodeEncodeError``
    otherwise). More than ``max_num_fields`` fields raises ``ValueError``.

    The result is ``urllib.parse.parse_qs``'s (fields split at ``&`` only,
    ``+`` is a space, blank values kept only on request, ``strict_parsing``
    raising ``ValueError`` for a field without ``=`` or an empty one); the
    fields are walked one at a time, so the memory used stays a small
    multiple of the input whatever it holds.
    """
    if not qs:
        return {}
    data = qs if isinstance(qs, bytes) else qs.encode("latin-1")
    if max_num_fields is not None and data.count(b"&") + 1 > max_num_fields:
        raise ValueError("Max number of fields exceeded")
    result: dict[str, list[bytes]] = {}
    start = 0
    size = len(data)
    while start <= size:
        end = data.find(b"&", start)
        if end == -1:
            end = size
        field = data[start:end]
        start = end + 1
        if not field:
            if strict_parsing:
                raise ValueError(f"bad query field: {field.decode('latin-1')!r}")
            continue
        name, eq, value = field.partition(b"=")
        if not eq:
            if strict_parsing:
                raise ValueError(f"bad query field: {field.decode('latin-1')!r}")
            if not keep_blank_values:
                continue
        elif not value and not keep_blank_values:
            continue
        key = _unquote_to_bytes(name.replace(b"+", b" ")).decode("latin-1")
        decoded = _unquote_to_bytes(value.replace(b"+", b" "))
        values = result.get(key)
        if values is None:
            result[key] = [decoded]
        else:
            values.append(decoded)
    return result


# ---------------------------------------------------------------------------
# JSON and whitespace


def json_encode(value: Any) -> str:
    """JSON-encode ``value``, safe to embed in an HTML ``<script>`` block.

    ``</`` is written as ``<\\/`` (still valid JSON for the same string) so a
    value containing ``</script>`` cannot close the surrounding tag.
    """
    return json.dumps(value).replace("</", "<\\/")


def json_decode(value: str | bytes) -> Any:
    """Parse JSON from a str or UTF-8 bytes."""
    return json.loads(_text(value))


_SQUEEZE_RE = re.compile(r"[\x00-\x20]+")


def squeeze(value: str) -> str:
    """Collapse each run of ASCII whitespace and control characters to one space, then strip."""
    return _SQUEEZE_RE.sub(" ", value).strip()


# ---------------------------------------------------------------------------
# linkify
#
# A link starts at a scheme (a word character, then word characters or
# hyphens, then ":" and one to three "/") or at "www." that does not follow a
# word character. Its body is made of characters that are neither whitespace
# nor one of ' ( ) < >, and of parenthesised groups with no space or nested
# parenthesis inside (so "wiki/Foo_(bar)" keeps its closing parenthesis). A
# group may open the body or follow a character that can end a link (below)
# or another group; "a.(b)" stops before the dot.
#
# The link ends at its last group or at its last letter, digit, "-", "_",
# "/", "\", control or non-ASCII character: trailing punctuation such as
# "." "," or a quote is left out, as readers expect. If nothing after two
# or three slashes can end it, the last slash does: "http://" alone is a
# link, "http:/" alone is not.
#
# The scan is linear. The start pattern only begins at the start of a run
# of word characters and hyphens, so it reads each run once, and the body
# pattern never backtracks; a body holding nothing that can end a link is
# skipped whole, because no link can start and end inside it either.

_G = r"\([^\s'()<>]*\)"
_END_CLASS = r"A-Za-z0-9_\-/\\\x00-\x08\x0e-\x1b\x7f-\U0010ffff"
_LINK_START_RE = re.compile(r"(?<![\w-])-*(?P<scheme>\w[\w-]*):(?P<slashes>/{1,3})|(?<!\w)www\.")
_LINK_BODY_RE = re.compile(rf"(?:{_G})?(?:[^\s'()<>]|(?<=[{_END_CLASS})]){_G})*+")
_LINK_END_RE = re.compile(rf"[{_END_CLASS})]")

# Display-shortening rule (shorten=True), the lengths Tornado uses: a link
# text longer than 30 characters keeps its host and at most 8 characters of
# the first path segment; if that is still over 45 (1.5 x 30) it is cut to 30.
_LINKIFY_MAX_LEN = 30
_LINKIFY_SEGMENT_LEN = 8


def _link_end(text: str, start: int, stop: int) -> int:
    """Index just past the last character in text[start:stop] that may end a link, or -1."""
    for i in range(stop - 1, start - 1, -1):
        if _LINK_END_RE.match(text[i]):
            return i + 1
    return -1


def _shorten_link(url: str, prefix_len: int) -> str:
    """The shortened display text for an (already escaped) link, or ``url`` itself."""
    original = url
    # The scheme and its slashes are never cut ("www." links have neither).
    host, slash, rest = url[prefix_len:].partition("/")
    if slash:
        segment = rest.split("/", 1)[0][:_LINKIFY_SEGMENT_LEN]
        segment = segment.split("?", 1)[0].split(".", 1)[0]
        url = url[:prefix_len] + host + "/" + segment
    if len(url) > _LINKIFY_MAX_LEN * 1.5:
        url = url[:_LINKIFY_MAX_LEN]
    if url == original:
        return original
    # An "&" near the end probably starts an entity the cut broke: drop it.
    amp = url.rfind("&")
    if amp > _LINKIFY_MAX_LEN - 5:
        url = url[:amp]
    url += "..."
    # Only worth it if the result is shorter than the original.
    return url if len(url) < len(original) else original


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: Container[str] = ("http", "https"),
) -> str:
    """Escape ``text`` as HTML and turn the URLs in it into ``<a>`` links.

    ``shorten`` abbreviates long link texts (the full URL goes in a ``title``
    attribute). ``extra_params`` is added inside each ``<a>`` tag, either as
    a string (``'rel="nofollow"'``) or as a function of the link's ``href``.
    Links starting with "www." get ``http://``; with ``require_protocol``
    they are left as plain text. A link whose scheme is not in
    ``permitted_protocols`` is left as plain text: never permit
    ``javascript`` or ``data``.
    """
    source = _text(text)
    if extra_params and not callable(extra_params):
        extra_params = " " + extra_params.strip()

    out: list[str] = []
    emitted = 0  # source[:emitted] is already in ``out``
    pos = 0
    while True:
        m = _LINK_START_RE.search(source, pos)
        if m is None:
            break
        body = _LINK_BODY_RE.match(source, m.end())
        assert body is not None  # the body pattern matches the empty string
        end = _link_end(source, m.end(), body.end())
        scheme = m.group("scheme")
        prefix_len = 0
        if scheme is not None:
            start = m.start("scheme")
            prefix_len = m.end() - start
            if end < 0 and len(m.group("slashes")) > 1:
                # Give the last slash to the body, where it can end the link.
                end = m.end()
                prefix_len -= 1
        else:
            start = m.start()
        if end < 0:
            pos = body.end()
            continue
        out.append(xhtml_escape(source[emitted:start]))
        url = xhtml_escape(source[start:end])
        emitted = pos = end

        if scheme is None:
            if require_protocol:
                out.append(url)
                continue
            href = "http://" + url
        elif scheme not in permitted_protocols:
            out.append(url)
            continue
        else:
            href = url

        if callable(extra_params):
            params = " " + extra_params(href).strip()
        else:
            params = extra_params
        if shorten and len(url) > _LINKIFY_MAX_LEN:
            display = _shorten_link(url, prefix_len)
            if display is not url:
                params += f' title="{href}"'
                url = display
        out.append(f'<a href="{href}"{params}>{url}</a>')
    out.append(xhtml_escape(source[emitted:]))
    return "".join(out)
