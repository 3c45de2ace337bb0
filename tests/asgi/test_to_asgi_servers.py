"""A squall application under uvicorn, hypercorn, granian and gunicorn's
uvicorn worker (subprocesses),
driven over real sockets by httpx and the websockets library."""

from __future__ import annotations

import hashlib
import json
import os
import time

import httpx
import pytest
from asgi_helpers import RunningServer, run_server
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

# Bound on every client call (a hang fails the test instead of blocking it).
TIMEOUT = 10.0


def client(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=TIMEOUT)


def events(server: RunningServer) -> list[str]:
    with client(server) as c:
        return list(json.loads(c.get("/events").text))


def test_plain_answer(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        r = c.get("/")
    assert r.status_code == 200
    assert r.text == "Hello, world"
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert r.headers["content-length"] == "12"
    assert r.headers["etag"] == '"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8"'


def test_etag_304_and_405(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        etag = c.get("/").headers["etag"]
        again = c.get("/", headers={"If-None-Match": etag})
        head = c.head("/")  # the handler has no head(): 405, as natively
    assert again.status_code == 304 and again.content == b""
    assert "content-type" not in again.headers
    assert head.status_code == 405 and head.content == b""


def test_request_as_the_handler_sees_it(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        r = c.get("/echo/a%2Fb%20c?x=1&y=%C3%A9", headers={"Cookie": "c=cookie-value"})
    seen = r.json()
    assert seen["method"] == "GET"
    assert seen["uri"] == "/echo/a%2Fb%20c?x=1&y=%C3%A9"
    assert seen["path"] == "/echo/a%2Fb%20c"
    assert seen["path_args"] == ["a/b c"]  # %2F survived routing, then decoded
    assert seen["arguments"] == {"x": "1", "y": "é"}
    assert seen["remote_ip"] == "127.0.0.1"
    assert seen["protocol"] == "http"
    assert seen["host"] == f"127.0.0.1:{asgi_server.port}"
    assert seen["cookie"] == "cookie-value"
    # The lifespan state a startup hook filled, copied into the request scope.
    assert seen["state"] == ["pool"]


def test_form_body(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        r = c.post("/echo", data={"name": "squall", "n": "2"})
    seen = r.json()
    assert seen["arguments"] == {"name": "squall", "n": "2"}
    assert seen["body"] == "name=squall&n=2"


def test_status_headers_cookies(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        r = c.get("/headers")
        teapot = c.get("/teapot")
        missing = c.get("/no/such/page")
    assert r.status_code == 201 and r.text == "made"
    assert r.headers["x-custom"] == "one"
    assert r.headers.get_list("x-multi") == ["a", "b"]
    assert r.cookies["k"] == "v"
    assert teapot.status_code == 418
    assert missing.status_code == 404


def test_streamed_upload(asgi_server: RunningServer) -> None:
    piece = os.urandom(64 * 1024)
    count = 48  # 3 MiB, sent chunked in 64 KiB pieces

    def body():  # type: ignore[no-untyped-def]
        for _ in range(count):
            yield piece

    with client(asgi_server) as c:
        r = c.put("/upload", content=body())
    result = r.json()
    assert result["size"] == len(piece) * count
    assert result["sha256"] == hashlib.sha256(piece * count).hexdigest()
    # Streamed: the handler saw the body in many pieces, not one.
    assert result["chunks"] > 1


def test_upload_over_the_body_limit_is_refused(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        try:
            r = c.put("/upload?limit=1000", content=b"x" * 200_000)
        except httpx.HTTPError:
            return  # some servers drop the connection while the body is still coming
    assert r.status_code == 413


def test_streamed_download(asgi_server: RunningServer) -> None:
    size, count = 65536, 40
    received = bytearray()
    pieces = 0
    with client(asgi_server) as c:
        with c.stream("GET", f"/download?count={count}&size={size}") as r:
            assert r.status_code == 200
            assert "content-length" not in r.headers
            for chunk in r.iter_raw():
                received += chunk
                pieces += 1
    expected = b"".join(bytes([65 + i % 26]) * size for i in range(count))
    assert bytes(received) == expected
    assert pieces > 1


def test_client_leaving_reaches_on_connection_close(asgi_server: RunningServer) -> None:
    with client(asgi_server) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/poll", timeout=0.5)
    deadline = time.monotonic() + TIMEOUT
    while "poll closed" not in events(asgi_server):
        assert time.monotonic() < deadline, events(asgi_server)
        time.sleep(0.05)


def test_websocket_echo_text_and_binary(asgi_server: RunningServer) -> None:
    with connect(f"{asgi_server.ws_url}/ws", subprotocols=["other", "echo.v1"]) as ws:
        assert ws.subprotocol == "echo.v1"
        ws.send("héllo")
        assert ws.recv(TIMEOUT) == "héllo"
        ws.send(b"\x00\xff" * 1000)
        assert ws.recv(TIMEOUT) == b"\x00\xff" * 1000
    assert "ws open echo.v1" in events(asgi_server)


def test_websocket_close_code_from_the_handler(asgi_server: RunningServer) -> None:
    with connect(f"{asgi_server.ws_url}/ws") as ws:
        ws.send("close me")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(TIMEOUT)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    assert info.value.rcvd.reason == "asked to"


def test_websocket_close_code_from_the_client(asgi_server: RunningServer) -> None:
    with connect(f"{asgi_server.ws_url}/ws") as ws:
        ws.send("x")
        assert ws.recv(TIMEOUT) == "x"
        ws.close(4321, "client bye")
    # hypercorn 0.18 reports every client close as 1006 in websocket.disconnect.
    code = 1006 if asgi_server.name == "hypercorn" else 4321
    deadline = time.monotonic() + TIMEOUT
    while not any(e.startswith(f"ws closed {code}") for e in events(asgi_server)):
        assert time.monotonic() < deadline, events(asgi_server)
        time.sleep(0.05)


def test_websocket_denied_with_a_response(asgi_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        with connect(f"{asgi_server.ws_url}/ws-deny"):
            pass
    assert info.value.response.status_code == 403
    # All three servers support websocket.http.response: the handler's page.
    assert b"no websockets for you" in info.value.response.body


def test_websocket_foreign_origin_refused(asgi_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        with connect(f"{asgi_server.ws_url}/ws", origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403


def test_lifespan_startup_ran_before_requests(asgi_server: RunningServer) -> None:
    assert events(asgi_server)[0] == "startup"


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian", "gunicorn"])
def test_lifespan_shutdown_runs_on_stop(server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with run_server(server, "squall_app:app", tmp_path) as running:
        with client(running) as c:
            assert c.get("/").status_code == 200
        recorded = running.stop()
    assert recorded[0] == "startup"
    assert recorded[-1] == "shutdown"


def test_http2_prior_knowledge(asgi_server: RunningServer) -> None:
    """hypercorn and granian also speak HTTP/2 (h2c): the same handlers
    answer, streamed bodies included."""
    if asgi_server.name in ("uvicorn", "gunicorn"):
        pytest.skip("uvicorn (also gunicorn's worker) speaks HTTP/1.1 only")
    with httpx.Client(base_url=asgi_server.url, http1=False, http2=True, timeout=TIMEOUT) as c:
        seen = c.get("/echo/a?b=c")
        download = c.get("/download?count=5&size=1000")
        upload = c.put("/upload", content=b"h2" * 50_000)
    assert seen.http_version == "HTTP/2"
    assert seen.json()["path_args"] == ["a"] and seen.json()["arguments"] == {"b": "c"}
    assert seen.json()["host"] == f"127.0.0.1:{asgi_server.port}"
    assert download.content == b"".join(bytes([65 + i]) * 1000 for i in range(5))
    assert upload.json()["size"] == 100_000
