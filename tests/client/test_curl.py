"""What only the curl backend has: curl's options, timings, errors, close.

The behaviour both backends share is tested once for each, through the
``client``/``make_client`` fixtures of the other modules.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

pycurl = pytest.importorskip("pycurl")

from squall import gen  # noqa: E402
from squall.curl_httpclient import (  # noqa: E402
    CurlAsyncHTTPClient,
    CurlConnectionError,
    CurlError,
    CurlStreamClosedError,
    CurlTimeoutError,
)
from squall.httpclient import (  # noqa: E402
    AsyncHTTPClient,
    HTTPClient,
    HTTPClientError,
    HTTPConnectionError,
)
from squall.log import app_log  # noqa: E402
from squall.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError  # noqa: E402
from squall.testing import ExpectLog, bind_unused_port  # noqa: E402


@pytest.fixture
def curl_client(io_loop: Any) -> Any:
    http = CurlAsyncHTTPClient(force_instance=True)
    yield http
    http.close()


async def test_time_info_from_curl(app_server: Any, curl_client: CurlAsyncHTTPClient) -> None:
    response = await curl_client.fetch(app_server.url("/hello"))
    info = response.time_info
    assert set(info) == {
        "queue",
        "namelookup",
        "connect",
        "appconnect",
        "pretransfer",
        "starttransfer",
        "total",
        "redirect",
    }
    assert info["queue"] == 0.0
    # curl's timings are cumulative from the transfer's start.
    assert 0 < info["connect"] <= info["starttransfer"] <= info["total"]
    assert response.request_time is not None and response.request_time >= info["total"]
    again = await curl_client.fetch(app_server.url("/hello"))
    assert again.time_info["connect"] == 0.0  # a reused connection: no connect


async def test_queue_time_is_reported(app_server: Any, io_loop: Any) -> None:
    http = CurlAsyncHTTPClient(force_instance=True, max_clients=1)
    try:
        slow = http.fetch(app_server.url("/slow?delay=0.1"))
        fast = http.fetch(app_server.url("/hello"))
        assert (await fast).time_info["queue"] > 0
        assert (await slow).time_info["queue"] == 0.0
    finally:
        http.close()


async def test_prepare_curl_callback(app_server: Any, curl_client: CurlAsyncHTTPClient) -> None:
    handles: list[Any] = []

    def prepare(curl: Any) -> None:
        handles.append(curl)
        curl.setopt(pycurl.USERAGENT, "set-on-the-handle")

    response = await curl_client.fetch(app_server.url("/echo"), prepare_curl_callback=prepare)
    assert isinstance(handles[0], pycurl.Curl)
    assert json.loads(response.body)["headers"]["User-Agent"] == "set-on-the-handle"


async def test_body_producer_refused(app_server: Any, curl_client: CurlAsyncHTTPClient) -> None:
    async def produce(write: Any) -> None:
        await write(b"x")

    with pytest.raises(ValueError, match="body_producer is not supported"):
        await curl_client.fetch(app_server.url("/echo"), method="POST", body_producer=produce)


async def test_error_classes(
    app_server: Any, raw_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    with pytest.raises(CurlTimeoutError) as timeout:
        await curl_client.fetch(app_server.url("/slow?delay=5"), request_timeout=0.1)
    assert isinstance(timeout.value, HTTPTimeoutError)
    assert timeout.value.errno == pycurl.E_OPERATION_TIMEDOUT
    assert "timed out" in timeout.value.curl_message
    assert str(timeout.value) == "Timeout during request"

    sock, port = bind_unused_port()
    sock.close()
    with pytest.raises(CurlConnectionError) as refused:
        await curl_client.fetch(f"http://127.0.0.1:{port}/")
    assert isinstance(refused.value, HTTPConnectionError)
    assert isinstance(refused.value, OSError)
    assert refused.value.errno == pycurl.E_COULDNT_CONNECT

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    port = await raw_server(hang_up)
    with pytest.raises(CurlStreamClosedError) as closed:
        await curl_client.fetch(f"http://127.0.0.1:{port}/")
    assert isinstance(closed.value, HTTPStreamClosedError)
    assert closed.value.errno == pycurl.E_GOT_NOTHING
    assert str(closed.value).startswith("Stream closed: ")
    assert closed.value.code == 599


async def test_callback_exceptions_are_logged_and_the_fetch_goes_on(
    app_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    # As Tornado's curl client: the callbacks' errors are logged, not the
    # fetch's error.
    def bad_chunk(chunk: bytes) -> None:
        raise ZeroDivisionError("in streaming_callback")

    lines: list[str] = []

    def bad_line(line: str) -> None:
        lines.append(line)
        raise LookupError("in header_callback")

    with ExpectLog(app_log, "Exception in callback <function") as logged:
        response = await curl_client.fetch(app_server.url("/hello"), streaming_callback=bad_chunk)
    assert logged.logged_stack
    assert response.code == 200
    assert response.body == b""
    with ExpectLog(app_log, r"Exception in callback functools.partial\(<function"):
        response = await curl_client.fetch(app_server.url("/hello"), header_callback=bad_line)
    assert response.body == b"Hello"
    assert lines[0].startswith("HTTP/1.1 200") and lines[-1] == "\r\n"  # each line tried


async def test_async_streaming_callback_refused(
    app_server: Any, curl_client: CurlAsyncHTTPClient
) -> None:
    async def consumer(chunk: bytes) -> None:
        pass

    message = "'CurlAsyncHTTPClient' does not support async streaming_callbacks."
    with pytest.raises(TypeError, match=re.escape(message)):
        await curl_client.fetch(app_server.url("/hello"), streaming_callback=consumer)
    with pytest.raises(TypeError, match=re.escape(message)):
        await curl_client.fetch(
            app_server.url("/hello"), streaming_callback=gen.coroutine(lambda chunk: None)
        )


async def test_close_fails_requests_in_flight(app_server: Any, io_loop: Any) -> None:
    http = CurlAsyncHTTPClient(force_instance=True, max_clients=1)
    running = http.fetch(app_server.url("/slow?delay=5"))
    queued = http.fetch(app_server.url("/hello"))
    await asyncio.sleep(0.05)
    http.close()
    for future in (running, queued):
        with pytest.raises(HTTPClientError, match="client closed") as info:
            await future
        assert info.value.code == 599
    assert not isinstance(info.value, CurlError)


async def test_configured_as_default(app_server: Any, io_loop: Any) -> None:
    saved = AsyncHTTPClient._save_configuration()
    try:
        AsyncHTTPClient.configure(
            "squall.curl_httpclient.CurlAsyncHTTPClient",
            max_clients=2,
            defaults={"user_agent": "c"},
        )
        http = AsyncHTTPClient(force_instance=True)
        try:
            assert isinstance(http, CurlAsyncHTTPClient)
            assert http.max_clients == 2
            response = await http.fetch(app_server.url("/echo"))
            assert json.loads(response.body)["headers"]["User-Agent"] == "c"
        finally:
            http.close()
    finally:
        AsyncHTTPClient._restore_configuration(saved)


def test_blocking_client_on_curl() -> None:
    import threading

    from squall import web
    from squall.httpserver import HTTPServer
    from squall.ioloop import IOLoop

    class Hello(web.RequestHandler):
        def get(self) -> None:
            self.write("blocking")

    ready = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        loop = IOLoop(make_current=True)
        sock, port = bind_unused_port()
        server = HTTPServer(web.Application([("/", Hello)]))
        server.add_sockets([sock])
        state.update(loop=loop, port=port, server=server)
        ready.set()
        loop.start()
        server.stop()
        loop.run_sync(server.close_all_connections)
        loop.close(all_fds=True)

    thread = threading.Thread(target=serve)
    thread.start()
    ready.wait(5)
    client = HTTPClient(async_client_class=CurlAsyncHTTPClient)
    try:
        response = client.fetch(f"http://127.0.0.1:{state['port']}/")
        assert response.body == b"blocking"
        with pytest.raises(CurlError):
            client.fetch("http://127.0.0.1:9/", connect_timeout=1)
    finally:
        client.close()
        state["loop"].add_callback(state["loop"].stop)
        thread.join(5)
