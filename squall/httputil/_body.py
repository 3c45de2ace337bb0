"""Request bodies: URL-encoded forms and multipart/form-data, with limits,
and the header-parameter parsing they need (Content-Type, Content-Disposition)."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from squall.escape import parse_qs_bytes, utf8
from squall.httputil._headers import HTTPHeaders, HTTPInputError
from squall.util import ObjectDict


class HTTPFile(ObjectDict):
    """A file uploaded in a multipart form.

    Fields are readable both as keys and as attributes (``f["body"]`` and
    ``f.body``): ``filename``, ``body`` (bytes) and ``content_type``.
    """

    filename: str
    body: bytes
    content_type: str


# Name -> values, in the order the body carried them (the shape RequestHandler reads).
_ArgumentLists = dict[str, list[bytes]]
_UploadLists = dict[str, list[HTTPFile]]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


# ---------------------------------------------------------------------------
# Body parsing limits

# Tornado 6.6's defaults (the version that introduced these limits): at most
# 100 parts, each with at most 10 KiB of headers, and at most 1000
# URL-encoded arguments (the same cap applies to query strings). They bound
# the work and memory one request can demand.
_DEFAULT_MAX_PARTS = 100
_DEFAULT_MAX_PART_HEADER_SIZE = 10 * 1024
_DEFAULT_MAX_ARGUMENTS = 1000


def _check_limit(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")


@dataclass
class ParseMultipartConfig:
    """Limits for ``multipart/form-data`` bodies.

    ``enabled=False`` makes any multipart body an error. ``max_parts`` caps
    the number of parts and ``max_part_header_size`` the bytes of headers
    in one part.
    """

    enabled: bool = True
    max_parts: int = _DEFAULT_MAX_PARTS
    max_part_header_size: int = _DEFAULT_MAX_PART_HEADER_SIZE

    def __post_init__(self) -> None:
        _check_limit("max_parts", self.max_parts)
        _check_limit("max_part_header_size", self.max_part_header_size)


@dataclass
class ParseUrlEncodedConfig:
    """Limits for ``application/x-www-form-urlencoded`` bodies and query strings."""

    max_arguments: int = _DEFAULT_MAX_ARGUMENTS

    def __post_init__(self) -> None:
        _check_limit("max_arguments", self.max_arguments)


@dataclass
class ParseBodyConfig:
    """The limits ``parse_body_arguments`` applies, by body type."""

    multipart: ParseMultipartConfig = field(default_factory=ParseMultipartConfig)
    urlencoded: ParseUrlEncodedConfig = field(default_factory=ParseUrlEncodedConfig)


_parse_body_config = ParseBodyConfig()


def set_parse_body_config(config: ParseBodyConfig) -> None:
    """Replace the process-wide default limits for body and query parsing.

    Used when a call does not pass its own ``config``. The query-string
    argument limit of ``HTTPServerRequest`` follows ``config.urlencoded``.
    """
    global _parse_body_config
    if not isinstance(config, ParseBodyConfig):
        raise TypeError(f"expected a ParseBodyConfig, got {type(config).__name__}")
    _parse_body_config = config


def _count_fields(qs: str | bytes) -> int:
    """How many fields ``parse_qs_bytes`` will read from ``qs`` (blank ones included)."""
    if not qs:
        return 0
    if isinstance(qs, str):
        return qs.count("&") + 1
    return qs.count(b"&") + 1


def _check_query_arguments(query: str, config: ParseUrlEncodedConfig | None = None) -> None:
    """Raise ``HTTPInputError`` if ``query`` has more fields than allowed.

    ``HTTPServerRequest`` calls this when it is built, so an oversized query
    string fails at once (the server turns it into a 400) even though the
    arguments themselves are only parsed when first read. Counting is one
    pass in C, much cheaper than parsing.
    """
    limit = (config or _parse_body_config.urlencoded).max_arguments
    if _count_fields(query) > limit:
        raise HTTPInputError("Invalid query string: Max number of fields exceeded")


# ---------------------------------------------------------------------------
# Header parameters (Content-Type, Content-Disposition)

# A parameter split point: ";" outside a quoted string. An escaped quote
# (backslash, quote) does not open or close a string.
_PARAM_TOKEN_RE = re.compile(r'\\"|"|;')
# RFC 2231 section 3-4: "name*" (charset'language'percent-encoded value)
# and "name*0", "name*1*"... continuations. Other names with "*" are plain.
_EXTENDED_PARAM_RE = re.compile(r"[A-Za-z0-9_]+\*(?:[0-9]+\*?)?")


def _split_params(line: str) -> list[str]:
    """Split ``line`` at semicolons that are not inside double quotes, in one pass."""
    parts: list[str] = []
    start = 0
    quoted = False
    for m in _PARAM_TOKEN_RE.finditer(line):
        token = m.group()
        if token == ";":
            if not quoted:
                parts.append(line[start : m.start()])
                start = m.end()
        elif token == '"':
            quoted = not quoted
    parts.append(line[start:])
    return parts


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _parse_header(line: str) -> tuple[str, dict[str, str]]:
    r"""Parse a header with parameters, such as Content-Type.

    Returns the main value and a dict of parameters, with lowercase names
    and unquoted values. RFC 2231 / RFC 5987 extended parameters
    (``filename*=UTF-8''%E2%82%AC.txt``, continuations) are decoded and win
    over the plain parameter of the same name.

    >>> _parse_header('form-data; name="files"; filename="fo\\"o.txt"')
    ('form-data', {'name': 'files', 'filename': 'fo"o.txt'})

    Linear in the length of ``line``, however many quotes or semicolons it
    holds. Raises ``HTTPInputError`` for RFC 2231 continuations that mix
    numbered and unnumbered parts of one name.
    """
    parts = _split_params(line)
    key = parts[0].strip()
    params: dict[str, str] = {}
    extended: list[tuple[str, str]] = []
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if not eq:
            continue
        name = name.strip().lower()
        value = value.strip()
        if "*" in name and _EXTENDED_PARAM_RE.fullmatch(name):
            extended.append((name, value))
        else:
            params[name] = _strip_quotes(email.utils.unquote(value))
    if extended:
        try:
            decoded = email.utils.decode_params([("", ""), *extended])[1:]
        except TypeError:
            raise HTTPInputError("Invalid RFC 2231 parameter continuations") from None
        for name, raw in decoded:
            params[name] = _strip_quotes(email.utils.collapse_rfc2231_value(raw))
    return key, params


def _encode_header(key: str, pdict: Mapping[str, str | None]) -> str:
    """The inverse of ``_parse_header``: ``key; name=value; ...``, names sorted.

    A None value writes the bare name. Values are written as given, not
    quoted: the caller passes values that need no quoting.

    >>> _encode_header("permessage-deflate", {"client_max_window_bits": 15, "client_no_context_takeover": None})
    'permessage-deflate; client_max_window_bits=15; client_no_context_takeover'
    """
    if not pdict:
        return key
    out = [key]
    for name, value in sorted(pdict.items()):
        out.append(name if value is None else f"{name}={value}")
    return "; ".join(out)


# ---------------------------------------------------------------------------
# Bodies


def parse_body_arguments(
    content_type: str,
    body: bytes,
    arguments: _ArgumentLists,
    files: _UploadLists,
    headers: HTTPHeaders | None = None,
    *,
    config: ParseBodyConfig | None = None,
) -> None:
    """Parse a form body into ``arguments`` and ``files`` (updated in place).

    Handles ``application/x-www-form-urlencoded`` and
    ``multipart/form-data`` (media types compared case-insensitively);
    other types are ignored. ``config`` defaults to the limits set with
    ``set_parse_body_config``.

    Raises ``HTTPInputError`` for a malformed body, one over the limits, a
    multipart type without a boundary, or a body still carrying a
    Content-Encoding (the server decompresses before parsing, if enabled).
    """
    media_type, params = _parse_header(content_type)
    kind = media_type.lower()
    if kind != _URLENCODED and kind != _MULTIPART:
        return  # not a form: the handler reads request.body itself
    encoding = None if headers is None else headers.get("Content-Encoding")
    if encoding is not None:
        raise HTTPInputError(f"Unsupported Content-Encoding: {encoding}")
    limits = _parse_body_config if config is None else config
    if kind == _MULTIPART:
        boundary = params.get("boundary", "")
        if boundary == "":
            raise HTTPInputError("Invalid multipart/form-data: multipart boundary not found")
        parse_multipart_form_data(utf8(boundary), body, arguments, files, config=limits.multipart)
        return
    if _count_fields(body) > limits.urlencoded.max_arguments:
        raise HTTPInputError("Invalid x-www-form-urlencoded body: Max number of fields exceeded")
    decoded = parse_qs_bytes(body, keep_blank_values=True)
    for name in decoded:
        arguments.setdefault(name, []).extend(decoded[name])


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: _ArgumentLists,
    files: _UploadLists,
    *,
    config: ParseMultipartConfig | None = None,
) -> None:
    """Parse a ``multipart/form-data`` body (RFC 7578) into ``arguments`` and ``files``.

    ``boundary`` is the Content-Type's boundary parameter (surrounding
    quotes are removed). Parts with a ``filename`` become ``HTTPFile``
    entries in ``files``, the rest values in ``arguments``; a repeated name
    collects several values. What comes before the first boundary, if
    anything but an empty preamble, is read as a part (as Tornado does):
    it must have part headers. Anything after the final boundary (the
    epilogue) is ignored.

    Raises ``HTTPInputError`` if parsing is disabled, the final boundary is
    missing, there are more parts than ``config.max_parts``, a part's
    headers exceed ``config.max_part_header_size`` or are malformed (bare
    CR or LF, folding, not UTF-8), a part is not ``form-data``, has no name,
    or does not end with CRLF before the next boundary.
    """
    config = config or _parse_body_config.multipart
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    # RFC 2046 section 5.1.1: quotes around the boundary in the header are
    # not part of it.
    if len(boundary) > 1 and boundary[:1] == boundary[-1:] == b'"':
        boundary = boundary[1:-1]
    if not boundary:
        raise HTTPInputError("Invalid multipart/form-data: empty boundary")
    dash_boundary = b"--" + boundary
    final = data.rfind(dash_boundary + b"--")
    if final == -1:
        raise HTTPInputError("Invalid multipart/form-data: no final boundary found")
    # A delimiter line is CRLF "--" boundary; the CRLF belongs to the
    # delimiter (RFC 2046 section 5.1.1), which is why every part must end
    # with CRLF. At the very start of the body there is no CRLF.
    if final > 0 and data[final - 2 : final] != b"\r\n":
        raise HTTPInputError("Invalid multipart/form-data: final boundary not on its own line")
    delimiter = dash_boundary + b"\r\n"
    if data.startswith(delimiter):
        pos = len(delimiter)
    elif data.startswith(b"\r\n" + delimiter):
        # RFC 2046 section 5.1.1: the delimiter's CRLF, after an empty preamble.
        pos = len(delimiter) + 2
    else:
        # Whatever precedes the first delimiter is read as a part, as
        # Tornado reads it: a part whose opening boundary went missing
        # still has its headers, and anything else (a real preamble, which
        # browsers never send) fails as a part without headers rather than
        # being dropped without a word.
        pos = 0
    count = 0
    while pos <= final:
        end = data.find(delimiter, pos, final)
        if end == -1:
            end = final
        if end > pos:
            count += 1
            if count > config.max_parts:
                raise HTTPInputError("multipart/form-data has too many parts")
            _parse_part(data, pos, end, arguments, files, config)
        pos = end + len(delimiter)


def _parse_part(
    data: bytes,
    start: int,
    end: int,
    arguments: _ArgumentLists,
    files: _UploadLists,
    config: ParseMultipartConfig,
) -> None:
    """Parse the part data[start:end] (headers, blank line, content, CRLF)."""
    header_end = data.find(b"\r\n\r\n", start, end)
    if header_end == -1:
        raise HTTPInputError("multipart/form-data missing headers")
    if header_end - start > config.max_part_header_size:
        raise HTTPInputError("multipart/form-data part header too large")
    if data[end - 2 : end] != b"\r\n":
        raise HTTPInputError("Invalid multipart/form-data: part does not end with CRLF")
    raw_headers = data[start:header_end]
    try:
        raw_headers.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPInputError("Invalid multipart/form-data: part headers are not UTF-8") from None
    headers = _part_headers(raw_headers)
    disposition, disp_params = _parse_header(headers.get("Content-Disposition", ""))
    if disposition.lower() != "form-data":
        raise HTTPInputError("Invalid multipart/form-data: part is not form-data")
    name = disp_params.get("name")
    if not name:
        raise HTTPInputError("multipart/form-data missing name")
    # A part with headers but no content ends right after the blank line,
    # whose CRLF then doubles as the start of the delimiter.
    value = data[header_end + 4 : end - 2]
    filename = disp_params.get("filename")
    if filename:
        content_type = headers.get("Content-Type", "application/unknown")
        files.setdefault(name, []).append(
            HTTPFile(filename=filename, body=value, content_type=content_type)
        )
    else:
        arguments.setdefault(name, []).append(value)


def _part_headers(raw: bytes) -> HTTPHeaders:
    """A part's header block (already known to be UTF-8) as headers.

    RFC 7578 section 5.1: browsers put a non-ASCII field name or file name
    in the Content-Disposition as raw UTF-8. The block is checked octet by
    octet as the RFC 9110 grammar reads it (UTF-8's multi-byte sequences
    are all obs-text), then each value is decoded as the UTF-8 it is. A
    value begins and ends at ASCII octets, so it holds whole sequences.
    """
    headers = HTTPHeaders._parse_strict(raw.decode("latin-1"))
    if raw.isascii():
        return headers
    return HTTPHeaders._from_fields(
        {
            name: [value.encode("latin-1").decode("utf-8") for value in values]
            for name, values in headers._lists.items()
        }
    )
