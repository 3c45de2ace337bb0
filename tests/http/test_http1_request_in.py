"""``squall._http1._request_in.RequestParser``: a request head handed over
whole, then body bytes; the same checks as the asyncio server. No sockets."""

from __future__ import annotations

import pytest

from squall._http1._request_in import RequestParser
from squall._http1._requests import Reject


def test_a_head_and_its_chunked_body() -> None:
    parser = RequestParser()
    head = parser.parse_head(
        b"POST /up?x=1 HTTP/1.1\r\nHost: h\r\ncontent-TYPE: a/b\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert (head.method, head.target, head.version) == ("POST", "/up?x=1", "HTTP/1.1")
    assert sorted(head.headers.get_all()) == [
        ("Content-Type", "a/b"),
        ("Host", "h"),
        ("Transfer-Encoding", "chunked"),
    ]
    assert not parser.complete
    assert parser.feed(b"3\r\nabc\r\n") == [b"abc"]
    assert parser.feed(b"0\r\n") == []
    assert not parser.complete
    assert parser.feed(b"\r\n") == []
    assert parser.complete


def test_a_request_without_body_is_complete_at_once() -> None:
    parser = RequestParser()
    head = parser.parse_head(b"GET / HTTP/1.0\r\n\r\n")
    assert head.version == "HTTP/1.0"
    assert parser.complete


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "Malformed HTTP request line"),
        (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "Malformed HTTP request line"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "Missing Host header"),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Invalid Host header: 'a b'"),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "not supported"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, "whitespace"),
        (b"GET / HTTP/1.1\r\nHost: h\r\n", 400, "incomplete request head"),
    ],
)
def test_heads_squall_refuses(data: bytes, status: int, message: str) -> None:
    with pytest.raises(Reject, match=message) as caught:
        RequestParser().parse_head(data)
    assert caught.value.status == status


def test_a_bad_chunk_is_refused() -> None:
    parser = RequestParser()
    parser.parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(Reject, match="chunk size"):
        parser.feed(b"zz\r\n")
