"""The httpclient API: objects, instances, callback forms, blocking client, CLI."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import subprocess
import sys
import threading
from typing import Any

import pytest

from squall import escape, gen, web
from squall.httpclient import (
    AsyncHTTPClient,
    HTTPClient,
    HTTPClientError,
    HTTPError,
    HTTPRequest,
    HTTPResponse,
    _RequestProxy,
)
from squall.httputil import HTTPHeaders
from squall.ioloop import IOLoop
from squall.simple_httpclient import SimpleAsyncHTTPClient
from squall.testing import ExpectLog, bind_unused_port

# -- HTTPRequest / HTTPResponse / errors ----------------------------------------


def test_request_defaults_through_proxy() -> None:
    request = HTTPRequest("http://example.com/")
    assert request.method == "GET"
    assert isinstance(request.headers, HTTPHeaders)
    assert request.body is None
    assert request.connect_timeout is None
    proxy = _RequestProxy(request, {"connect_timeout": 3.0})
    assert proxy.connect_timeout == 3.0
    assert proxy.request_timeout == 20.0
    assert proxy.follow_redirects is True
    assert proxy.max_redirects == 5
    assert proxy.validate_cert is True
    assert proxy.decompress_response is True
    assert proxy.proxy_password == ""
    assert proxy.user_agent is None
    assert _RequestProxy(request, None).connect_timeout == 20.0


def test_request_body_and_headers_conversion() -> None:
    given = {"a-b": "c"}
    request = HTTPRequest("http://x/", method="POST", body="é", headers=given)
    assert request.body == b"\xc3\xa9"
    # As in Tornado: a dict is kept as given; fetch() converts it.
    assert request.headers is given
    request.headers = {"b": "d"}  # type: ignore[assignment]
    assert request.headers == {"b": "d"}
    request.headers = None  # type: ignore[assignment]
    assert len(request.headers) == 0
    headers = HTTPHeaders({"X": "1"})
    assert HTTPRequest("http://x/", headers=headers).headers is headers
    assert HTTPRequest("http://x/", use_gzip=False).decompress_response is False
    assert "GET http://x/" in repr(HTTPRequest("http://x/"))


async def test_dict_headers_become_httpheaders_at_fetch(
    app_server: Any, client: AsyncHTTPClient
) -> None:
    request = HTTPRequest(app_server.url("/echo"), headers={"x-a": "1"})
    assert type(request.headers) is dict
    response = await client.fetch(request)
    assert isinstance(request.headers, HTTPHeaders)
    assert json.loads(response.body)["headers"]["X-A"] == "1"


def test_request_if_modified_since_timestamp() -> None:
    when = datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
    request = HTTPRequest("http://x/", if_modified_since=when)
    assert request.headers["If-Modified-Since"] == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_response_fields() -> None:
    request = HTTPRequest("http://x/")
    ok = HTTPResponse(request, 200, buffer=io.BytesIO(b"abc"))
    assert ok.body == b"abc" and ok.body is ok.body
    assert ok.error is None
    assert ok.reason == "OK"
    assert ok.effective_url == "http://x/"
    assert "200" in repr(ok)
    missing = HTTPResponse(request, 404)
    assert missing.body == b""
    assert isinstance(missing.error, HTTPClientError)
    assert missing.error.response is missing
    with pytest.raises(HTTPClientError, match="HTTP 404: Not Found"):
        missing.rethrow()
    failed = HTTPResponse(_RequestProxy(request, None), 599, error=OSError("boom"))  # type: ignore[arg-type]
    assert failed.request is request
    with pytest.raises(OSError, match="boom"):
        failed.rethrow()


def test_client_error() -> None:
    assert HTTPError is HTTPClientError
    error = HTTPClientError(599, "Timeout")
    assert str(error) == "HTTP 599: Timeout"
    assert repr(error) == "HTTP 599: Timeout"
    assert error.code == 599 and error.response is None
    assert str(HTTPClientError(500)) == "HTTP 500: Internal Server Error"
    assert HTTPClientError(799).message == "Unknown"


# -- AsyncHTTPClient instances ---------------------------------------------------


async def test_one_instance_per_ioloop(io_loop: Any) -> None:
    first = AsyncHTTPClient()
    try:
        assert AsyncHTTPClient() is first
        assert isinstance(first, SimpleAsyncHTTPClient)
        private = AsyncHTTPClient(force_instance=True)
        assert private is not first
        private.close()
    finally:
        first.close()
    second = AsyncHTTPClient()
    assert second is not first
    second.close()


async def test_closed_client_refuses(io_loop: Any) -> None:
    client = AsyncHTTPClient(force_instance=True)
    client.close()
    client.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed AsyncHTTPClient"):
        client.fetch("http://127.0.0.1/")


async def test_configure_impl_and_kwargs(app_server: Any, io_loop: Any) -> None:
    class Custom(SimpleAsyncHTTPClient):
        pass

    saved = AsyncHTTPClient._save_configuration()
    try:
        AsyncHTTPClient.configure(Custom, max_clients=3, defaults={"user_agent": "configured"})
        client = AsyncHTTPClient(force_instance=True)
        try:
            assert isinstance(client, Custom)
            assert client.max_clients == 3
            response = await client.fetch(app_server.url("/echo"))
            assert json.loads(response.body)["headers"]["User-Agent"] == "configured"
        finally:
            client.close()
        AsyncHTTPClient.configure("squall.simple_httpclient.SimpleAsyncHTTPClient")
        plain = AsyncHTTPClient(force_instance=True)
        assert type(plain) is SimpleAsyncHTTPClient
        plain.close()
        with pytest.raises(ValueError):
            AsyncHTTPClient.configure(dict)  # type: ignore[arg-type]
    finally:
        AsyncHTTPClient._restore_configuration(saved)


def test_fetch_impl_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        AsyncHTTPClient.fetch_impl(None, None, None)  # type: ignore[arg-type]


# -- the seeds' forms ------------------------------------------------------------


async def test_callback_keyword_gets_response(
    app_server: Any, io_loop: Any, configured_backend: str
) -> None:
    got: asyncio.Future[HTTPResponse] = asyncio.get_running_loop().create_future()
    http = AsyncHTTPClient()
    try:
        http.fetch(app_server.url("/hello"), callback=got.set_result)
        response = await got
        assert response.body == b"Hello"
    finally:
        http.close()


async def test_callback_gets_error_instead_of_raising(
    app_server: Any, io_loop: Any, configured_backend: str
) -> None:
    got: asyncio.Future[HTTPResponse] = asyncio.get_running_loop().create_future()
    http = AsyncHTTPClient(force_instance=True)
    try:
        future = http.fetch(app_server.url("/status/500"), callback=got.set_result)
        response = await got
        assert response.code == 500
        assert isinstance(response.error, HTTPClientError)
        assert (await future) is response  # the Future does not fail
        sock, port = bind_unused_port()
        sock.close()
        refused: asyncio.Future[HTTPResponse] = asyncio.get_running_loop().create_future()
        http.fetch(f"http://127.0.0.1:{port}/", callback=refused.set_result)
        response = await refused
        assert response.code == 599
        assert isinstance(response.error, OSError)
    finally:
        http.close()


async def test_seed_004_positional_callback(
    app_server: Any, io_loop: Any, configured_backend: str
) -> None:
    printed: list[Any] = []
    done = asyncio.Event()

    def callback(response: HTTPResponse) -> None:
        printed.append(response.code)
        printed.append(response.body)
        done.set()

    client = AsyncHTTPClient()
    client.fetch(app_server.url("/hello"), callback)
    await done.wait()
    assert printed == [200, b"Hello"]
    client.close()
    with pytest.raises(TypeError, match="two callbacks"):
        AsyncHTTPClient(force_instance=True).fetch("http://x/", callback, callback=callback)


async def test_seed_004_post_form(tls_server: Any, io_loop: Any, configured_backend: str) -> None:
    server, _ca = tls_server
    results: list[HTTPResponse] = []
    done = asyncio.Event()

    def fetch_callback(response: HTTPResponse) -> None:
        results.append(response)
        done.set()

    client = AsyncHTTPClient()
    client.fetch(
        server.url("/echo"),
        method="POST",
        body=json.dumps({"key": "value"}),
        headers={"Content-type": "application/json"},
        auth_username="foo",
        auth_password="bar",
        validate_cert=False,
        callback=fetch_callback,
    )
    await done.wait()
    client.close()
    response = results[0]
    assert response.error is None
    echoed = json.loads(response.body)
    assert json.loads(echoed["body"]) == {"key": "value"}
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["headers"]["Authorization"] == "Basic Zm9vOmJhcg=="


async def test_seed_003_gen_coroutine(
    app_server: Any, io_loop: Any, configured_backend: str
) -> None:
    @gen.coroutine
    def get() -> Any:
        http = AsyncHTTPClient()
        response = yield http.fetch(app_server.url("/echo"))
        return escape.json_decode(response.body)["method"]

    assert (await get()) == "GET"
    AsyncHTTPClient().close()


async def test_seed_asynchronous_handler(
    app_server: Any, serve_app: Any, io_loop: Any, configured_backend: str
) -> None:
    """seed 000/003: an @asynchronous handler finishing from the fetch callback,
    and raising HTTPError(500) from it when the fetch failed."""
    backend = app_server.url("/echo")
    broken = app_server.url("/status/503")

    class MainHandler(web.RequestHandler):
        @web.asynchronous
        def get(self) -> None:
            http = AsyncHTTPClient()
            url = broken if self.get_argument("broken", None) else backend
            http.fetch(url, callback=self.on_response)

        def on_response(self, response: HTTPResponse) -> None:
            if response.error:
                raise web.HTTPError(500)
            json_body = escape.json_decode(response.body)
            self.write("Fetched " + str(len(json_body)) + " entries")
            self.finish()

    sock, port = bind_unused_port()
    from squall.httpserver import HTTPServer

    server = HTTPServer(web.Application([("/", MainHandler)]))
    server.add_sockets([sock])
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/")
        assert response.body == b"Fetched 4 entries"
        with ExpectLog("squall.access", ".*", required=False):
            response = await client.fetch(f"http://127.0.0.1:{port}/?broken=1", raise_error=False)
        assert response.code == 500
    finally:
        client.close()
        AsyncHTTPClient().close()
        server.stop()
        await server.close_all_connections()


async def test_exception_in_plain_callback_is_logged(
    app_server: Any, io_loop: Any, configured_backend: str
) -> None:
    done = asyncio.Event()

    def callback(response: HTTPResponse) -> None:
        done.set()
        raise ZeroDivisionError("from callback")

    client = AsyncHTTPClient(force_instance=True)
    try:
        with ExpectLog("squall.application", "Exception in callback"):
            client.fetch(app_server.url("/hello"), callback=callback)
            await done.wait()
            await asyncio.sleep(0)
    finally:
        client.close()


# -- the blocking client and the command line -----------------------------------


def _serve_in_thread() -> tuple[int, Any]:
    """A squall server on its own thread; returns (port, stop)."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        from squall.httpserver import HTTPServer

        loop = IOLoop(make_current=False)

        class Hello(web.RequestHandler):
            def get(self) -> None:
                self.write("Hello from thread")

            def post(self) -> None:
                self.set_status(418)
                self.write("teapot")

        async def start() -> None:
            sock, port = bind_unused_port()
            server = HTTPServer(web.Application([("/", Hello)]))
            server.add_sockets([sock])
            state.update(port=port, server=server, loop=loop)
            ready.set()

        loop.asyncio_loop.run_until_complete(start())
        loop.asyncio_loop.run_forever()

        async def shutdown() -> None:
            state["server"].stop()
            await state["server"].close_all_connections()

        loop.asyncio_loop.run_until_complete(shutdown())
        loop.close()

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(5)

    def stop() -> None:
        state["loop"].asyncio_loop.call_soon_threadsafe(state["loop"].asyncio_loop.stop)
        thread.join(5)

    return state["port"], stop


def test_blocking_client() -> None:
    port, stop = _serve_in_thread()
    try:
        client = HTTPClient()
        try:
            response = client.fetch(f"http://127.0.0.1:{port}/")
            assert response.body == b"Hello from thread"
            with pytest.raises(HTTPClientError) as info:
                client.fetch(f"http://127.0.0.1:{port}/", method="POST", body="")
            assert info.value.code == 418
            response = client.fetch(
                HTTPRequest(f"http://127.0.0.1:{port}/", method="POST", body=""),
                raise_error=False,
            )
            assert response.code == 418
        finally:
            client.close()
        client.close()
        with pytest.raises(RuntimeError, match="closed HTTPClient"):
            client.fetch(f"http://127.0.0.1:{port}/")
    finally:
        stop()


def test_blocking_client_keeps_current_loop() -> None:
    loop = IOLoop(make_current=True)
    try:
        client = HTTPClient(SimpleAsyncHTTPClient, max_clients=2)
        assert IOLoop.current() is loop
        client.close()
    finally:
        IOLoop.clear_current()
        loop.close()


def test_command_line() -> None:
    port, stop = _serve_in_thread()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "squall.httpclient",
                "--print_headers",
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.endswith(b"Hello from thread")
        assert b"Content-Length: 17" in result.stdout
    finally:
        stop()


def test_main_prints_error_bodies(capsys: Any) -> None:
    from squall.httpclient import main

    port, stop = _serve_in_thread()
    try:
        main(["prog", "--print_body=false", f"http://127.0.0.1:{port}/"])
        assert capsys.readouterr().out == ""
        sock, dead = bind_unused_port()
        sock.close()
        with pytest.raises(OSError):
            main(["prog", f"http://127.0.0.1:{dead}/"])
    finally:
        stop()
