"""HTTPServerRequest: one request as the server received it."""

from __future__ import annotations

import http.cookies
import ssl
import time
from typing import Any

from squall.escape import parse_qs_bytes
from squall.httputil._body import (
    _check_query_arguments,
    _UploadLists,
    parse_body_arguments,
)
from squall.httputil._headers import HTTPHeaders, HTTPInputError
from squall.httputil._helpers import parse_cookie, split_host_and_port
from squall.httputil._interfaces import HTTPConnection, RequestStartLine

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
        files: _UploadLists | None = None,
        connection: HTTPConnection | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object = None,
    ) -> None:
        # A parsed start line wins over the loose method/uri/version arguments.
        if start_line is None:
            method, uri = method or "GET", uri or "/"
        else:
            method, uri, version = start_line
        assert method is not None and uri is not None
        self.method: str = method
        self.uri: str = uri
        self.version: str = version
        self.headers: HTTPHeaders = HTTPHeaders() if headers is None else headers
        self.body: bytes = body or b""

        try:  # the server's connections always have these
            context: Any = connection.context  # type: ignore[union-attr]
            self.remote_ip: str | None = context.remote_ip
            self.protocol: str = context.protocol
        except AttributeError:
            # Test doubles and other connections may lack a context, or parts of one.
            context = getattr(connection, "context", None)
            self.protocol = getattr(context, "protocol", "http")
            self.remote_ip = getattr(context, "remote_ip", None)

        if host is None:
            # Nearly every request carries exactly one Host: take it without the checks.
            given = (
                self.headers._lists.get("Host") if isinstance(self.headers, HTTPHeaders) else None
            )
            if given and len(given) == 1:
                host = given[0]
            else:
                host = self._host_from_headers(self.headers, version)
        self.host: str = host
        self._start_time = time.time()
        self.connection = connection
        self.server_connection = server_connection
        self.files: _UploadLists = files or {}

        self.path, _, query = uri.partition("?")
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
    def scheme(self) -> str:
        """The URL scheme, ``"http"`` or ``"https"``: ``protocol`` under the
        name newer Tornado code uses (X-Forwarded-Proto counts when the
        server trusts ``xheaders``, as it does for ``protocol``)."""
        return self.protocol

    @scheme.setter
    def scheme(self, value: str) -> None:
        self.protocol = value

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
        return f"{self.protocol}://{self.host}{self.uri}"

    def request_time(self) -> float:
        """Seconds the request has taken so far, or took if it is finished."""
        # A request still in flight is measured against the clock right now.
        ended = time.time() if self._finish_time is None else self._finish_time
        return ended - self._start_time

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
