"""Forms and query strings as they arrive over a real socket: raw UTF-8 in
multipart part headers, the query-argument limit (Tornado 6.6's
``_DEFAULT_PARSE_BODY_CONFIG``), and what is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from squall import httputil, web
from squall.httputil import (
    HTTPInputError,
    HTTPServerRequest,
    ParseBodyConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    parse_multipart_form_data,
    set_parse_body_config,
)
from squall.testing import ExpectLog


class EchoForm(web.RequestHandler):
    def post(self) -> None:
        self.write(
            {
                "arguments": {
                    k: [v.decode() for v in vs] for k, vs in self.request.arguments.items()
                },
                "files": {
                    k: [[f.filename, f.content_type, f.body.decode()] for f in fs]
                    for k, fs in self.request.files.items()
                },
            }
        )

    def get(self) -> None:
        self.write({"count": len(self.request.query_arguments)})


def _app() -> web.Application:
    return web.Application([("/", EchoForm)])


def _part(disposition: bytes, body: bytes = b"content", extra: bytes = b"") -> bytes:
    return b"--B\r\nContent-Disposition: " + disposition + extra + b"\r\n\r\n" + body + b"\r\n"


_MULTIPART = {"Content-Type": "multipart/form-data; boundary=B"}


@pytest.fixture
def default_config() -> Iterator[ParseBodyConfig]:
    """The current configuration, put back after the test."""
    saved = httputil._DEFAULT_PARSE_BODY_CONFIG
    yield saved
    set_parse_body_config(saved)


async def test_raw_utf8_names_in_part_headers(start: Any) -> None:
    fetch = start(_app())
    body = (
        _part('form-data; name="files"; filename="测试.txt"'.encode())
        + _part('form-data; name="prénom"'.encode(), "José".encode())
        + _part(b'form-data; name="u"', extra="\r\nX-Note: \u2028".encode())
        + b"--B--\r\n"
    )
    reply = await fetch("/", "POST", body, _MULTIPART)
    assert reply.code == 200
    assert json.loads(reply.body) == {
        "arguments": {"prénom": ["José"], "u": ["content"]},
        "files": {"files": [["测试.txt", "application/unknown", "content"]]},
    }


@pytest.mark.parametrize(
    ("part", "message"),
    [
        # A control character is not field content, UTF-8 or not.
        (_part(b'form-data; name="a\x7f"'), "Invalid header value"),
        (_part(b'form-data; name="a\x01"'), "Invalid header value"),
        # Non-ASCII is never part of a header name.
        (_part(b'form-data; name="a"', extra="\r\nX-é: 1".encode()), "Invalid header name"),
        # Bytes that are not UTF-8.
        (_part(b'form-data; name="\xff"'), "not UTF-8"),
        # obs-fold in a part header.
        (_part(b'form-data; name="a"', extra=b"\r\n folded"), "folding not supported"),
    ],
)
def test_bad_part_headers(part: bytes, message: str) -> None:
    arguments: dict[str, list[bytes]] = {}
    files: dict[str, list[Any]] = {}
    with pytest.raises(HTTPInputError, match=message):
        parse_multipart_form_data(b"B", part + b"--B--\r\n", arguments, files)
    assert arguments == {} and files == {}


async def test_bad_part_header_is_a_400(start: Any) -> None:
    fetch = start(_app())
    with ExpectLog("squall.general", "Malformed HTTP message.*Invalid header value"):
        reply = await fetch(
            "/", "POST", _part(b'form-data; name="\x01"') + b"--B--\r\n", _MULTIPART
        )
    assert reply.code == 400


def test_default_config_is_the_current_one(default_config: ParseBodyConfig) -> None:
    assert default_config.urlencoded.max_arguments == 1000
    assert default_config.multipart.max_parts == 100
    assert default_config.multipart.max_part_header_size == 10 * 1024
    smaller = ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=3))
    set_parse_body_config(smaller)
    assert httputil._DEFAULT_PARSE_BODY_CONFIG is smaller
    start_line = RequestStartLine("GET", "/?a&b&c", "HTTP/1.0")
    assert len(HTTPServerRequest(start_line=start_line).query_arguments) == 3
    with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
        HTTPServerRequest(start_line=RequestStartLine("GET", "/?a&b&c&d", "HTTP/1.0"))


async def test_query_argument_limit_over_the_wire(start: Any) -> None:
    fetch = start(_app())
    limit = httputil._DEFAULT_PARSE_BODY_CONFIG.urlencoded.max_arguments
    at_limit = "&".join(f"a{i}=1" for i in range(limit))
    reply = await fetch("/?" + at_limit)
    assert reply.code == 200
    assert json.loads(reply.body) == {"count": limit}
    with ExpectLog("squall.general", "Malformed HTTP message.*Max number of fields exceeded"):
        reply = await fetch("/?" + at_limit + "&one=more")
    assert reply.code == 400
