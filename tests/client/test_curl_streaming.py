"""The curl client's streamed bodies (``_CurlStreamingBuffer``), body limit
and request bodies, as Tornado's curl client behaves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

pycurl = pytest.importorskip("pycurl")

from squall.curl_httpclient import (  # noqa: E402
    CurlAsyncHTTPClient,
    CurlError,
    _CurlStreamingBuffer,
)
from squall.ioloop import IOLoop  # noqa: E402


@pytest.fixture
def curl_client(io_loop: Any) -> Iterator[CurlAsyncHTTPClient]:
    http = CurlAsyncHTTPClient(force_instance=True)
    yield http
    http.close()


def _buffer(max_body_size: int = 1000) -> tuple[_CurlStreamingBuffer, Any, Any, list[bytes]]:
    client = mock.Mock(max_body_size=max_body_size, io_loop=IOLoop.current())
    curl = mock.Mock()
    received: list[bytes] = []
    return _CurlStreamingBuffer(client, curl, received.append), client, curl, received


# -- the buffer on its own -------------------------------------------------------


async def test_chunks_reach_the_callback_on_the_loop(io_loop: Any) -> None:
    buffer, _client, curl, received = _buffer()
    assert buffer.write(b"ab") == 2
    assert buffer.write(b"cde") == 3
    assert received == []  # not inside curl's callback
    await asyncio.sleep(0)
    assert received == [b"ab", b"cde"]
    assert (buffer.size, buffer.total) == (0, 5)
    assert curl.pause.call_count == 0


async def test_pauses_at_max_buffer_size_and_resumes_after_flush(io_loop: Any) -> None:
    buffer, client, curl, received = _buffer()
    with mock.patch.object(_CurlStreamingBuffer, "max_buffer_size", 5):
        assert buffer.write(b"abcd") == 4
        assert buffer.write(b"e") == 1  # 5 held now
        assert buffer.write(b"f") == pycurl.WRITEFUNC_PAUSE  # not kept: offered again
        assert buffer.paused
        await asyncio.sleep(0)
    assert received == [b"abcd", b"e"]
    assert not buffer.paused
    curl.pause.assert_called_once_with(pycurl.PAUSE_CONT)
    client._set_timeout.assert_called_once_with(0)


async def test_unpause_error_is_ignored(io_loop: Any) -> None:
    buffer, client, curl, received = _buffer()
    curl.pause.side_effect = pycurl.error(pycurl.E_BAD_FUNCTION_ARGUMENT, "gone")
    with mock.patch.object(_CurlStreamingBuffer, "max_buffer_size", 1):
        buffer.write(b"a")
        assert buffer.write(b"b") == pycurl.WRITEFUNC_PAUSE
        buffer.flush()
    assert received == [b"a"]
    assert not buffer.paused
    client._set_timeout.assert_not_called()


async def test_body_over_max_body_size_is_refused(io_loop: Any) -> None:
    buffer, _client, _curl, received = _buffer(max_body_size=10)
    assert buffer.write(b"x" * 6) == 6
    assert buffer.write(b"y" * 5) == 0  # curl aborts the transfer
    assert buffer.body_too_large
    buffer.finish()
    assert received == [b"x" * 6]


async def test_finish_delivers_what_is_held_without_resuming(io_loop: Any) -> None:
    buffer, client, curl, received = _buffer()
    with mock.patch.object(_CurlStreamingBuffer, "max_buffer_size", 2):
        buffer.write(b"ab")
        assert buffer.write(b"c") == pycurl.WRITEFUNC_PAUSE
        buffer.finish()
    assert received == [b"ab"]
    curl.pause.assert_not_called()
    client._set_timeout.assert_not_called()


async def test_callback_error_still_resumes_the_transfer(io_loop: Any) -> None:
    client = mock.Mock(max_body_size=1000, io_loop=IOLoop.current())
    curl = mock.Mock()

    def fail(chunk: bytes) -> None:
        raise ValueError("consumer failed")

    buffer = _CurlStreamingBuffer(client, curl, fail)
    with mock.patch.object(_CurlStreamingBuffer, "max_buffer_size", 1):
        buffer.write(b"a")
        buffer.write(b"b")
        with pytest.raises(ValueError, match="consumer failed"):
            buffer.flush()
    curl.pause.assert_called_once_with(pycurl.PAUSE_CONT)


# -- through the client, on real sockets --------------------------------------------


async def test_slow_consumer_pauses_the_download(
    app_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    received: list[bytes] = []
    with mock.patch.object(_CurlStreamingBuffer, "max_buffer_size", 1024):
        # About 1 MB in gzip-compressed form, delivered inflated by curl.
        await curl_client.fetch(
            app_server.url("/gzip?size=1000000"), streaming_callback=received.append
        )
    assert b"".join(received) == b"a" * 1000000


async def test_body_limit_message(app_server: Any) -> None:
    client = CurlAsyncHTTPClient(force_instance=True, max_body_size=1000)
    try:
        for streaming in (None, lambda chunk: None):
            with pytest.raises(CurlError) as info:
                await client.fetch(app_server.url("/gzip?size=5000"), streaming_callback=streaming)
            assert str(info.value) == "HTTP 599: body exceeded max_body_size of 1000 bytes"
            assert info.value.errno == pycurl.E_WRITE_ERROR
    finally:
        client.close()


@pytest.mark.parametrize(
    ("method", "content_type"), [("POST", "application/x-www-form-urlencoded"), ("PUT", None)]
)
async def test_body_method_without_a_body_sends_an_empty_one(
    app_server: Any, curl_client: CurlAsyncHTTPClient, method: str, content_type: str | None
) -> None:
    response = await curl_client.fetch(
        app_server.url("/echo"), method=method, allow_nonstandard_methods=True
    )
    echoed = json.loads(response.body)
    assert echoed["method"] == method
    assert echoed["headers"]["Content-Length"] == "0"
    assert echoed["headers"].get("Content-Type") == content_type


async def test_form_post_gets_a_form_content_type(
    app_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    response = await curl_client.fetch(app_server.url("/echo"), method="POST", body="a=1&b=2")
    echoed = json.loads(response.body)
    assert echoed["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert echoed["body"] == "a=1&b=2"
    typed = await curl_client.fetch(
        app_server.url("/echo"), method="POST", body="{}", headers={"Content-Type": "text/x"}
    )
    assert json.loads(typed.body)["headers"]["Content-Type"] == "text/x"


async def test_header_values_go_out_as_latin1(
    app_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    response = await curl_client.fetch(app_server.url("/echo"), headers={"X-Word": "bär"})
    assert json.loads(response.body)["headers"]["X-Word"] == "bär"
    with pytest.raises(UnicodeEncodeError):
        await curl_client.fetch(app_server.url("/echo"), headers={"X-Word": "€"})
