"""What the curl client hands libcurl for a request: its checks, header
lines, body and credentials.

Private to squall.curl_httpclient. The checks are the simple client's
(``check_method_and_body``, ``check_request_head``), so both backends refuse
the same requests.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from squall._client_request import BODY_METHODS
from squall._http1_client import check_request_head
from squall.gen import is_coroutine_function
from squall.httputil import HTTPHeaders
from squall.simple_httpclient import _Target, check_method_and_body

__all__: list[str] = []


def _check_request(request: Any) -> None:
    """The simple client's checks, so both refuse the same requests."""
    if request.body_producer is not None:
        raise ValueError("body_producer is not supported by CurlAsyncHTTPClient")
    if is_coroutine_function(request.streaming_callback):
        # Tornado's words; curl's write callback cannot wait for one.
        raise TypeError("'CurlAsyncHTTPClient' does not support async streaming_callbacks.")
    check_method_and_body(request)
    target = _Target(request)
    check_request_head(request.method, target.request_target, request.headers)
    mode = request.auth_mode or "basic"
    if request.auth_username is not None and mode not in ("basic", "digest"):
        raise ValueError(f"unsupported auth_mode {mode}")


def _credential(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return unicodedata.normalize("NFC", value).encode("utf-8")


def _body_to_send(request: Any) -> bytes | None:
    """The body curl sends: a POST, PUT or PATCH without one (allowed by
    ``allow_nonstandard_methods``) sends an empty one, as Tornado's curl
    client does, rather than turning into a GET."""
    body: bytes | None = request.body
    if body is None and request.method in BODY_METHODS:
        return b""
    return body


def _header_lines(request: Any) -> list[bytes]:
    headers: HTTPHeaders = request.headers
    # Bytes, Latin-1 as HTTP/1.1 heads are (and as the simple client sends
    # them): pycurl would encode str as ASCII and refuse anything else.
    lines = [f"{name}: {value}".encode("latin-1") for name, value in headers.get_all()]
    # An empty value removes a header libcurl would add on its own: its
    # form Content-Type on bodies (kept only where the simple client sends
    # the same default, a POST), and Expect: 100-continue on large ones
    # unless the request asked for it.
    body = _body_to_send(request)
    if body is not None and "Content-Type" not in headers:
        if request.method == "POST":
            lines.append(b"Content-Type: application/x-www-form-urlencoded")
        else:
            lines.append(b"Content-Type:")
    if "Expect" not in headers:
        if request.expect_100_continue and body is not None:
            lines.append(b"Expect: 100-continue")
        else:
            lines.append(b"Expect:")
    return lines
