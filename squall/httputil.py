"""HTTP pieces shared by the server, the client and the web framework.

Here: the header container (``HTTPHeaders``), the server-side request object
(``HTTPServerRequest``), body parsing (URL-encoded forms and
``multipart/form-data``, with limits), start-line and cookie parsing, small
URL and date helpers, and the interfaces the HTTP/1.x connection code and its
users implement (``HTTPServerConnectionDelegate``, ``HTTPMessageDelegate``,
``HTTPConnection``). Names and behaviour follow Tornado 6's ``tornado.httputil``.

Errors raised by this module::

    Exception
     +-- HTTPInputError    the peer sent something malformed or over a limit:
     |                     a start line, a header line, a query string or body
     |                     with too many arguments, a bad multipart body. The
     |                     server answers 400 and closes the connection.
     +-- HTTPOutputError   the application produced something invalid, such
                           as more body bytes than its Content-Length.

Programming errors (a wrong argument type) raise ``TypeError``/``ValueError``.
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import http.cookies
import re
import ssl
import time
from collections.abc import Awaitable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from http.client import responses
from typing import TYPE_CHECKING, Any, AnyStr, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from squall._http1._abnf import VISIBLE_VALUE_RE, is_token
from squall.escape import native_str, parse_qs_bytes, to_unicode, utf8  # noqa: F401
from squall.util import ObjectDict, unicode_type  # noqa: F401

if TYPE_CHECKING:
    from asyncio import Future

__all__ = [
    "HTTP_WHITESPACE",
    "HTTPConnection",
    "HTTPFile",
    "HTTPHeaders",
    "HTTPInputError",
    "HTTPMessageDelegate",
    "HTTPOutputError",
    "HTTPServerConnectionDelegate",
    "HTTPServerRequest",
    "ParseBodyConfig",
    "ParseMultipartConfig",
    "ParseUrlEncodedConfig",
    "RequestStartLine",
    "ResponseStartLine",
    "encode_username_password",
    "format_timestamp",
    "parse_body_arguments",
    "parse_cookie",
    "parse_multipart_form_data",
    "parse_request_start_line",
    "parse_response_start_line",
    "qs_to_qsl",
    "responses",
    "set_parse_body_config",
    "split_host_and_port",
    "url_concat",
]


class HTTPInputError(Exception):
    """The peer sent malformed or oversized HTTP input."""


class HTTPOutputError(Exception):
    """The application tried to send something that is not valid HTTP."""


# RFC 9110 section 5.6.3: optional whitespace (OWS) is spaces and tabs only.
# Python's str.strip() would also remove \x0b, \x1c or \xa0, which are data.
HTTP_WHITESPACE = " \t"

# The grammar (RFC 9110 §5.6.2 tokens, §5.5 field values) is the HTTP/1
# core's: one copy for every role. A value with anything but HTAB, SP,
# visible ASCII and obs-text could split or smuggle a header.
_FORBIDDEN_VALUE_RE = VISIBLE_VALUE_RE

# Header names seen on the wire repeat endlessly, so their normalized form is
# cached. The cap keeps a peer sending random names from growing it without
# bound (Tornado caches 1000 names too); past it names are still normalized,
# just not remembered.
_NORMALIZE_CACHE_SIZE = 1000
_normalized_names: dict[str, str] = {}


def _normalize_header(name: str) -> str:
    """``content-TYPE`` -> ``Content-Type``: each dash-separated word capitalized."""
    normalized = _normalized_names.get(name)
    if normalized is None:
        normalized = "-".join(word.capitalize() for word in name.split("-"))
        if len(_normalized_names) < _NORMALIZE_CACHE_SIZE:
            _normalized_names[name] = normalized
    return normalized


# The ``_joined`` cache of headers nobody has read a multi-valued field of
# yet (most of them): shared, and never written to, so that building headers
# costs no dict for it.
_NOTHING_JOINED: dict[str, str] = {}


class _FieldError(HTTPInputError, ValueError):
    """A header set on ``HTTPHeaders`` that could never be sent: both an
    ``HTTPInputError`` (what ``add`` raises, as Tornado's does) and a
    ``ValueError`` (what a client raises for a request it refuses)."""


def _check_field(name: str, value: str) -> None:
    """Refuse a field that could not be sent as it is: a CR or LF would
    start a header line of its own (header injection), a NUL truncate it."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise _FieldError(f"Illegal characters (CR, LF or NUL) in header: {name}: {value!r}")
    if not is_token(name):
        if "\r" in name or "\n" in name or "\x00" in name:
            raise _FieldError(f"Illegal characters (CR, LF or NUL) in header name: {name!r}")
        raise _FieldError(f"Invalid header name {name!r}")


class HTTPHeaders(MutableMapping[str, str]):
    """A case-insensitive dict of HTTP headers that keeps repeated fields.

    Names are stored as ``Content-Type`` (each word capitalized) whatever the
    case they were given in. A field can have several values: ``add`` appends
    one, ``get_list`` returns them all, and plain item access joins them with
    ``","`` (RFC 9110 section 5.3). Assigning an item replaces every value.

    >>> h = HTTPHeaders({"content-type": "text/html"})
    >>> h.add("Set-Cookie", "A=B")
    >>> h.add("set-cookie", "C=D")
    >>> h["SET-COOKIE"]
    'A=B,C=D'
    >>> h.get_list("set-cookie")
    ['A=B', 'C=D']

    The constructor takes what ``dict`` takes (a mapping, pairs, keywords);
    given another ``HTTPHeaders`` it copies every value of every field.
    """

    __slots__ = ("_joined", "_last_key", "_lists")

    def __init__(self, *args: Any, **kwargs: str) -> None:
        # Every value of every field, in arrival order. Each add() is an
        # append, so building headers is linear however often a name repeats.
        self._lists: dict[str, list[str]] = {}
        # "a,b" strings for fields with several values, built on first read
        # and dropped when the field changes.
        self._joined: dict[str, str] = {}
        # The field a continuation line (obs-fold) extends.
        self._last_key: str | None = None
        if len(args) > 1:
            raise TypeError(f"HTTPHeaders expected at most 1 positional argument, got {len(args)}")
        if args and isinstance(args[0], HTTPHeaders):
            for name, values in args[0]._lists.items():
                self._lists[name] = list(values)
            args = args[1:]
        elif args and type(args[0]) is dict and not kwargs:
            # The common HTTPHeaders({...}) call: skip MutableMapping.update.
            lists = self._lists
            for name, value in args[0].items():
                _check_field(name, value)
                lists[_normalize_header(name)] = [value]
            return
        if args or kwargs:
            self.update(*args, **kwargs)

    @classmethod
    def _from_fields(cls, fields: dict[str, list[str]]) -> HTTPHeaders:
        """Fast constructor for squall's own code: ``fields`` must map
        canonical names (``Content-Type``) to fresh lists of values."""
        headers = cls.__new__(cls)
        headers._lists = fields
        headers._joined = _NOTHING_JOINED
        headers._last_key = None
        return headers

    # -- multi-value interface --------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Append a value for ``name``, keeping the existing ones.

        Raises ``HTTPInputError`` if the name is not a token or the value
        holds characters a header cannot carry (CR, LF, NUL, other controls).
        """
        if not is_token(name):
            raise HTTPInputError(f"Invalid header name {name!r}")
        if _FORBIDDEN_VALUE_RE.search(value):
            raise HTTPInputError(f"Invalid header value {value!r}")
        self._add_raw(name, value)

    def _add_raw(self, name: str, value: str) -> None:
        """Append a header without validating it: the HTTP parser's fast path.

        For the server's parser callbacks, which call this once per header
        line with the name and value already decoded to ``str`` (latin-1)
        and already checked by the parser. ``name`` may be in any case;
        ``value`` is stored exactly as given, so the caller must already
        have removed the surrounding whitespace.
        """
        key = _normalized_names.get(name)
        if key is None:
            key = _normalize_header(name)
        values = self._lists.get(key)
        if values is None:
            self._lists[key] = [value]
        else:
            values.append(value)
            self._joined.pop(key, None)
        self._last_key = key

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name`` (a new list), or ``[]`` if it is absent."""
        return list(self._lists.get(_normalize_header(name), ()))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Yield ``(name, value)`` once per value, fields in insertion order."""
        for name, values in self._lists.items():
            for value in values:
                yield name, value

    def parse_line(self, line: str) -> None:
        """Add one header line (``"Name: value"``) to this object.

        A trailing CRLF or LF is ignored, and so is an empty line. A line
        starting with a space or tab continues the previous header (obs-fold,
        RFC 9112 section 5.2): its text is appended to the previous value
        after one space. The HTTP server refuses obs-fold in requests; this
        lenience is for responses and other header blocks, where RFC 9112
        asks recipients to unfold.

        Raises ``HTTPInputError`` for a line without a colon, an invalid name
        or value, or a continuation with nothing to continue.
        """
        if line.endswith("\n"):
            line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        if not line:
            return
        if line[0] in HTTP_WHITESPACE:
            self._continue_line(line)
            return
        name, colon, value = line.partition(":")
        if not colon:
            raise HTTPInputError("no colon in header line")
        self.add(name, value.strip(HTTP_WHITESPACE))

    def _continue_line(self, line: str) -> None:
        key = self._last_key
        values = self._lists.get(key) if key is not None else None
        if key is None or not values:
            raise HTTPInputError("first header line cannot start with whitespace")
        extra = line.strip(HTTP_WHITESPACE)
        if _FORBIDDEN_VALUE_RE.search(extra):
            raise HTTPInputError(f"Invalid header value {extra!r}")
        if extra:
            values[-1] = (values[-1] + " " + extra).lstrip(HTTP_WHITESPACE)
            self._joined.pop(key, None)

    @classmethod
    def parse(cls, headers: str) -> HTTPHeaders:
        """Build headers from a block of ``Name: value`` lines.

        Lines may end in CRLF or LF; empty lines are skipped. Continuation
        lines are unfolded as ``parse_line`` describes. A stray CR inside a
        line is not a line break: it makes the value invalid.

        >>> HTTPHeaders.parse("Content-Type: text/html\\r\\nContent-Length: 42\\r\\n")["content-length"]
        '42'
        """
        h = cls()
        lines = headers.split("\n")
        # Only a line that ended in LF may drop a CR before it; a CR at the
        # very end of the text is not a line ending.
        unterminated = lines.pop()
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if line:
                h.parse_line(line)
        if unterminated:
            h.parse_line(unterminated)
        return h

    @classmethod
    def _parse_strict(cls, headers: str) -> HTTPHeaders:
        """``parse`` for MIME part headers: CRLF line ends only, no obs-fold."""
        if headers.count("\n") != headers.count("\r\n"):
            raise HTTPInputError("bare LF in header block")
        h = cls()
        for line in headers.split("\r\n"):
            if line[:1] in (" ", "\t"):
                raise HTTPInputError("header line cannot start with whitespace")
            h.parse_line(line)
        return h

    # -- MutableMapping ---------------------------------------------------

    def __getitem__(self, name: str) -> str:
        key = _normalize_header(name)
        values = self._lists[key]
        if len(values) == 1:
            return values[0]
        joined = self._joined.get(key)
        if joined is None:
            joined = ",".join(values)
            if self._joined is _NOTHING_JOINED:
                self._joined = {}
            self._joined[key] = joined
        return joined

    def __setitem__(self, name: str, value: str) -> None:
        _check_field(name, value)
        key = _normalize_header(name)
        self._lists[key] = [value]
        self._joined.pop(key, None)

    def __delitem__(self, name: str) -> None:
        key = _normalize_header(name)
        del self._lists[key]
        self._joined.pop(key, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize_header(name) in self._lists

    def __len__(self) -> int:
        return len(self._lists)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    # -- copying, pickling, display ---------------------------------------

    def copy(self) -> HTTPHeaders:
        """An independent copy, every value of every field included."""
        new = self.__class__.__new__(self.__class__)
        new._lists = {name: list(values) for name, values in self._lists.items()}
        new._joined = dict(self._joined)
        new._last_key = self._last_key
        return new

    # Values are immutable strings, so a copy of the lists is a deep copy.
    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> HTTPHeaders:
        return self.copy()

    def __getstate__(self) -> dict[str, list[str]]:
        return self._lists

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self._lists = {name: list(values) for name, values in state.items()}
        self._joined = {}
        self._last_key = None

    def __str__(self) -> str:
        # "Name: value" lines, one per value, ending in "\n" as Tornado's
        # do; parse() reads them back.
        return "".join(f"{name}: {value}\n" for name, value in self.get_all())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({list(self.get_all())!r})"


class HTTPFile(ObjectDict):
    """A file uploaded in a multipart form.

    Fields are readable both as keys and as attributes (``f["body"]`` and
    ``f.body``): ``filename``, ``body`` (bytes) and ``content_type``.
    """

    filename: str
    body: bytes
    content_type: str


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
# The request


class HTTPServerRequest:
    """A single HTTP request as the server received it.

    Attributes: ``method``, ``uri``, ``version``, ``headers``
    (``HTTPHeaders``), ``body`` (bytes), ``remote_ip`` and ``protocol``
    (``"http"`` or ``"https"``, both from ``connection.context`` when the
    connection has one), ``host`` (the Host header) and ``host_name``
    (``host`` without its port, lowercased), ``path`` and ``query`` (the URI
    split at its first ``?``), ``files`` (``{name: [HTTPFile]}``),
    ``arguments`` (query and body arguments together), ``query_arguments``,
    ``body_arguments`` (``{name: [bytes]}``), ``connection`` and
    ``server_connection``.

    ``query_arguments`` and ``arguments`` are parsed from the query string
    on first use: most requests never read them, and the server builds one
    of these objects per request. They behave like plain attributes (read,
    mutate, assign). An over-long query string is still rejected at once.

    ``start_line`` (a ``RequestStartLine``), when given, supplies method,
    URI and version; otherwise ``method`` defaults to ``"GET"`` and ``uri``
    to ``"/"``. An HTTP/1.1 request without a Host header, or one with
    several, raises ``HTTPInputError`` (RFC 9112 section 3.2); HTTP/1.0
    requests default to ``"127.0.0.1"``.
    """

    path: str
    query: str

    def __init__(
        self,
        method: str | None = None,
        uri: str | None = None,
        version: str = "HTTP/1.0",
        headers: HTTPHeaders | None = None,
        body: bytes | None = None,
        host: str | None = None,
        files: dict[str, list[HTTPFile]] | None = None,
        connection: HTTPConnection | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object | None = None,
    ) -> None:
        if start_line is not None:
            method, uri, version = start_line
        else:
            method = method or "GET"
            uri = uri or "/"
        assert method is not None and uri is not None
        self.method: str = method
        self.uri: str = uri
        self.version: str = version
        if headers is None:
            headers = HTTPHeaders()
        self.headers: HTTPHeaders = headers
        self.body: bytes = body or b""

        try:  # the server's connections always have these
            context: Any = connection.context  # type: ignore[union-attr]
            self.remote_ip: str | None = context.remote_ip
            self.protocol: str = context.protocol
        except AttributeError:
            context = getattr(connection, "context", None)
            self.remote_ip = getattr(context, "remote_ip", None)
            self.protocol = getattr(context, "protocol", "http")

        if host is None:
            hosts = headers._lists.get("Host") if isinstance(headers, HTTPHeaders) else None
            if hosts is not None and len(hosts) == 1:
                host = hosts[0]
            else:
                host = self._host_from_headers(headers, version)
        self.host: str = host
        self.files: dict[str, list[HTTPFile]] = files or {}
        self.connection = connection
        self.server_connection = server_connection
        self._start_time = time.time()

        path, _, query = uri.partition("?")
        self.path = path
        # The query as it was at construction: the lazy argument dicts are
        # parsed from it, as Tornado parses them eagerly in its constructor.
        self.query = self._initial_query = query
        if query:
            _check_query_arguments(query)
        self.body_arguments: dict[str, list[bytes]] = {}

    # Per-request state that starts empty (an instance attribute once set).
    _host_name: str | None = None
    _finish_time: float | None = None
    _query_arguments: dict[str, list[bytes]] | None = None
    _arguments: dict[str, list[bytes]] | None = None
    _cookies: http.cookies.SimpleCookie | None = None

    @property
    def host_name(self) -> str:
        """``host`` lower-cased, without its port (computed on first use)."""
        name = self._host_name
        if name is None:
            name = self._host_name = split_host_and_port(self.host.lower())[0]
        return name

    @host_name.setter
    def host_name(self, value: str) -> None:
        self._host_name = value

    @staticmethod
    def _host_from_headers(headers: HTTPHeaders, version: str) -> str:
        if isinstance(headers, HTTPHeaders):
            hosts = headers._lists.get("Host")
        else:  # a plain dict from a test or an old caller
            value = headers.get("Host")
            hosts = None if value is None else [value]
        if hosts:
            if len(hosts) > 1:
                raise HTTPInputError(f"Multiple host headers not allowed: {','.join(hosts)!r}")
            return hosts[0]
        if version == "HTTP/1.0":
            return "127.0.0.1"
        raise HTTPInputError("Missing Host header")

    # -- lazily parsed arguments ------------------------------------------

    def _parse_query(self) -> dict[str, list[bytes]]:
        return parse_qs_bytes(self._initial_query, keep_blank_values=True)

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """The query string's arguments, ``{name: [bytes value, ...]}``."""
        parsed = self._query_arguments
        if parsed is None:
            parsed = self._query_arguments = self._parse_query()
            if self._arguments is None:
                # Snapshot now, before the caller can mutate what we return:
                # the two dicts start out equal but independent.
                self._arguments = {name: list(values) for name, values in parsed.items()}
        return parsed

    @query_arguments.setter
    def query_arguments(self, value: dict[str, list[bytes]]) -> None:
        self._query_arguments = value

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """Query and body arguments merged, ``{name: [bytes value, ...]}``."""
        parsed = self._arguments
        if parsed is None:
            parsed = self._arguments = self._parse_query()
            if self._query_arguments is None:
                self._query_arguments = {name: list(values) for name, values in parsed.items()}
        return parsed

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value

    def _parse_body(self) -> None:
        """Parse ``body`` into ``body_arguments`` and ``files``; merge into ``arguments``.

        Called by the server once the body is complete. Raises
        ``HTTPInputError`` for a malformed body or one over the limits.
        """
        if not self.body:
            return  # nothing to parse: most requests (GET, HEAD...) take this path
        headers = self.headers
        content_type = headers.get("Content-Type", "")
        parse_body_arguments(content_type, self.body, self.body_arguments, self.files, headers)
        arguments = self.arguments
        for name, values in self.body_arguments.items():
            arguments.setdefault(name, []).extend(values)

    # -- everything else --------------------------------------------------

    @property
    def cookies(self) -> http.cookies.SimpleCookie:
        """The request's cookies as a ``http.cookies.SimpleCookie``, parsed on first use.

        Parsing is ``parse_cookie``'s (browser-like); names ``SimpleCookie``
        refuses (reserved attribute names, illegal characters) are dropped.
        """
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = http.cookies.SimpleCookie()
            values = self.headers.get_list("Cookie")
            if values:
                # RFC 6265 section 5.4: one Cookie header, pairs joined by
                # "; ". If a client sent several anyway, join them that way.
                for name, value in parse_cookie("; ".join(values)).items():
                    try:
                        cookies[name] = value
                    except http.cookies.CookieError:
                        pass
        return cookies

    def supports_http_1_1(self) -> bool:
        """True if the request was made with HTTP/1.1."""
        return self.version == "HTTP/1.1"

    def full_url(self) -> str:
        """The reconstructed URL: protocol, host and URI."""
        return self.protocol + "://" + self.host + self.uri

    def request_time(self) -> float:
        """Seconds the request has taken so far, or took if it is finished."""
        if self._finish_time is None:
            return time.time() - self._start_time
        return self._finish_time - self._start_time

    def get_ssl_certificate(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        """The client's TLS certificate, or None without TLS or a verified certificate.

        As a dict (see ``ssl.SSLSocket.getpeercert``), or DER bytes with
        ``binary_form=True``. A certificate is only available when the
        server's ``ssl.SSLContext`` asks for one (``verify_mode``).
        """
        getter = getattr(self.connection, "get_ssl_certificate", None)
        if getter is None:
            return None
        try:
            cert: dict[str, Any] | bytes | None = getter(binary_form=binary_form)
        except ssl.SSLError:
            return None
        return cert

    def __repr__(self) -> str:
        attrs = ("protocol", "host", "method", "uri", "version", "remote_ip")
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in attrs)
        return f"{self.__class__.__name__}({args})"


# ---------------------------------------------------------------------------
# Interfaces between the HTTP/1.x connection and its users


class HTTPServerConnectionDelegate:
    """What an HTTP server (``HTTPServer``) implements to serve connections."""

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Called when a new request starts on a connection.

        ``server_conn`` identifies the connection (requests on one keep-alive
        connection share it); ``request_conn`` is the ``HTTPConnection`` to
        answer this request on. Returns the ``HTTPMessageDelegate`` that
        receives the request.
        """
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """Called when the connection ``server_conn`` has closed."""


class HTTPMessageDelegate:
    """Receives one HTTP message (a request or a response) as it arrives.

    The methods are called in order: ``headers_received`` once, then
    ``data_received`` for each body chunk, then ``finish``, unless the
    connection drops first, in which case ``on_connection_close`` is called.
    """

    def headers_received(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
    ) -> Awaitable[None] | None:
        """The start line and headers are in.

        May return an awaitable; the connection reads no further (the body
        waits) until it completes, which is how a handler applies flow
        control.
        """
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """A chunk of the body. May return an awaitable, as ``headers_received``."""
        return None

    def finish(self) -> None:
        """The whole message has been received."""

    def on_connection_close(self) -> None:
        """The connection closed before the message was complete."""


class HTTPConnection:
    """How the application writes a response (or the client a request)."""

    # Empty, so that subclasses may use slots (the server makes one per request).
    __slots__ = ()

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        """Send the start line and headers, and optionally the first body chunk.

        The returned future resolves once the data is handed to the network,
        which is the signal that more may be written without buffering
        without bound.
        """
        raise NotImplementedError()

    def write(self, chunk: bytes) -> Future[None]:
        """Send a body chunk; the future resolves as for ``write_headers``."""
        raise NotImplementedError()

    def finish(self) -> None:
        """The message is complete; nothing more will be written."""
        raise NotImplementedError()


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
# Start lines


class RequestStartLine(NamedTuple):
    """The first line of a request: ``method``, ``path`` (the request target), ``version``."""

    method: str
    path: str
    version: str


class ResponseStartLine(NamedTuple):
    """The first line of a response: ``version``, ``code``, ``reason``."""

    version: str
    code: int
    reason: str


# RFC 9112 section 3: method SP request-target SP HTTP-version, where the
# method is a token and the target has no whitespace or control characters
# (visible ASCII and obs-text only).
_REQUEST_LINE_RE = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) (HTTP/[0-9]\.[0-9])"
)
# RFC 9112 section 4: HTTP-version SP 3DIGIT SP [reason-phrase], the reason
# being HTAB, SP, visible ASCII and obs-text. Only HTTP/1.x is spoken here.
_RESPONSE_LINE_RE = re.compile(r"(HTTP/1\.[0-9]) ([0-9]{3}) ([\t\x20-\x7e\x80-\xff]*)")


def parse_request_start_line(line: str) -> RequestStartLine:
    """Parse ``"GET /path HTTP/1.1"`` into a ``RequestStartLine``.

    Raises ``HTTPInputError`` if the line is malformed or its HTTP major
    version is not 1.

    >>> parse_request_start_line("GET /foo HTTP/1.1")
    RequestStartLine(method='GET', path='/foo', version='HTTP/1.1')
    """
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Malformed HTTP request line")
    method, path, version = match.groups()
    # RFC 9110 section 2.5: a different major version is a different protocol.
    if version[5] != "1":
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return RequestStartLine(method, path, version)


def parse_response_start_line(line: str) -> ResponseStartLine:
    """Parse ``"HTTP/1.1 200 OK"`` into a ``ResponseStartLine``.

    The reason phrase may be empty (``"HTTP/1.1 200 "``), but the space
    before it is required. Raises ``HTTPInputError`` if the line is
    malformed or the version is not HTTP/1.x.

    >>> parse_response_start_line("HTTP/1.1 200 OK")
    ResponseStartLine(version='HTTP/1.1', code=200, reason='OK')
    """
    match = _RESPONSE_LINE_RE.fullmatch(line)
    if match is None:
        raise HTTPInputError("Error parsing response start line")
    version, code, reason = match.groups()
    return ResponseStartLine(version, int(code), reason)


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
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
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
    if config is None:
        config = _parse_body_config
    media_type, params = _parse_header(content_type)
    media_type = media_type.lower()
    if media_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return
    if headers is not None and "Content-Encoding" in headers:
        raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
    if media_type == "application/x-www-form-urlencoded":
        if _count_fields(body) > config.urlencoded.max_arguments:
            raise HTTPInputError(
                "Invalid x-www-form-urlencoded body: Max number of fields exceeded"
            )
        for name, values in parse_qs_bytes(body, keep_blank_values=True).items():
            arguments.setdefault(name, []).extend(values)
        return
    boundary = params.get("boundary")
    if not boundary:
        raise HTTPInputError("Invalid multipart/form-data: multipart boundary not found")
    parse_multipart_form_data(utf8(boundary), body, arguments, files, config=config.multipart)


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    *,
    config: ParseMultipartConfig | None = None,
) -> None:
    """Parse a ``multipart/form-data`` body (RFC 7578) into ``arguments`` and ``files``.

    ``boundary`` is the Content-Type's boundary parameter (surrounding
    quotes are removed). Parts with a ``filename`` become ``HTTPFile``
    entries in ``files``, the rest values in ``arguments``; a repeated name
    collects several values. The body must start with the boundary (no
    preamble); anything after the final boundary (the epilogue) is ignored.

    Raises ``HTTPInputError`` if parsing is disabled, the final boundary is
    missing or the body does not start with the boundary, there are more
    parts than ``config.max_parts``, a part's
    headers exceed ``config.max_part_header_size`` or are malformed (bare
    CR or LF, folding, not UTF-8), a part is not ``form-data``, has no name,
    or does not end with CRLF before the next boundary.
    """
    if config is None:
        config = _parse_body_config.multipart
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    # RFC 2046 section 5.1.1: the boundary may be quoted in the header; the
    # quotes are not part of it.
    if len(boundary) >= 2 and boundary.startswith(b'"') and boundary.endswith(b'"'):
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
    if not data.startswith(delimiter):
        if final == 0:
            return  # just the close delimiter: an empty form
        # Browsers never send a preamble; a body that does not open with the
        # boundary is more likely corrupt than decorated, so refuse it
        # rather than silently drop what precedes the first good boundary.
        raise HTTPInputError("Invalid multipart/form-data: body does not start with the boundary")
    pos = len(delimiter)
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
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
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
    try:
        header_text = data[start:header_end].decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPInputError("Invalid multipart/form-data: part headers are not UTF-8") from None
    headers = HTTPHeaders._parse_strict(header_text)
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


# ---------------------------------------------------------------------------
# Range requests (used by the static file handler)


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    return int(value) if value else None


def _parse_request_range(range_header: str) -> tuple[int | None, int | None] | None:
    """Parse a single-range ``Range: bytes=...`` header (RFC 9110 section 14.1.2).

    Returns ``(start, end)`` as slice bounds: ``bytes=1-2`` is ``(1, 3)``,
    the suffix ``bytes=-5`` is ``(-5, None)``, ``bytes=5-`` is
    ``(5, None)``. ``bytes=-0`` gives ``(None, 0)``, which the caller must
    answer with 416. None means the header cannot be used (another unit,
    several ranges, not numbers).
    """
    unit, _, value = range_header.partition("=")
    if unit.strip() != "bytes":
        return None
    low_text, _, high_text = value.partition("-")
    try:
        low, high = _int_or_none(low_text), _int_or_none(high_text)
    except ValueError:
        return None
    if high is None:
        return low, None  # "N-" (open-ended) or "-" (neither bound)
    if low is not None:
        return low, high + 1  # turn the inclusive last byte into a slice end
    # A suffix range "-N" means the final N bytes; "-0" is passed through as
    # (None, 0) so the caller can reject it as unsatisfiable.
    return (None, 0) if high == 0 else (-high, None)


def _get_content_range(start: int | None, end: int | None, total: int) -> str:
    """A Content-Range value (RFC 9110 section 14.4): ``bytes first-last/total``."""
    first = start or 0
    last = (end or total) - 1
    return f"bytes {first}-{last}/{total}"
