"""Redirect semantics and the client's safety rules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from squall.httpclient import AsyncHTTPClient, HTTPClientError
from squall.log import gen_log
from squall.simple_httpclient import HTTPStreamClosedError
from squall.testing import ExpectLog


@contextlib.contextmanager
def refused(backend: str, reason: str, curl_match: str) -> Iterator[None]:
    """The response is refused: by the simple client as Tornado's refuses
    it (``reason`` logged at INFO, HTTPStreamClosedError), by curl with an
    HTTPClientError matching ``curl_match``."""
    if backend == "curl":
        with pytest.raises(HTTPClientError, match=curl_match) as info:
            yield
        assert info.value.code == 599
        return
    with (
        ExpectLog(gen_log, "Malformed HTTP message from None: " + reason),
        pytest.raises(HTTPStreamClosedError, match=r"^Connection closed$") as closed,
    ):
        yield
    assert closed.value.code == 599


def redirect(app_server: Any, code: int, to: str) -> str:
    return app_server.url(f"/redirect/{code}?to=" + urllib.parse.quote(to, safe=""))


@pytest.mark.parametrize("code", [301, 302, 303])
async def test_post_becomes_get_without_body(
    app_server: Any, client: AsyncHTTPClient, code: int
) -> None:
    response = await client.fetch(
        redirect(app_server, code, "/echo"),
        method="POST",
        body="data",
        headers={"Content-Type": "text/plain"},
    )
    echoed = json.loads(response.body)
    assert echoed["method"] == "GET"
    assert echoed["body"] == ""
    assert "Content-Type" not in echoed["headers"]
    assert "Content-Length" not in echoed["headers"]
    assert response.effective_url == app_server.url("/echo")
    assert response.request.url.startswith(app_server.url("/redirect/"))


@pytest.mark.parametrize("code", [307, 308])
async def test_307_308_keep_method_and_body(
    app_server: Any, client: AsyncHTTPClient, code: int
) -> None:
    response = await client.fetch(redirect(app_server, code, "/echo"), method="POST", body="data")
    echoed = json.loads(response.body)
    assert echoed["method"] == "POST"
    assert echoed["body"] == "data"


async def test_303_put_becomes_get(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(redirect(app_server, 303, "/echo"), method="PUT", body="x")
    assert json.loads(response.body)["method"] == "GET"


async def test_301_get_stays_get(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(redirect(app_server, 301, "/echo?k=v"))
    echoed = json.loads(response.body)
    assert echoed["method"] == "GET"
    assert echoed["uri"] == "/echo?k=v"


async def test_redirect_chain_and_max_redirects(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(app_server.url("/countdown/3"))
    assert response.body == b"Zero"
    assert response.effective_url == app_server.url("/countdown/0")
    # Redirects share the kept-alive connection.
    assert len(set(app_server.peers)) == 1
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(app_server.url("/countdown/3"), max_redirects=2)
    assert info.value.code == 302
    assert info.value.response is not None
    assert info.value.response.headers["Location"] == "/countdown/0"


async def test_follow_redirects_false(app_server: Any, client: AsyncHTTPClient) -> None:
    response = await client.fetch(
        app_server.url("/countdown/1"), follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    assert response.headers["Location"] == "/countdown/0"


@pytest.mark.parametrize("to", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)"])
async def test_redirect_to_other_scheme_fails_fast(
    app_server: Any, client: AsyncHTTPClient, to: str, backend: str
) -> None:
    if backend == "curl":  # as Tornado's curl client: curl's words
        with pytest.raises(HTTPClientError, match=r'Protocol "[a-z]+" is disabled') as info:
            await client.fetch(redirect(app_server, 302, to))
        assert info.value.code == 599
        return
    with pytest.raises(ValueError, match=f"^Unsupported url scheme: {re.escape(to)}$"):
        await client.fetch(redirect(app_server, 302, to))


@pytest.mark.parametrize("to", ["h:5", "mailto:someone@example.com"])
async def test_redirect_to_odd_url_fails_fast(simple_client: Any, app_server: Any, to: str) -> None:
    with pytest.raises(ValueError, match=f"^Unsupported url scheme: {re.escape(to)}$"):
        await simple_client.fetch(redirect(app_server, 302, to))


async def test_odd_redirect_not_followed_is_returned(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    response = await client.fetch(
        redirect(app_server, 302, "ftp://127.0.0.1/x"), follow_redirects=False, raise_error=False
    )
    assert response.code == 302
    assert response.headers["Location"] == "ftp://127.0.0.1/x"


async def test_credentials_kept_on_same_origin_redirect(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    response = await client.fetch(
        redirect(app_server, 302, "/echo"),
        headers={"Authorization": "Bearer t", "Cookie": "a=b"},
    )
    echoed = json.loads(response.body)
    assert echoed["headers"]["Authorization"] == "Bearer t"
    assert echoed["headers"]["Cookie"] == "a=b"


async def test_credentials_stripped_on_cross_origin_redirect(
    app_server: Any, serve_app: Any, client: AsyncHTTPClient
) -> None:
    other = serve_app()  # another port: another origin
    response = await client.fetch(
        redirect(app_server, 302, other.url("/echo")),
        headers={
            "Authorization": "Bearer t",
            "Cookie": "a=b",
            "Proxy-Authorization": "Basic x",
            "X-Kept": "1",
        },
    )
    echoed = json.loads(response.body)
    for name in ("Authorization", "Cookie", "Proxy-Authorization"):
        assert name not in echoed["headers"]
    assert echoed["headers"]["X-Kept"] == "1"
    assert echoed["headers"]["Host"] == f"127.0.0.1:{other.port}"


async def test_auth_username_not_sent_cross_origin(
    app_server: Any, serve_app: Any, client: AsyncHTTPClient
) -> None:
    other = serve_app()
    response = await client.fetch(
        redirect(app_server, 307, other.url("/basic")), auth_username="u", auth_password="p"
    )
    assert response.body == b""


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: yes"},
        {"X-Evil": "a\nb"},
        {"X-Evil\r\nInjected": "a"},
        {"X-Evil": "nul\x00"},
    ],
)
async def test_crlf_in_headers_rejected_before_sending(
    raw_server: Any, client: AsyncHTTPClient, headers: dict[str, str]
) -> None:
    received: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(1000))

    port = await raw_server(record)
    with pytest.raises(ValueError, match="Illegal characters"):
        await client.fetch(f"http://127.0.0.1:{port}/", headers=headers)
    assert received == []


async def test_bad_header_name_and_target(client: AsyncHTTPClient) -> None:
    with pytest.raises(ValueError, match="Invalid header name"):
        await client.fetch("http://127.0.0.1:9/", headers={"Bad Name": "x"})
    with pytest.raises(ValueError, match="request target"):
        await client.fetch("http://127.0.0.1:9/a b")
    with pytest.raises(ValueError, match="Invalid HTTP method"):
        await client.fetch("http://127.0.0.1:9/", method="GET /x", allow_nonstandard_methods=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"method": "POST"}, ValueError, "Body must not be None for method POST"),
        ({"method": "GET", "body": "x"}, ValueError, "Body must be None for method GET"),
        ({"method": "FOO"}, KeyError, "unknown method FOO"),
        ({"proxy_host": "127.0.0.1"}, ValueError, "proxy_port"),
        (
            {"proxy_host": "127.0.0.1", "proxy_port": 9, "proxy_auth_mode": "digest"},
            ValueError,
            "proxy_auth_mode",
        ),
    ],
)
async def test_invalid_requests(
    client: AsyncHTTPClient, kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        await client.fetch("http://127.0.0.1:9/", **kwargs)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/", "Unsupported url scheme"),
        ("http:///path", "no host"),
        ("http://127.0.0.1:99999/", "Invalid port"),
    ],
)
async def test_invalid_urls(client: AsyncHTTPClient, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await client.fetch(url)


# -- responses no well-behaved server sends ------------------------------------


async def _serve_bytes(raw_server: Any, *replies: bytes) -> int:
    """Answer the n-th request on a connection with ``replies[n]``, then close."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for data in replies:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(data)
            await writer.drain()
        await reader.read(1)

    return int(await raw_server(reply))


async def test_too_many_1xx(raw_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    port = await _serve_bytes(raw_server, b"HTTP/1.1 102 Processing\r\n\r\n" * 11)
    with refused(backend, "Too many 1xx responses", "more than 10 1xx"):
        await client.fetch(f"http://127.0.0.1:{port}/", request_timeout=5)


async def test_a_few_1xx_then_final(raw_server: Any, client: AsyncHTTPClient) -> None:
    port = await _serve_bytes(
        raw_server,
        b"HTTP/1.1 102 Processing\r\n\r\n" * 10 + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    response = await client.fetch(f"http://127.0.0.1:{port}/")
    assert response.body == b"ok"


async def test_unexpected_101(raw_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    port = await _serve_bytes(raw_server, b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    with refused(backend, "unexpected 101 Switching Protocols", "101"):
        await client.fetch(f"http://127.0.0.1:{port}/")


async def test_http10_without_keep_alive_reads_to_close(
    raw_server: Any, client: AsyncHTTPClient
) -> None:
    connections = 0

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nbody until close")
        await writer.drain()

    port = await raw_server(reply)
    for _ in range(2):
        response = await client.fetch(f"http://127.0.0.1:{port}/")
        assert response.body == b"body until close"
    assert connections == 2


async def test_http10_keep_alive_is_reused(raw_server: Any, client: AsyncHTTPClient) -> None:
    answer = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    port = await _serve_bytes(raw_server, answer, answer)
    for _ in range(2):
        assert (await client.fetch(f"http://127.0.0.1:{port}/")).body == b"ok"


async def test_extra_bytes_after_response_not_reused(
    raw_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    connections = 0

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmugg"
        )
        await writer.drain()
        await reader.read()

    port = await raw_server(reply)
    assert (await client.fetch(f"http://127.0.0.1:{port}/")).body == b"ok"
    if backend == "curl":
        # libcurl drops the leftover bytes but keeps the connection: the
        # smuggled answer is never taken for the next response, which
        # waits instead (a known difference, see docs/client.md).
        with pytest.raises(HTTPClientError, match="Timeout during request"):
            await client.fetch(f"http://127.0.0.1:{port}/", request_timeout=0.3)
        assert connections == 1
        return
    assert (await client.fetch(f"http://127.0.0.1:{port}/")).body == b"ok"
    assert connections == 2


async def test_malformed_response(raw_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    port = await _serve_bytes(raw_server, b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n")
    with refused(backend, "no colon in header line", "malformed HTTP response"):
        await client.fetch(f"http://127.0.0.1:{port}/")


async def test_malformed_chunked_body(
    raw_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    port = await _serve_bytes(
        raw_server, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    with refused(backend, "malformed HTTP response body", "not a hex digit"):
        await client.fetch(f"http://127.0.0.1:{port}/")


async def test_invalid_gzip(raw_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    port = await _serve_bytes(
        raw_server,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
    )
    reason = re.escape("invalid gzip data: expected a gzip member, got b'no'")
    with refused(backend, reason, "invalid compressed body"):
        await client.fetch(f"http://127.0.0.1:{port}/")


async def test_closed_before_response_end(
    raw_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await writer.drain()

    port = await raw_server(reply)
    # Tornado's words: "Stream closed" before a head, "Connection closed" after.
    expected = r"^Stream closed: " if backend == "curl" else r"^Connection closed$"
    with pytest.raises(HTTPStreamClosedError, match=expected) as info:
        await client.fetch(f"http://127.0.0.1:{port}/")
    assert info.value.code == 599


async def test_closed_before_response_head(raw_server: Any, simple_client: Any) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await writer.drain()

    port = await raw_server(reply)
    with pytest.raises(HTTPStreamClosedError, match=r"^Stream closed$"):
        await simple_client.fetch(f"http://127.0.0.1:{port}/")


async def test_post_not_retried_on_dead_connection(
    raw_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    requests = 0
    connections = 0

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests, connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: dropped unanswered
        requests += 1

    port = await raw_server(reply)
    await client.fetch(f"http://127.0.0.1:{port}/")
    if backend == "curl":
        # libcurl would resend on a dead reused connection, so a POST never
        # reuses one: it goes on a new connection and is sent once.
        assert (
            await client.fetch(f"http://127.0.0.1:{port}/", method="POST", body="x")
        ).body == b"ok"
        assert (requests, connections) == (2, 2)
        return
    with pytest.raises(HTTPClientError, match="Stream closed"):
        await client.fetch(f"http://127.0.0.1:{port}/", method="POST", body="x")
    assert requests == 2


async def test_callbacks_see_only_the_final_response(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    chunks: list[bytes] = []
    lines: list[str] = []
    await client.fetch(
        app_server.url("/countdown/2"),
        streaming_callback=chunks.append,
        header_callback=lines.append,
    )
    assert b"".join(chunks) == b"Zero"
    assert [line for line in lines if line.startswith("HTTP/")] == ["HTTP/1.1 200 OK\r\n"]
    chunks.clear()
    await client.fetch(
        app_server.url("/digest"),
        auth_username="foo",
        auth_password="bar",
        auth_mode="digest",
        streaming_callback=chunks.append,
    )
    assert b"".join(chunks) == b"digest ok"
