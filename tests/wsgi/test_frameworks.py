"""Flask and Django applications in WSGIContainer, over real sockets, each
response compared with the one the framework's own test client produces."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from squall.testing import ExpectLog
from squall.wsgi import WSGIContainer

flask = pytest.importorskip("flask")
pytest.importorskip("django")

BOUNDARY = "squallboundary7d3a"
UPLOAD = os.urandom(200_000)


def multipart_body() -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n'.encode(),
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="photo"; filename="beach.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + UPLOAD
        + b"\r\n",
        f"--{BOUNDARY}--\r\n".encode(),
    ]
    return b"".join(parts)


# (name, method, path, headers, body)
CASES: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
    ("index", "GET", "/", {}, None),
    ("route", "GET", "/hello/w%C3%B6rld?x=1&y=%20two", {}, None),
    (
        "form",
        "POST",
        "/form",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=1&a=2&b=h%C3%A9llo",
    ),
    (
        "upload",
        "POST",
        "/upload",
        {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        multipart_body(),
    ),
    ("json", "PUT", "/json", {"Content-Type": "application/json"}, b'{"k": [1, 2, "three"]}'),
    ("stream", "GET", "/stream", {}, None),
    ("cookie-set", "GET", "/cookie/set", {}, None),
    ("cookie-get", "GET", "/cookie/get", {"Cookie": "flavour=ginger"}, None),
    ("redirect", "GET", "/redirect", {}, None),
    ("file", "GET", "/file", {}, None),
    ("missing", "GET", "/no/such/page", {}, None),
    ("head", "HEAD", "/", {}, None),
    ("error", "GET", "/error", {}, None),
]

# Headers that legitimately differ between a socket and a test client.
TRANSPORT_HEADERS = {"date", "server", "content-length", "transfer-encoding", "connection"}


def comparable(headers: Any) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in headers if k.lower() not in TRANSPORT_HEADERS)


def flask_test_client(method: str, path: str, headers: dict[str, str], body: bytes | None) -> Any:
    from wsgi_flask_app import app

    client = app.test_client(use_cookies=False)
    with client.open(path, method=method, headers=headers, data=body) as response:
        return response.status_code, list(response.headers.items()), response.get_data()


def django_test_client(method: str, path: str, headers: dict[str, str], body: bytes | None) -> Any:
    from django.test import Client

    client = Client(raise_request_exception=False)
    extra = {
        "HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"
    }
    response = client.generic(
        method,
        path,
        data=body or b"",
        content_type=headers.get("Content-Type", "application/octet-stream"),
        **extra,
    )
    body_out = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    # Django's WSGI handler turns response.cookies into Set-Cookie headers.
    cookies = [("Set-Cookie", m.OutputString()) for m in response.cookies.values()]
    return response.status_code, list(response.items()) + cookies, body_out


def flask_app() -> Any:
    from wsgi_flask_app import app

    return app


def django_app() -> Any:
    from wsgi_django_app import application

    return application()


@contextlib.contextmanager
def expected_errors(framework: str, name: str) -> Iterator[None]:
    if name != "error":
        yield
        return
    logger = "wsgi_flask_app" if framework == "flask" else "django.request"
    with ExpectLog(logger, "Exception on|Internal Server Error"):
        yield


FRAMEWORKS: dict[str, tuple[Callable[[], Any], Callable[..., Any]]] = {
    "flask": (flask_app, flask_test_client),
    "django": (django_app, django_test_client),
}


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_same_response_as_test_client(
    framework: str, case: tuple[Any, ...], serve: Any, get: Any
) -> None:
    name, method, path, headers, body = case
    make_app, test_client = FRAMEWORKS[framework]
    port = serve(WSGIContainer(make_app()))
    with expected_errors(framework, name):
        reply = await get(port, path, method=method, body=body, headers=headers)
    with expected_errors(framework, name):
        status, client_headers, client_body = test_client(method, path, headers, body)
    assert reply.status == status
    assert reply.body == (b"" if method == "HEAD" else client_body)
    assert comparable(reply.headers.items()) == comparable(client_headers)
    if name == "upload":
        files = json.loads(reply.body)["files"]
        assert files["photo"][0] == "beach.bin"
    if name == "stream":
        assert reply.header("Transfer-Encoding") == "chunked"
        assert reply.body == b"".join(f"chunk {n}\n".encode() for n in range(5))
    if name == "cookie-get":
        assert reply.body == b"flavour=ginger"


def sized_reads(app: Any) -> Any:
    """Hide wsgi.input_terminated from the framework (the validator still
    sees it): with it, Werkzeug reads wsgi.input with read() and no size,
    which the validator, written before input_terminated, rejects."""

    def wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        return app(
            {k: v for k, v in environ.items() if k != "wsgi.input_terminated"}, start_response
        )

    return wrapper


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
async def test_container_passes_wsgiref_validator(framework: str, serve: Any, get: Any) -> None:
    """wsgiref.validate checks both sides: the app's use of the server and
    our environ, wsgi.input, start_response and iterable handling."""
    make_app, test_client = FRAMEWORKS[framework]
    port = serve(WSGIContainer(validator(sized_reads(make_app()))))
    for name, method, path, headers, body in CASES:
        with expected_errors(framework, name):
            reply = await get(port, path, method=method, body=body, headers=headers)
        with expected_errors(framework, name):
            status, _, client_body = test_client(method, path, headers, body)
        assert (reply.status, reply.body) == (status, b"" if method == "HEAD" else client_body)
