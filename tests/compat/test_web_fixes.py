"""Web behaviours matched to Tornado 6.6 after Tornado's own suite found them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from squall import web
from squall.testing import ExpectLog


class Raises(web.RequestHandler):
    def get(self, what: str) -> None:
        if what == "cancel":
            raise asyncio.CancelledError()
        raise web.HTTPError(int(what))

    async def post(self, what: str) -> None:
        await asyncio.sleep(0)
        raise asyncio.CancelledError()


class Form(web.RequestHandler):
    def post(self) -> None:
        self.write("accepted")


@pytest.fixture
def app() -> web.Application:
    return web.Application(
        [
            (r"/raise/(\w+)", Raises),
            (r"/form", Form),
            (r"/gone", web.ErrorHandler, {"status_code": 410}),
            (r"/go(.*)", web.RedirectHandler, {"url": "https://example.com{0}"}),
            (r"/to/(.*)", web.RedirectHandler, {"url": "/{0}"}),
        ],
        xsrf_cookies=True,
        cross_origin_protection=True,
    )


async def test_cancelled_error_from_a_handler_is_a_500(fetch: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fetch("/raise/cancel")
    assert response.code == 500
    # From a coroutine handler, after it awaited something.
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fetch(
            "/raise/cancel?_xsrf=ab", method="POST", body=b"", headers={"Cookie": "_xsrf=ab"}
        )
    assert response.code == 500


@pytest.mark.parametrize("status", [204, 304])
async def test_http_error_with_a_bodyless_status(fetch: Any, status: int) -> None:
    response = await fetch(f"/raise/{status}")
    assert response.code == status
    assert response.body == b""


async def test_old_style_xsrf_tokens_need_not_be_hex(fetch: Any) -> None:
    for token in ("short", "not-hex-at-all", "abcd"):
        response = await fetch(
            f"/form?_xsrf={token}", method="POST", body=b"", headers={"Cookie": f"_xsrf={token}"}
        )
        assert (response.code, response.body) == (200, b"accepted")
    with ExpectLog("squall.general", ".*'_xsrf' argument has invalid format"):
        response = await fetch(
            "/form?_xsrf=3|", method="POST", body=b"", headers={"Cookie": "_xsrf=short"}
        )
    assert response.code == 403
    with ExpectLog("squall.general", ".*XSRF cookie does not match"):
        response = await fetch(
            "/form?_xsrf=one", method="POST", body=b"", headers={"Cookie": "_xsrf=two"}
        )
    assert response.code == 403


async def test_error_statuses_win_over_the_cross_origin_check(fetch: Any) -> None:
    cross = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert (await fetch("/nowhere", method="POST", body=b"", headers=cross)).code == 404
    assert (await fetch("/gone", method="POST", body=b"", headers=cross)).code == 410
    with ExpectLog("squall.general", ".*Sec-Fetch-Site cross-site"):
        assert (await fetch("/form", method="POST", body=b"", headers=cross)).code == 403


async def test_redirect_substitution_may_extend_the_path_only(fetch: Any) -> None:
    ok = await fetch("/go/x", follow_redirects=False)
    assert (ok.code, ok.headers["Location"]) == (301, "https://example.com/x")
    for path in ("/go.evil.com/x", "/go@evil.com/x", "/go:8080/x"):
        with ExpectLog("squall.general", ".*Redirect URL cannot change the scheme or netloc"):
            assert (await fetch(path, follow_redirects=False)).code == 400
    with ExpectLog("squall.general", ".*Redirect URL contains invalid characters"):
        assert (await fetch("/go/%0Afoo", follow_redirects=False)).code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/to/%09/evil.com",  # browsers drop the tab: //evil.com
        "/to/%5Cevil.com",  # a backslash reads as a slash
        "/to//evil.com",
    ],
)
async def test_redirect_sees_hosts_as_browsers_do(fetch: Any, path: str) -> None:
    with ExpectLog("squall.general", ".*Redirect URL cannot change the scheme or netloc"):
        response = await fetch(path, follow_redirects=False)
    assert response.code == 400


class GeneratedStatic(web.StaticFileHandler):
    """Content that is not in any file: get_content returns plain bytes."""

    @classmethod
    def get_absolute_path(cls, root: Any, path: str) -> str:
        return "generated:" + path

    def validate_absolute_path(self, root: Any, absolute_path: str) -> str:
        return absolute_path

    @classmethod
    def get_content(cls, abspath: str, start: int | None = None, end: int | None = None) -> Any:
        assert start is None and end is None  # the whole file is asked for whole
        return b"made up"

    def get_content_size(self) -> int:
        return len(b"made up")

    def get_modified_time(self) -> None:
        return None


async def test_static_subclass_with_generated_content(io_loop: Any) -> None:
    from squall.httpclient import AsyncHTTPClient
    from squall.httpserver import HTTPServer
    from squall.testing import bind_unused_port

    application = web.Application(
        [(r"/gen/(.*)", GeneratedStatic, {"path": "unused"})],
        static_path="unused",
        static_handler_class=GeneratedStatic,
    )
    GeneratedStatic.reset()
    sock, port = bind_unused_port()
    server = HTTPServer(application)
    server.add_sockets([sock])
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/gen/x.txt")
        assert response.body == b"made up"
        # The version hash comes from the same content, with no file behind it.
        import hashlib

        expected = hashlib.sha512(b"made up").hexdigest()
        assert GeneratedStatic.get_version(application.settings, "x.txt") == expected
    finally:
        client.close()
        server.stop()


class Stuck(web.RequestHandler):
    task: asyncio.Task[Any] | None = None
    started: asyncio.Event | None = None

    async def get(self) -> None:
        Stuck.task = asyncio.current_task()
        assert Stuck.started is not None
        Stuck.started.set()
        await asyncio.get_running_loop().create_future()


async def test_cancelling_the_handler_task_answers_500_quietly(io_loop: Any) -> None:
    from squall.httpclient import AsyncHTTPClient
    from squall.httpserver import HTTPServer
    from squall.testing import bind_unused_port

    Stuck.started = asyncio.Event()
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([("/stuck", Stuck)]))
    server.add_sockets([sock])
    client = AsyncHTTPClient(force_instance=True)
    try:
        pending = client.fetch(f"http://127.0.0.1:{port}/stuck", raise_error=False)
        await Stuck.started.wait()
        assert Stuck.task is not None
        Stuck.task.cancel()
        response = await pending
        assert response.code == 500
        assert Stuck.task.cancelled()
    finally:
        client.close()
        server.stop()


def test_set_cookie_names_and_max_age_are_checked() -> None:
    import http.cookies

    handler = web.RequestHandler.__new__(web.RequestHandler)
    for char in [*map(chr, range(0x20)), "\x7f", ";", " ", "="]:
        with pytest.raises(http.cookies.CookieError, match="Invalid cookie attribute name"):
            handler.set_cookie("foo" + char, "bar")
    # A max_age that is not an integer cannot smuggle attributes in.
    with pytest.raises(ValueError):
        handler.set_cookie("foo", "bar", max_age="1; Path=/x")  # type: ignore[arg-type]
    handler.set_cookie("ok", "1", max_age="7")  # type: ignore[arg-type]
    handler.set_cookie("zero", "1", max_age=0)  # falsy: no Max-Age, as Tornado
    header = handler._new_cookie.output()  # type: ignore[attr-defined]
    assert "ok=1; Max-Age=7; Path=/" in header
    assert "zero=1; Path=/" in header
