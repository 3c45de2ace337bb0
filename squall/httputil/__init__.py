"""HTTP pieces shared by the server, the client and the web framework.

Here: the header container (``HTTPHeaders``), the server-side request object
(``HTTPServerRequest``), body parsing (URL-encoded forms and
``multipart/form-data``, with limits), start-line and cookie parsing, small
URL and date helpers, and the interfaces the HTTP/1.x connection code and its
users implement (``HTTPServerConnectionDelegate``, ``HTTPMessageDelegate``,
``HTTPConnection``). Names and behaviour follow Tornado 6's ``tornado.httputil``.

A package: each part lives in a private module (``_headers``, ``_body``,
``_request``, ``_interfaces``, ``_helpers``); this facade re-exports them
under their public names. The HTTP/1 wire grammar these share with the
server and client is ``squall._http1._abnf``.

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

from http.client import responses
from typing import Any

from squall._http1._abnf import ABNF as _ABNF  # noqa: F401
from squall.escape import native_str, parse_qs_bytes, to_unicode, utf8  # noqa: F401
from squall.httputil import _body
from squall.httputil._body import (  # noqa: F401
    HTTPFile,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    _check_query_arguments,
    _encode_header,
    _parse_header,
    parse_body_arguments,
    parse_multipart_form_data,
    set_parse_body_config,
)
from squall.httputil._headers import (  # noqa: F401
    _NORMALIZE_CACHE_SIZE,
    HTTP_WHITESPACE,
    HTTPHeaders,
    HTTPInputError,
    HTTPOutputError,
    _normalize_header,
    _normalized_names,
)
from squall.httputil._helpers import (
    encode_username_password,
    format_timestamp,
    parse_cookie,
    qs_to_qsl,
    split_host_and_port,
    url_concat,
)
from squall.httputil._interfaces import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
    parse_request_start_line,
    parse_response_start_line,
)
from squall.httputil._request import HTTPServerRequest
from squall.util import ObjectDict, unicode_type  # noqa: F401

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


def __getattr__(name: str) -> Any:
    # The body-parsing configuration changes with set_parse_body_config:
    # read it where it lives, not a copy taken at import. Tornado 6.6 calls
    # the current configuration _DEFAULT_PARSE_BODY_CONFIG (its tests read
    # the limits from it).
    if name in ("_parse_body_config", "_DEFAULT_PARSE_BODY_CONFIG"):
        return _body._parse_body_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
