"""The stream-based server's request parser (``_request_in``) takes what
llhttp refuses through the same Tornado grammar as the asyncio server
(``_fallback``): served, with its body framed, or refused in Tornado's
words. No sockets."""

from __future__ import annotations

import pytest

from squall._http1._request_in import RequestParser
from squall._http1._requests import Reject


def test_unknown_method_with_a_body() -> None:
    parser = RequestParser()
    head = parser.parse_head(b"OTHER /x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")
    assert (head.method, head.target, head.version) == ("OTHER", "/x?a=1", "HTTP/1.1")
    assert head.headers["Content-Length"] == "5"
    assert not parser.complete
    assert parser.feed(b"hel") == [b"hel"]
    assert parser.feed(b"lo") == [b"lo"]
    assert parser.complete


def test_unknown_method_without_a_body_is_complete_at_once() -> None:
    parser = RequestParser()
    head = parser.parse_head(b"get / HTTP/1.0\r\n\r\n")
    assert (head.method, head.version) == ("get", "HTTP/1.0")
    assert parser.complete


def test_chunked_body_after_a_head_llhttp_refused() -> None:
    parser = RequestParser()
    head = parser.parse_head(b"OTHER / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n")
    assert head.method == "OTHER"
    assert parser.feed(b"3\r\nabc\r\n0\r\n\r\n") == [b"abc"]
    assert parser.complete


def test_equal_content_length_list() -> None:
    parser = RequestParser()
    parser.parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\n")
    assert parser.feed(b"ok") == [b"ok"]
    assert parser.complete


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"OTHER / HTTP/1.1\r\nHost: h\r\nbroken\r\n\r\n", 400, "no colon in header line"),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
            400,
            r"Only integer Content-Length is allowed: \+1",
        ),
        (b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "Malformed HTTP request line"),
        (b"OTHER / HTTP/1.1\r\n\r\n", 400, "Missing Host header"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/2"),
    ],
)
def test_refused_in_tornado_words(data: bytes, status: int, message: str) -> None:
    with pytest.raises(Reject, match=message) as caught:
        RequestParser().parse_head(data)
    assert caught.value.status == status
