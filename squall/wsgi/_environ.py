"""The PEP 3333 ``environ`` for a request squall received.

``PATH_INFO`` is the percent-decoded path as a latin-1 string (bytes
carried one per character, as PEP 3333 section "Unicode Issues" asks);
``REMOTE_ADDR`` and ``wsgi.url_scheme`` come from the request, so they
follow ``HTTPServer(xheaders=True)``.
"""

from __future__ import annotations

import sys
import urllib.parse
from typing import Any

from squall.httputil import HTTPServerRequest, split_host_and_port

__all__ = ["build_environ"]

# Request headers CGI gives names without the HTTP_ prefix (RFC 3875 §4.1).
_CGI_HEADERS = {"Content-Type": "CONTENT_TYPE", "Content-Length": "CONTENT_LENGTH"}


def _environ_key(name: str) -> str | None:
    cgi = _CGI_HEADERS.get(name)
    if cgi is not None:
        return cgi
    if "_" in name:
        # "X-User_Id" and "X-User-Id" would both become HTTP_X_USER_ID; a
        # client could then forge a header a proxy in front of us set.
        # Dropped, as gunicorn and nginx do.
        return None
    return "HTTP_" + name.upper().replace("-", "_")


def build_environ(request: HTTPServerRequest, body: Any, file_wrapper: Any) -> dict[str, Any]:
    """The environ for ``request``; ``body`` becomes ``wsgi.input``."""
    host, port = split_host_and_port(request.host.lower() if request.host else "")
    scheme = request.protocol
    if port is None:
        port = 443 if scheme == "https" else 80
    path = request.path
    if path.startswith(("http://", "https://")):
        # RFC 9112 §3.2.2 absolute-form (what proxies are sent): the
        # application wants only the path.
        path = urllib.parse.urlsplit(path).path or "/"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": request.query,
        "REMOTE_ADDR": request.remote_ip or "",
        "SERVER_NAME": host or "localhost",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": request.version,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        # Applications run on a pool of threads; HTTPServer.start(n) may
        # also fork, so both kinds of concurrency are possible.
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        # wsgi.input returns b"" at the end of the body, chunked or not.
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": file_wrapper,
    }
    for name, values in _header_lists(request).items():
        key = _environ_key(name)
        if key is not None:
            # RFC 9110 §5.3: repeated fields combine with commas (cookies
            # with "; ", RFC 6265 §5.4, as a single Cookie header would be).
            environ[key] = ("; " if key == "HTTP_COOKIE" else ",").join(values)
    return environ


def _header_lists(request: HTTPServerRequest) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for name, value in request.headers.get_all():
        lists.setdefault(name, []).append(value)
    return lists
