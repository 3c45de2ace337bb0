"""The client against a real nginx on 127.0.0.1 (skipped without the binary).

nginx reports the connection serial number of each response in an
``X-Connection`` header, so keep-alive reuse is counted server-side.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squall.httpclient import AsyncHTTPClient, HTTPClientError
from squall.log import gen_log
from squall.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError
from squall.testing import ExpectLog, bind_unused_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")

_CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    default_type text/plain;
    keepalive_timeout 30s;
    keepalive_requests 1000;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        add_header X-Connection $connection always;
        location = /hello {{ return 200 "Hello"; }}
        location = /echo {{ return 200 "$request_method $request_uri $http_authorization"; }}
        location = /no-content {{ return 204; }}
        location = /gz {{ gzip on; gzip_min_length 1; gzip_types text/plain; }}
        location = /redirect/301 {{ return 301 /echo; }}
        location = /redirect/302 {{ return 302 /echo; }}
        location = /redirect/303 {{ return 303 /echo; }}
        location = /redirect/307 {{ return 307 /echo; }}
        location = /redirect/308 {{ return 308 /echo; }}
        location = /loop {{ return 302 /loop; }}
        location = /bad {{ return 302 "ftp://127.0.0.1/"; }}
        location = /hang {{ proxy_pass http://127.0.0.1:{silent_port}; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("nginx")
    (root / "www").mkdir()
    (root / "www" / "gz").write_bytes(b"squall " * 20000)
    sock, port = bind_unused_port()
    sock.close()
    # An upstream that accepts connections (in the kernel backlog) and never
    # answers: nginx proxying to it leaves the client waiting.
    silent, silent_port = bind_unused_port()
    # Workers of a root master run as "nobody", who cannot read pytest's
    # private temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        _CONFIG.format(root=root, port=port, silent_port=silent_port, user=user)
    )
    assert NGINX is not None
    process = subprocess.Popen(
        [NGINX, "-c", str(root / "nginx.conf"), "-p", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _out, err = process.communicate(timeout=5)
                pytest.fail(f"nginx did not start: {err.decode(errors='replace')}")
            time.sleep(0.05)
    yield port
    process.terminate()
    process.communicate(timeout=10)
    silent.close()


def url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


async def test_keep_alive_reuse(nginx: int, client: AsyncHTTPClient) -> None:
    connections = set()
    for _ in range(5):
        response = await client.fetch(url(nginx, "/hello"))
        assert response.body == b"Hello"
        connections.add(response.headers["X-Connection"])
    assert len(connections) == 1


async def test_gzip_chunked(nginx: int, client: AsyncHTTPClient) -> None:
    response = await client.fetch(url(nginx, "/gz"))
    assert response.headers["X-Consumed-Content-Encoding"] == "gzip"
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.body == b"squall " * 20000
    plain = await client.fetch(url(nginx, "/gz"), decompress_response=False)
    assert "Content-Encoding" not in plain.headers  # no Accept-Encoding sent
    assert plain.body == b"squall " * 20000
    raw = await client.fetch(
        url(nginx, "/gz"), decompress_response=False, headers={"Accept-Encoding": "gzip"}
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.body) == b"squall " * 20000
    again = await client.fetch(url(nginx, "/hello"))
    assert again.headers["X-Connection"] == response.headers["X-Connection"]


async def test_gzip_bomb_limit(nginx: int, make_client: Any, backend: str) -> None:
    client = make_client(max_body_size=10_000)
    try:
        if backend == "curl":
            with pytest.raises(HTTPClientError, match="max_body_size"):
                await client.fetch(url(nginx, "/gz"))
            return
        with (
            ExpectLog(gen_log, "Malformed HTTP message from None: decompressed body too large"),
            pytest.raises(HTTPStreamClosedError),
        ):
            await client.fetch(url(nginx, "/gz"))
    finally:
        client.close()


async def test_streaming(nginx: int, client: AsyncHTTPClient) -> None:
    chunks: list[bytes] = []
    await client.fetch(url(nginx, "/gz"), streaming_callback=chunks.append)
    assert len(chunks) > 1
    assert b"".join(chunks) == b"squall " * 20000


async def test_head_and_204(nginx: int, client: AsyncHTTPClient) -> None:
    head = await client.fetch(url(nginx, "/gz"), method="HEAD", decompress_response=False)
    assert head.body == b""
    no_content = await client.fetch(url(nginx, "/no-content"))
    assert no_content.code == 204 and no_content.body == b""
    last = await client.fetch(url(nginx, "/hello"))
    assert last.headers["X-Connection"] == head.headers["X-Connection"]


@pytest.mark.parametrize(
    ("code", "method"),
    [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")],
)
async def test_redirect_semantics(
    nginx: int, client: AsyncHTTPClient, code: int, method: str
) -> None:
    response = await client.fetch(url(nginx, f"/redirect/{code}"), method="POST", body="x")
    assert response.body.decode().split(" ")[:2] == [method, "/echo"]


async def test_redirect_loop_and_bad_scheme(
    nginx: int, client: AsyncHTTPClient, backend: str
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(url(nginx, "/loop"), max_redirects=3)
    assert info.value.code == 302
    # Each backend as Tornado's: the simple client refuses the URL, curl
    # reports the protocol it will not speak.
    refused = (HTTPClientError, r'Protocol "[a-z]+" is disabled')
    if backend == "simple":
        refused = (ValueError, "Unsupported url scheme")
    with pytest.raises(refused[0], match=refused[1]):
        await client.fetch(url(nginx, "/bad"))


async def test_basic_auth_header(nginx: int, client: AsyncHTTPClient) -> None:
    response = await client.fetch(url(nginx, "/echo"), auth_username="u", auth_password="p")
    assert response.body == b"GET /echo Basic dTpw"


async def test_request_timeout_against_silence(nginx: int, client: AsyncHTTPClient) -> None:
    with pytest.raises(HTTPTimeoutError, match="Timeout during request") as info:
        await client.fetch(url(nginx, "/hang"), request_timeout=0.3)
    assert info.value.code == 599
    # The timed-out connection was closed, not pooled: a new one serves next.
    first = await client.fetch(url(nginx, "/hello"))
    second = await client.fetch(url(nginx, "/hello"))
    assert first.headers["X-Connection"] == second.headers["X-Connection"]
