"""Deadlines Tornado programs set and rely on: a connection never used
closes at the idle timeout, and a body timeout a delegate sets for its
request (``set_body_timeout``, from a handler's ``prepare``) applies."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from squall import _tornado_mode
from squall.httputil import HTTPMessageDelegate, HTTPServerConnectionDelegate
from squall.testing import ExpectLog


def wait_for_close(port: int, data: bytes = b"", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_unused_connection_closes_at_the_idle_timeout(serve, blocking):
    # The header timeout (60 s by default) is longer: the idle one wins.
    port = serve(idle_connection_timeout=0.2)
    assert await blocking(wait_for_close, port) == b""


class _ShortBodyTimeout(HTTPServerConnectionDelegate):
    """Each request's delegate shortens its own body timeout."""

    def start_request(self, server_conn: Any, request_conn: Any) -> HTTPMessageDelegate:
        class Delegate(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: Any) -> None:
                request_conn.set_body_timeout(0.2)

        return Delegate()


@pytest.mark.parametrize(("as_tornado", "answer"), [(False, b"HTTP/1.1 408 "), (True, b"")])
async def test_body_timeout_set_by_the_delegate(serve, blocking, monkeypatch, as_tornado, answer):
    monkeypatch.setattr(_tornado_mode, "answer_as_tornado", as_tornado)
    port = serve(_ShortBodyTimeout(), body_timeout=3600)
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"
    with ExpectLog("squall.general", r"Timeout reading body from 127\.0\.0\.1$"):
        data = await blocking(wait_for_close, port, head)
    assert data.startswith(answer) and (answer or data == b"")
