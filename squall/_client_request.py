"""What one client request resolves to before it is sent: its options
(the request's own, else the client's defaults), where it goes (URL parts,
proxy, pool key), the checks on its method and body, and its head fields.
Shared by the simple and the curl client."""

from __future__ import annotations

import functools
import urllib.parse
from typing import Any

from squall import version
from squall._client_auth import basic_authorization, digest_authorization
from squall.httpclient import HTTPRequest
from squall.httputil import HTTPHeaders

__all__ = [
    "BODY_METHODS",
    "KNOWN_METHODS",
    "PoolKey",
    "ResolvedRequest",
    "Target",
    "check_method_and_body",
    "default_user_agent",
    "parse_url",
    "proxy_authorization",
    "request_headers",
    "url_credentials",
]

# Methods Tornado accepts without allow_nonstandard_methods, and which of
# them must carry a body.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})
# Methods whose body, sent without a Content-Type, is labelled as an HTML
# form (Tornado's client does the same, and servers parse such bodies).
_FORM_DEFAULT_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Parsed URLs kept (functools.lru_cache's default size): enough for the
# handful of URLs a client usually hammers.
URL_CACHE_SIZE = 128

# A pool of keep-alive connections serves requests with equal keys.
PoolKey = tuple[Any, ...]


class ResolvedRequest:
    """One hop's options resolved in a single pass: the request's own
    values, else the client's ``defaults`` (which hold Tornado's). The same
    answers as ``_RequestProxy``, whose three-level lookup on every read
    was a visible part of a keep-alive request."""

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any]) -> None:
        values = self.__dict__
        values.update(defaults)
        values.update({k: v for k, v in request.__dict__.items() if v is not None})
        values["headers"] = request.headers
        values["body"] = request.body
        values["request"] = request

    def __getattr__(self, name: str) -> Any:
        # Only reached for options neither the request nor the defaults set.
        if name.startswith("__"):
            raise AttributeError(name)
        return None


class Target:
    """Where a request goes: the URL's parts, the proxy, the pool key."""

    def __init__(self, request: Any) -> None:
        (
            self.scheme,
            self.host,
            self.port,
            self.host_literal,
            self.host_header,
            self.path,
        ) = parse_url(request.url)
        scheme, path = self.scheme, self.path
        self.proxy: tuple[str, int] | None = None
        if request.proxy_host:
            if not request.proxy_port:
                raise ValueError("proxy_host needs proxy_port")
            if request.proxy_auth_mode not in (None, "basic"):
                raise ValueError(f"Unsupported proxy_auth_mode {request.proxy_auth_mode}")
            self.proxy = (request.proxy_host, int(request.proxy_port))
        if self.proxy is not None and scheme == "http":
            # RFC 9112 §3.2.2: absolute-form to a proxy.
            self.request_target = f"http://{self.host_header}{path}"
        else:
            self.request_target = path
        tls = None
        if scheme == "https":
            options = request.ssl_options
            tls = (
                bool(request.validate_cert),
                request.ca_certs,
                request.client_cert,
                request.client_key,
                id(options) if options is not None else None,
            )
        proxy_user = request.proxy_username if self.proxy else None
        self.pool_key: PoolKey = (
            scheme,
            self.host,
            self.port,
            self.proxy,
            proxy_user,
            tls,
            request.network_interface,
            request.allow_ipv6,
        )


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def parse_url(url: str) -> tuple[str, str, int, str, str, str]:
    """scheme, host, port, host as written in an authority, Host header
    value, origin-form target. Cached: a client fetches the same URLs over
    and over, and urlsplit is a visible part of a keep-alive request."""
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"Unsupported url scheme: {url}")
    host = parsed.hostname
    if not host:
        raise ValueError(f"URL has no host: {url}")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError(f"Invalid port in URL: {url}") from None
    host_literal = f"[{host}]" if ":" in host else host
    netloc = parsed.netloc.rpartition("@")[2]
    host_header = netloc if port is not None else host_literal
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    return scheme, host, port or (443 if scheme == "https" else 80), host_literal, host_header, path


def check_method_and_body(request: Any) -> None:
    """KeyError for an unknown method, ValueError for a body where the
    method takes none or none where it needs one (Tornado's rules), unless
    ``allow_nonstandard_methods``. Shared with the curl client."""
    if request.allow_nonstandard_methods:
        return
    method = request.method
    if method not in KNOWN_METHODS:
        raise KeyError(f"unknown method {method}")
    has_body = request.body is not None or request.body_producer is not None
    if method in BODY_METHODS and not has_body:
        raise ValueError(
            f"Body must not be None for method {method} (unless allow_nonstandard_methods is true)"
        )
    if method not in BODY_METHODS and has_body:
        raise ValueError(
            f"Body must be None for method {method} (unless allow_nonstandard_methods is true)"
        )


def proxy_authorization(request: Any) -> str:
    """The ``Proxy-Authorization`` value (Basic, the only proxy_auth_mode)."""
    return basic_authorization(request.proxy_username, request.proxy_password or "")


def url_credentials(url: str) -> tuple[str | None, str | None]:
    """The user and password of ``url``'s userinfo, percent-decoded."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return None, None
    return urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")


def default_user_agent() -> str:
    """squall's own, or Tornado's under the ``tornado`` alias (squall.compat)."""
    from squall import compat

    if compat.is_installed():
        return f"Tornado/{compat.TORNADO_VERSION}"
    return f"squall/{version}"


def request_headers(
    request: Any, target: Target, digest_challenge: dict[str, str] | None
) -> HTTPHeaders:
    """The head fields ``request`` goes out with: its own, then Host,
    credentials, User-Agent, Accept-Encoding and the body's framing."""
    method = request.method
    check_method_and_body(request)
    headers = HTTPHeaders(request.headers)
    if "Host" not in headers:
        headers["Host"] = target.host_header
    username, password = request.auth_username, request.auth_password
    if username is None:
        # Credentials in the URL (http://user:pass@host/), as Tornado's client.
        username, password = url_credentials(request.url)
    if username is not None and "Authorization" not in headers:
        mode = request.auth_mode or "basic"
        if mode == "basic":
            headers["Authorization"] = basic_authorization(username, password or "")
        elif mode != "digest":
            raise ValueError(f"unsupported auth_mode {mode}")
        elif digest_challenge is not None:
            headers["Authorization"] = digest_authorization(
                digest_challenge, username, password or "", method, target.path
            )
    if target.proxy is not None and target.scheme == "http" and request.proxy_username:
        headers["Proxy-Authorization"] = proxy_authorization(request)
    if "User-Agent" not in headers:
        headers["User-Agent"] = request.user_agent or default_user_agent()
    if request.decompress_response and "Accept-Encoding" not in headers:
        headers["Accept-Encoding"] = "gzip"
    if request.body is not None:
        headers["Content-Length"] = str(len(request.body))
        if method in _FORM_DEFAULT_METHODS and "Content-Type" not in headers:
            # As Tornado's client: a body with no declared type is a form.
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif (
        request.body_producer is not None
        and "Content-Length" not in headers
        and "Transfer-Encoding" not in headers
    ):
        headers["Transfer-Encoding"] = "chunked"
    if request.expect_100_continue and (
        request.body is not None or request.body_producer is not None
    ):
        headers["Expect"] = "100-continue"
    return headers
