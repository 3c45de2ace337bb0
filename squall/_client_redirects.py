"""Which responses the client answers itself (a redirect to follow, a
digest challenge to retry with credentials), and the request a redirect
turns into (RFC 9110 §15.4). Shared by the simple and the curl client."""

from __future__ import annotations

import copy
import urllib.parse
from typing import Any

from squall._client_auth import parse_digest_challenge
from squall._http1._response import ResponseHead
from squall.httpclient import HTTPRequest
from squall.httputil import HTTPHeaders

__all__ = ["REDIRECT_CODES", "is_intermediate", "origin", "redirected_request"]

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Fields that carry credentials for one origin (RFC 9110 §15.4: a client
# should not forward them when a redirect leaves it), and those describing a
# body that a redirect to GET drops.
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")
BODY_HEADERS = ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding")


def is_intermediate(
    request: Any, redirects_left: int, digest_tried: bool, head: ResponseHead
) -> bool:
    """Whether ``head`` is a response the client answers itself (a redirect
    to follow, a digest challenge), rather than the caller's response."""
    if head.code in REDIRECT_CODES:
        return bool("Location" in head.headers and request.follow_redirects and redirects_left > 0)
    return (
        head.code == 401
        and not digest_tried
        and request.auth_username is not None
        and request.auth_mode == "digest"
        and parse_digest_challenge(head.headers.get("WWW-Authenticate", "")) is not None
    )


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port (default filled in): what a redirect must keep
    for credentials to follow it."""
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    return scheme, (parsed.hostname or ""), parsed.port or (443 if scheme == "https" else 80)


def redirected_request(request: HTTPRequest, code: int, location: str) -> HTTPRequest:
    """The request to send for a redirect to ``location`` (RFC 9110 §15.4)."""
    new_url = urllib.parse.urljoin(request.url, location)
    scheme = urllib.parse.urlsplit(new_url).scheme.lower()
    if scheme not in ("http", "https"):
        # Fail now, not in a later fetch: file:, ftp:, javascript: ... are
        # never followed. Tornado's exception and words.
        raise ValueError(f"Unsupported url scheme: {new_url}")
    new = copy.copy(request)
    new.headers = HTTPHeaders(request.headers)
    new.url = new_url
    # 303 turns anything but HEAD into GET; 301/302 do so for POST, as
    # browsers do. 307 and 308 keep the method and body.
    if (code == 303 and request.method != "HEAD") or (
        code in (301, 302) and request.method == "POST"
    ):
        new.method = "GET"
        new.body = None
        new.body_producer = None
        for name in BODY_HEADERS:
            if name in new.headers:
                del new.headers[name]
    if origin(new_url) != origin(request.url):
        for name in (*CREDENTIAL_HEADERS, "Host"):
            if name in new.headers:
                del new.headers[name]
        new.auth_username = None
        new.auth_password = None
    return new
