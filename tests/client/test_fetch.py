"""SimpleAsyncHTTPClient against squall's own server over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from squall.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from squall.iostream import UnsatisfiableReadError
from squall.log import gen_log
from squall.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError, SimpleAsyncHTTPClient
from squall.testing import ExpectLog


async def test_get_and_response_fields(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(app_server.url("/hello"))
    assert response.code == 200
    assert response.reason == "OK"
    assert response.body == b"Hello"
    assert response.buffer is not None and response.buffer.read() == b"Hello"
    assert response.headers["Content-Length"] == "5"
    assert response.effective_url == app_server.url("/hello")
    assert response.error is None
    assert response.request_time is not None and response.request_time >= 0
    assert response.start_time is not None
    response.rethrow()  # nothing to raise


async def test_post_body_and_headers(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/echo?x=1"),
        method="POST",
        body="é",
        headers={"Content-Type": "text/plain", "X-Test": "yes"},
        user_agent="test-agent",
    )
    echoed = json.loads(response.body)
    assert echoed["method"] == "POST"
    assert echoed["uri"] == "/echo?x=1"
    assert echoed["body"] == "é".encode().decode("latin-1")
    assert echoed["headers"]["X-Test"] == "yes"
    assert echoed["headers"]["User-Agent"] == "test-agent"
    assert echoed["headers"]["Content-Length"] == "2"
    assert echoed["headers"]["Host"] == f"127.0.0.1:{app_server.port}"


async def test_default_user_agent(app_server: Any, client: AsyncHTTPClient) -> None:
    echoed = json.loads((await client.fetch(app_server.url("/echo"))).body)
    assert echoed["headers"]["User-Agent"].startswith("squall/")


async def test_error_status_raises_with_response(app_server: Any, client: AsyncHTTPClient) -> None:
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(app_server.url("/status/404"))
    assert info.value.code == 404
    assert info.value.response is not None
    assert info.value.response.body == b"status 404"
    assert str(info.value) == "HTTP 404: Not Found"


async def test_raise_error_false_returns_response(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(app_server.url("/status/500"), raise_error=False)
    assert response.code == 500
    assert isinstance(response.error, HTTPClientError)
    with pytest.raises(HTTPClientError):
        response.rethrow()


async def test_keep_alive_reuses_one_connection(app_server: Any, client: AsyncHTTPClient) -> None:
    for _ in range(5):
        assert (await client.fetch(app_server.url("/hello"))).body == b"Hello"
    assert len(app_server.peers) == 5
    assert len(set(app_server.peers)) == 1


async def test_concurrency_bounded_by_max_clients(app_server: Any, make_client: Any) -> None:
    client = make_client(max_clients=3)
    try:
        responses = await asyncio.gather(
            *[client.fetch(app_server.url("/hello")) for _ in range(12)]
        )
        assert all(r.body == b"Hello" for r in responses)
        assert len(set(app_server.peers)) <= 3
    finally:
        client.close()


async def test_connection_close_is_not_reused(app_server: Any, client: AsyncHTTPClient) -> None:
    await client.fetch(app_server.url("/close"))
    await client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 2


async def test_error_status_connection_still_reused(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    await client.fetch(app_server.url("/status/404"), raise_error=False)
    await client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 1


async def test_timeout_connection_not_reused(app_server: Any, client: AsyncHTTPClient) -> None:
    with pytest.raises(HTTPTimeoutError) as info:
        await client.fetch(app_server.url("/slow?delay=5"), request_timeout=0.2)
    assert info.value.code == 599
    assert str(info.value) == "Timeout during request"
    await client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 2


async def test_server_closing_idle_connection_is_retried(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    await client.fetch(app_server.url("/hello"))
    await app_server.server.close_all_connections()
    # The pooled connection is dead; the next GET goes on a new one.
    assert (await client.fetch(app_server.url("/hello"))).body == b"Hello"
    assert len(set(app_server.peers)) == 2


async def test_head_request_has_no_body_and_reuses(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    response = await client.fetch(app_server.url("/hello"), method="HEAD")
    assert response.code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "5"
    assert (await client.fetch(app_server.url("/hello"))).body == b"Hello"
    assert len(set(app_server.peers)) == 1


@pytest.mark.parametrize("code", [204, 304])
async def test_no_body_statuses(app_server: Any, client: AsyncHTTPClient, code: int) -> None:
    response = await client.fetch(app_server.url(f"/status/{code}"), raise_error=False)
    assert response.code == code
    assert response.body == b""
    await client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 1


async def test_chunked_response(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(app_server.url("/chunked"))
    assert response.body == b"asdfqwerzxcv"
    assert response.headers.get("Transfer-Encoding") == "chunked"


async def test_streaming_callback(app_server: Any, client: AsyncHTTPClient) -> None:
    chunks: list[bytes] = []
    response = await client.fetch(app_server.url("/chunked"), streaming_callback=chunks.append)
    assert b"".join(chunks) == b"asdfqwerzxcv"
    assert response.body == b""


async def test_async_streaming_callback(simple_client: Any, app_server: Any) -> None:
    client = simple_client  # curl refuses them, as Tornado's does (test_curl.py)
    chunks: list[bytes] = []

    async def slow_consumer(chunk: bytes) -> None:
        await asyncio.sleep(0)
        chunks.append(chunk)

    await client.fetch(app_server.url("/chunked"), streaming_callback=slow_consumer)
    assert b"".join(chunks) == b"asdfqwerzxcv"


async def test_header_callback(app_server: Any, client: AsyncHTTPClient) -> None:
    lines: list[str] = []
    await client.fetch(app_server.url("/hello"), header_callback=lines.append)
    assert lines[0] == "HTTP/1.1 200 OK\r\n"
    assert "Content-Length: 5\r\n" in lines
    assert lines[-1] == "\r\n"


async def test_gzip_decompressed(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(app_server.url("/gzip?size=5000"))
    assert response.body == b"a" * 5000
    assert "Content-Encoding" not in response.headers
    assert response.headers["X-Consumed-Content-Encoding"] == "gzip"
    echoed = json.loads((await client.fetch(app_server.url("/echo"))).body)
    assert echoed["headers"]["Accept-Encoding"] == "gzip"


async def test_gzip_left_alone_without_decompress(app_server: Any, client: AsyncHTTPClient) -> None:
    import gzip

    response = await client.fetch(app_server.url("/gzip?size=100"), decompress_response=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.body) == b"a" * 100
    echoed = json.loads((await client.fetch(app_server.url("/echo"), use_gzip=False)).body)
    assert "Accept-Encoding" not in echoed["headers"]


async def test_gzip_bomb_hits_max_body_size(
    app_server: Any, make_client: Any, backend: str
) -> None:
    client = make_client(max_body_size=100_000)
    try:
        # About 10 KB on the wire, 10 MB once inflated.
        if backend == "curl":
            with pytest.raises(HTTPClientError) as info:
                await client.fetch(app_server.url("/gzip?size=10000000"))
            assert "max_body_size" in str(info.value)
        else:  # as Tornado: logged, and the connection abandoned
            with (
                ExpectLog(gen_log, "Malformed HTTP message from None: decompressed body too large"),
                pytest.raises(HTTPStreamClosedError) as info,
            ):
                await client.fetch(app_server.url("/gzip?size=10000000"))
        assert info.value.code == 599
        assert (await client.fetch(app_server.url("/gzip?size=99999"))).body == b"a" * 99999
    finally:
        client.close()


async def test_max_header_size(app_server: Any, make_client: Any, backend: str) -> None:
    client = make_client(max_header_size=1024)
    try:
        assert (await client.fetch(app_server.url("/big_header?size=100"))).body == b"big"
        if backend == "curl":
            with pytest.raises(HTTPClientError) as info:
                await client.fetch(app_server.url("/big_header?size=2000"))
            assert info.value.code == 599
            assert "max_header_size" in str(info.value)
        else:  # as Tornado: the stream's read error, logged by the stream
            with (
                ExpectLog(gen_log, "Unsatisfiable read, closing connection"),
                pytest.raises(UnsatisfiableReadError, match="not found within 1024 bytes"),
            ):
                await client.fetch(app_server.url("/big_header?size=2000"))
    finally:
        client.close()


async def test_request_timeout_message(app_server: Any, client: AsyncHTTPClient) -> None:
    with pytest.raises(HTTPTimeoutError, match="Timeout during request"):
        await client.fetch(app_server.url("/slow?delay=5"), request_timeout=0.1)


async def test_connect_timeout_message(client: AsyncHTTPClient, raw_server: Any) -> None:
    # A listening socket whose backlog is full never completes a handshake
    # on every platform, so time out in the TLS handshake instead: the
    # server accepts and never answers the ClientHello.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await raw_server(silent)
    # The simple client names the step that ran out of time, as Tornado's
    # does; curl reports only that the connection did not complete.
    expected = r"Timeout (during TLS handshake with 127\.0\.0\.1:\d+|while connecting)$"
    with pytest.raises(HTTPTimeoutError, match=expected):
        await client.fetch(f"https://127.0.0.1:{port}/", connect_timeout=0.2)


async def test_queue_timeout(app_server: Any, make_client: Any) -> None:
    client = make_client(max_clients=1)
    try:
        slow = client.fetch(app_server.url("/slow?delay=0.5"))
        with pytest.raises(HTTPTimeoutError, match="Timeout in request queue"):
            await client.fetch(app_server.url("/hello"), request_timeout=0.1)
        assert (await slow).body == b"slow"
    finally:
        client.close()


async def test_queued_request_runs_after_slot_frees(app_server: Any, make_client: Any) -> None:
    client = make_client(max_clients=1)
    try:
        first = client.fetch(app_server.url("/slow?delay=0.1"))
        second = client.fetch(app_server.url("/hello"))
        assert (await second).body == b"Hello"
        assert (await first).body == b"slow"
    finally:
        client.close()


async def test_connection_refused_is_599(client: AsyncHTTPClient) -> None:
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(f"http://127.0.0.1:{port}/")
    assert info.value.code == 599
    assert isinstance(info.value, OSError)


async def test_network_error_even_with_raise_error_false(client: AsyncHTTPClient) -> None:
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    with pytest.raises(HTTPClientError):
        await client.fetch(f"http://127.0.0.1:{port}/", raise_error=False)


async def test_expect_100_continue(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/continue"), method="POST", body="payload", expect_100_continue=True
    )
    assert response.body == b"got payload"


async def test_body_producer_chunked(app_server: Any, simple_client: SimpleAsyncHTTPClient) -> None:
    async def produce(write: Any) -> None:
        await write(b"one,")
        await write(b"")
        await write(b"two")

    response = await simple_client.fetch(
        app_server.url("/echo"), method="POST", body_producer=produce
    )
    echoed = json.loads(response.body)
    assert echoed["body"] == "one,two"
    assert echoed["headers"]["Transfer-Encoding"] == "chunked"


async def test_body_producer_with_length(
    app_server: Any, simple_client: SimpleAsyncHTTPClient
) -> None:
    async def produce(write: Any) -> None:
        await write(b"12345")

    response = await simple_client.fetch(
        app_server.url("/echo"),
        method="PUT",
        body_producer=produce,
        headers={"Content-Length": "5"},
    )
    assert json.loads(response.body)["body"] == "12345"


async def test_large_body(app_server: Any, client: AsyncHTTPClient) -> None:
    body = b"x" * 300_000
    response = await client.fetch(app_server.url("/echo"), method="POST", body=body)
    assert len(json.loads(response.body)["body"]) == 300_000


async def test_if_modified_since(app_server: Any, client: AsyncHTTPClient) -> None:
    import datetime

    when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    echoed = json.loads((await client.fetch(app_server.url("/echo"), if_modified_since=when)).body)
    assert echoed["headers"]["If-Modified-Since"] == "Thu, 02 Jan 2020 03:04:05 GMT"


async def test_basic_auth(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/basic"), auth_username="Aladdin", auth_password="open sesame"
    )
    assert response.body == b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="  # RFC 7617 §2


async def test_digest_auth(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/digest"), auth_username="foo", auth_password="bar", auth_mode="digest"
    )
    assert response.body == b"digest ok"
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(
            app_server.url("/digest"),
            auth_username="foo",
            auth_password="wrong",
            auth_mode="digest",
        )
    assert info.value.code == 403


async def test_unsupported_auth_mode(app_server: Any, client: AsyncHTTPClient) -> None:
    with pytest.raises(ValueError, match="unsupported auth_mode"):
        await client.fetch(app_server.url("/basic"), auth_username="a", auth_mode="ntlm")


async def test_defaults(app_server: Any, make_client: Any) -> None:
    client = make_client(defaults={"user_agent": "from-defaults"})
    try:
        echoed = json.loads((await client.fetch(app_server.url("/echo"))).body)
        assert echoed["headers"]["User-Agent"] == "from-defaults"
        echoed = json.loads((await client.fetch(app_server.url("/echo"), user_agent="own")).body)
        assert echoed["headers"]["User-Agent"] == "own"
    finally:
        client.close()


async def test_hostname_mapping(app_server: Any, io_loop: Any) -> None:
    client = SimpleAsyncHTTPClient(
        force_instance=True, hostname_mapping={"www.example.invalid": "127.0.0.1"}
    )
    try:
        url = f"http://www.example.invalid:{app_server.port}/echo"
        echoed = json.loads((await client.fetch(url)).body)
        assert echoed["headers"]["Host"] == f"www.example.invalid:{app_server.port}"
    finally:
        client.close()


async def test_network_interface(app_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    await client.fetch(app_server.url("/hello"), network_interface="127.0.0.1")
    assert app_server.peers[0][0] == "127.0.0.1"
    if backend == "curl":
        # libcurl also takes interface names, so a bad one fails binding.
        with pytest.raises(HTTPClientError, match="binding") as info:
            await client.fetch(app_server.url("/hello"), network_interface="not-an-ip")
        assert info.value.code == 599
        return
    with pytest.raises(ValueError, match="network_interface"):
        await client.fetch(app_server.url("/hello"), network_interface="not-an-ip")


async def test_http_request_object(app_server: Any, client: AsyncHTTPClient) -> None:
    request = HTTPRequest(app_server.url("/echo"), method="DELETE", headers={"X-A": "b"})
    echoed = json.loads((await client.fetch(request)).body)
    assert echoed["method"] == "DELETE"
    with pytest.raises(ValueError, match="kwargs can't be used"):
        client.fetch(request, method="GET")


async def test_allow_nonstandard_methods(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/echo"), method="GET", body="x", allow_nonstandard_methods=True
    )
    assert json.loads(response.body)["body"] == "x"


@pytest.mark.parametrize(("length", "message"), [("3", "more than"), ("9", "6 bytes less")])
async def test_body_producer_must_match_content_length(
    app_server: Any, simple_client: SimpleAsyncHTTPClient, length: str, message: str
) -> None:
    from squall.httputil import HTTPOutputError

    async def produce(write: Any) -> None:
        await write(b"abc")
        await write(b"")

    async def produce_more(write: Any) -> None:
        await write(b"abc")
        await write(b"d")

    with pytest.raises(HTTPOutputError, match=message):
        await simple_client.fetch(
            app_server.url("/echo"),
            method="POST",
            body_producer=produce_more if length == "3" else produce,
            headers={"Content-Length": length},
        )
    # The connection that carried the bad body is not reused.
    assert (await simple_client.fetch(app_server.url("/hello"))).body == b"Hello"


async def test_idle_connection_expires(
    app_server: Any, simple_client: SimpleAsyncHTTPClient, monkeypatch: Any
) -> None:
    import squall.simple_httpclient

    monkeypatch.setattr(squall.simple_httpclient, "IDLE_CONNECTION_TIMEOUT", 0.05)
    await simple_client.fetch(app_server.url("/hello"))
    await asyncio.sleep(0.2)
    await simple_client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 2


async def test_close_drops_idle_connections(app_server: Any, io_loop: Any) -> None:
    client = SimpleAsyncHTTPClient(force_instance=True)
    await client.fetch(app_server.url("/hello"))
    pooled = [c.stream for cs in client._pool.idle.values() for c in cs]
    assert len(pooled) == 1
    client.close()
    assert pooled[0].closed()
    with pytest.raises(RuntimeError):
        client.fetch(app_server.url("/hello"))


@pytest.mark.parametrize("swallowed", [False, True])
async def test_deadline_firing_with_the_answer_leaves_no_cancellation(
    io_loop: Any, swallowed: bool
) -> None:
    """The answer and the timer land in the same loop iteration: the
    cancellation the timer sent is consumed (whether it reached the awaiting
    code or was swallowed on the way), never left to hit a later await."""
    from squall.simple_httpclient import _Deadline

    loop = asyncio.get_running_loop()

    async def wait_answer(answer: asyncio.Future[int]) -> None:
        try:
            await answer
        except asyncio.CancelledError:
            if not swallowed:
                raise

    async def exchange() -> str:
        answer: asyncio.Future[int] = loop.create_future()
        timer = _Deadline(loop, None)
        loop.call_soon(answer.set_result, 1)
        loop.call_soon(timer._expire)
        delivered = False
        try:
            await wait_answer(answer)
        except asyncio.CancelledError:
            delivered = True
        assert timer.expired
        assert delivered is not swallowed
        timer.cancel()
        await timer.absorb(delivered=delivered)
        await asyncio.sleep(0)  # would raise if a cancellation were pending
        return "survived"

    task = asyncio.ensure_future(exchange())
    assert await task == "survived"


async def test_expired_connection_dropped_when_taken(
    app_server: Any, simple_client: SimpleAsyncHTTPClient, monkeypatch: Any
) -> None:
    import squall.simple_httpclient

    await simple_client.fetch(app_server.url("/hello"))
    # Expired by now under the new limit; the sweeper (due in 15 s) has not run.
    monkeypatch.setattr(squall.simple_httpclient, "IDLE_CONNECTION_TIMEOUT", 0.0)
    await simple_client.fetch(app_server.url("/hello"))
    assert len(set(app_server.peers)) == 2


async def test_sweeper_keeps_younger_connections(
    serve_app: Any, simple_client: SimpleAsyncHTTPClient, monkeypatch: Any
) -> None:
    import squall.simple_httpclient

    monkeypatch.setattr(squall.simple_httpclient, "IDLE_CONNECTION_TIMEOUT", 0.5)
    first, second = serve_app(), serve_app()
    await simple_client.fetch(first.url("/hello"))  # the sweep is due at 0.5 s
    await asyncio.sleep(0.3)
    await simple_client.fetch(second.url("/hello"))  # idle until 0.8 s
    await asyncio.sleep(0.3)
    ports = [key[2] for key in simple_client._pool.idle]
    assert ports == [second.port]
    await asyncio.sleep(0.4)  # the sweep re-armed for the younger one
    assert simple_client._pool.idle == {}
