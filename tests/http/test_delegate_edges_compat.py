"""What a Tornado delegate may do to its connection that the HTTP layer
must take as Tornado does: write an interim response itself, answer
before the body arrives, and raise before answering."""

from __future__ import annotations

from typing import Any

import pytest
from httptest_helpers import raw_exchange, split_responses

from squall import _tornado_mode
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.testing import ExpectLog


async def test_handler_writes_its_own_100_continue(serve, blocking):
    def app(request):
        request.connection.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "2"}), b"ok"
        )
        request.connection.finish()

    port = serve(app)
    data = await blocking(
        raw_exchange, port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nok")


class _AnswersAtOnce(HTTPServerConnectionDelegate):
    """Answers in headers_received; counts the body bytes it is given."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def start_request(self, server_conn: Any, request_conn: Any) -> HTTPMessageDelegate:
        received = self.received

        class Delegate(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: Any) -> None:
                request_conn.write_headers(
                    ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "0"})
                )
                request_conn.finish()

            def data_received(self, chunk: bytes) -> None:
                received.append(chunk)

        return Delegate()


async def test_body_after_the_answer_is_not_delivered(serve, blocking):
    delegate = _AnswersAtOnce()
    port = serve(delegate)
    packet = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    data = await blocking(raw_exchange, port, packet)
    assert [r.status for r in split_responses(data)] == [200]
    assert delegate.received == []


class _Raises(HTTPServerConnectionDelegate):
    def start_request(self, server_conn: Any, request_conn: Any) -> HTTPMessageDelegate:
        class Delegate(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: Any) -> None:
                raise RuntimeError("boom")

        return Delegate()


@pytest.mark.parametrize(
    ("as_tornado", "answer"),
    [(False, b"HTTP/1.1 500 Internal Server Error\r\n\r\n"), (True, b"")],
)
async def test_delegate_that_raises(serve, blocking, monkeypatch, as_tornado, answer):
    monkeypatch.setattr(_tornado_mode, "answer_as_tornado", as_tornado)
    port = serve(_Raises())
    with ExpectLog("squall.application", "Uncaught exception"):
        data = await blocking(raw_exchange, port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert data == answer
