"""WSGIApplication / WSGIAdapter called as WSGI applications (through
wsgiref.validate, which checks both our use of start_response and the
environ the caller gives us); servers in subprocesses are in
test_wsgi_servers.py."""

from __future__ import annotations

import io
import json
import re
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
import wsgi_squall_app
from wsgi_squall_app import adapted, application

from squall.log import app_log
from squall.testing import ExpectLog
from squall.web import create_signed_value
from squall.wsgi import WSGIApplication, WSGIUnsupportedError

XSRF = "00112233445566778899aabbccddeeff"  # a version 1 token: hex
XSRF_HEADERS = {"Cookie": f"_xsrf={XSRF}", "X-Xsrftoken": XSRF}


def call(
    app: Any,
    path: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    validate: bool = True,
    **extra: Any,
) -> tuple[str, list[tuple[str, str]], bytes]:
    target, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": target,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE",) else "HTTP_" + key] = value
    environ.update(extra)
    setup_testing_defaults(environ)
    for key in drop:
        del environ[key]
    seen: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        seen["status"] = status
        seen["headers"] = response_headers
        return lambda data: None

    # The validator refuses a bad environ itself; tests of how we treat
    # one (as a WSGI server might pass it on) call the application bare.
    result = (validator(app) if validate else app)(environ, start_response)
    try:
        out = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], out


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.mark.parametrize("app", [application, adapted], ids=["WSGIApplication", "WSGIAdapter"])
def test_hello_and_routes(app: Any) -> None:
    status, headers, body = call(app, "/")
    assert (status, body) == ("200 OK", b"Hello, world")
    assert header(headers, "Content-Length") == ["12"]
    assert header(headers, "Content-Type") == ["text/html; charset=UTF-8"]
    assert call(app, "/story/42")[2] == b"You requested the story 42"
    status, _, body = call(app, "/no/such/page")
    assert status == "404 Not Found"


def test_environ_becomes_request() -> None:
    _status, _, body = call(
        application,
        "/json?a=1&a=%C3%A9",
        REMOTE_ADDR="10.9.8.7",
        HTTP_HOST="example.org:8080",
        **{"wsgi.url_scheme": "https"},
    )
    data = json.loads(body)
    assert data == {
        "remote_ip": "10.9.8.7",
        "protocol": "https",
        "host": "example.org:8080",
        "path": "/json",
        "query": "a=1&a=%C3%A9",
        "arguments": {"a": ["1", "é"]},
    }


def test_percent_encoded_path_round_trips() -> None:
    # PATH_INFO carries decoded bytes as latin-1; the request sees the path
    # percent-encoded again, and path arguments decoded, as from a socket.
    raw = "/echo/caf\xc3\xa9 bar/x"  # UTF-8 bytes of "café" in a latin-1 string
    _status, _, body = call(application, raw)
    assert json.loads(body) == {"path": "/echo/caf%C3%A9%20bar/x", "arg": "café bar/x"}


def test_host_from_server_name_when_no_host_header() -> None:
    environ = {"SERVER_NAME": "internal", "SERVER_PORT": "8000"}
    _status, _, body = call(application, "/json", drop=("HTTP_HOST",), **environ)
    assert json.loads(body)["host"] == "internal:8000"


def test_template_with_inheritance_and_xsrf_module() -> None:
    status, headers, body = call(application, "/hello/ben")
    assert status == "200 OK"
    assert b"<h1>Hello, BEN.</h1>" in body
    assert b"You must still be working on this." in body
    assert b'name="_xsrf"' in body
    assert any(v.startswith("_xsrf=") for v in header(headers, "Set-Cookie"))


def test_cookies_and_signed_cookies() -> None:
    _status, headers, body = call(application, "/cookie")
    assert body == b"Your cookie was not set yet!"
    assert header(headers, "Set-Cookie")[0].startswith("mycookie=myvalue")
    assert call(application, "/cookie", headers={"Cookie": "mycookie=x"})[2] == (
        b"Your cookie was set!"
    )
    _, headers, body = call(application, "/secure-cookie")
    assert body == b"Your cookie was not set yet!"
    signed = header(headers, "Set-Cookie")[0].split(";")[0]
    assert call(application, "/secure-cookie", headers={"Cookie": signed})[2] == (
        b"Your cookie was set! myvalue"
    )
    forged = "mycookie=" + create_signed_value("another secret", "mycookie", "evil").decode()
    assert call(application, "/secure-cookie", headers={"Cookie": forged})[2] == (
        b"Your cookie was not set yet!"
    )


def test_xsrf_protects_posts() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with ExpectLog("squall.general", ".*XSRF", required=False):
        status, _, _ = call(application, "/message", "POST", b"message=hi", headers=form)
    assert status.startswith("403")
    status, _, body = call(
        application, "/message", "POST", b"message=hi", headers={**form, **XSRF_HEADERS}
    )
    assert (status, body) == ("200 OK", b"You wrote hi")


def test_multipart_upload_and_streamed_body() -> None:
    boundary = "b0undary"
    payload = bytes(range(256)) * 1000
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nsea\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n'
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", **XSRF_HEADERS}
    _, _, out = call(application, "/upload", "POST", body, headers=headers)
    import hashlib

    assert json.loads(out) == {
        "files": {"f": ["a.bin", hashlib.sha256(payload).hexdigest()]},
        "title": "sea",
    }
    # stream_request_body handlers get the body in pieces, read from wsgi.input.
    _, _, out = call(application, "/streamed-body", "PUT", b"x" * 300_000, headers=XSRF_HEADERS)
    assert json.loads(out) == {"pieces": 5, "size": 300_000}


def test_static_files() -> None:
    status, headers, body = call(application, "/static/site.css")
    assert (status, body) == ("200 OK", b"body { color: teal; }\n")
    assert header(headers, "Content-Type") == ["text/css"]
    etag = header(headers, "Etag")[0]
    status, headers, body = call(application, "/static/site.css", headers={"If-None-Match": etag})
    assert (status, body) == ("304 Not Modified", b"")
    status, _, body = call(application, "/static/site.css", headers={"Range": "bytes=0-3"})
    assert (status, body) == ("206 Partial Content", b"body")
    assert call(application, "/static/missing.css")[0].startswith("404")


def test_error_pages() -> None:
    status, _, body = call(application, "/forbidden")
    assert status == "403 Forbidden" and b"403: Forbidden" in body
    with ExpectLog(app_log, "Uncaught exception"):
        status, _, body = call(application, "/crash")
    assert (status, body) == ("500 Internal Server Error", b"custom error page 500")
    status, _, body = call(application, "/legacy-error")
    assert status.startswith("418") and body == b"<p>legacy error page 418</p>"


def test_head_request() -> None:
    status, headers, body = call(application, "/static/site.css", "HEAD")
    assert (status, body) == ("200 OK", b"")
    assert header(headers, "Content-Length") == ["22"]
    # A handler without head() answers 405, as under HTTPServer.
    assert call(application, "/", "HEAD")[0] == "405 Method Not Allowed"


def test_coroutine_that_does_not_wait_completes() -> None:
    assert call(application, "/coroutine")[2] == b"coroutine finished without waiting"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/waiting-coroutine", "a coroutine handler waited on I/O or a timer"),
        ("/asynchronous", "@asynchronous handlers cannot finish later under WSGI"),
    ],
)
def test_unsupported_features_fail_clearly(path: str, message: str) -> None:
    with pytest.raises(WSGIUnsupportedError, match=re.escape(message)):
        call(application, path)
    # What the handler left pending went with its loop; the thread serves on.
    assert call(application, "/")[2] == b"Hello, world"


def test_flush_and_websocket_fail_clearly() -> None:
    with pytest.raises(WSGIUnsupportedError, match=r"flush\(\) cannot send output"):
        call(application, "/flush")
    with ExpectLog(app_log, "Uncaught exception"):
        with pytest.raises(WSGIUnsupportedError, match="WebSocket"):
            call(
                application,
                "/websocket",
                headers={
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-Websocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-Websocket-Version": "13",
                },
            )


async def test_refuses_a_thread_running_an_event_loop() -> None:
    with pytest.raises(WSGIUnsupportedError, match="runs an event loop"):
        call(application, "/")


def test_oversized_body_is_refused() -> None:
    status, _, _body = call(application, "/json", "PUT", b"", CONTENT_LENGTH=str(200 * 1024 * 1024))
    assert status == "413 Payload Too Large"


def test_wsgi_application_signature_and_legacy_settings() -> None:
    app = WSGIApplication([(r"/", wsgi_squall_app.MainHandler)], "", None, debug=False)
    assert app.settings["debug"] is False and app.default_host == ""
    assert call(app, "/")[2] == b"Hello, world"


@pytest.mark.parametrize("declared", ["abc", "-5", "1e3"])
def test_invalid_content_length_is_a_400(declared: str) -> None:
    status, _, body = call(application, "/json", "PUT", CONTENT_LENGTH=declared, validate=False)
    assert status == "400 Bad Request"
    assert b"invalid Content-Length" in body


def test_body_shorter_than_declared_is_a_400() -> None:
    status, _, body = call(
        application, "/json", "PUT", b"", CONTENT_LENGTH="10", **{"wsgi.input": io.BytesIO(b"abc")}
    )
    assert (status, body) == ("400 Bad Request", b"400: the request body ended early\n")


def test_malformed_multipart_is_a_400_like_under_httpserver() -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=zz", **XSRF_HEADERS}
    with ExpectLog("squall.general", ".*", required=False):
        status, _, _ = call(application, "/upload", "POST", b"--zz\r\nno end", headers=headers)
    assert status.startswith("400")
