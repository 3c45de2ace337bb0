"""XSRF tokens (``xsrf_cookies``) and token-free cross-origin protection,
over real HTTP."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from squall.web import Application, RequestHandler

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
V2_TOKEN = re.compile(r"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|[0-9]+\Z")


class Form(RequestHandler):
    def get_current_user(self):
        return self.request.headers.get("X-User")

    def get(self):
        self.write(self.xsrf_token + b"\n" + self.xsrf_form_html().encode())

    def post(self):
        self.write("posted")

    put = patch = delete = post

    def head(self):
        pass

    def options(self):
        self.write("options")


def xsrf_app(**settings):
    settings.setdefault("xsrf_cookies", True)
    return Application([("/", Form)], **settings)


def set_cookies(reply):
    return reply.headers.get_all("Set-Cookie") or []


async def get_token(fetch, cookie=None):
    """(cookie pair to send back, token from the page)."""
    reply = await fetch("/", headers={"Cookie": cookie} if cookie else None)
    assert reply.code == 200
    token, form_html = reply.text.split("\n")
    assert form_html == f'<input type="hidden" name="_xsrf" value="{token}"/>'
    if cookie is None:
        (header,) = set_cookies(reply)
        cookie = header.split(";")[0]
    return cookie, token


async def test_cookie_and_masked_tokens(start):
    fetch = start(xsrf_app())
    cookie, token = await get_token(fetch)
    name, _, value = cookie.partition("=")
    assert name == "_xsrf"
    assert V2_TOKEN.match(value.strip('"'))
    assert V2_TOKEN.match(token)
    # The cookie is set once; later pages reuse it, masked differently.
    tokens = {token}
    for _ in range(3):
        reply = await fetch("/", headers={"Cookie": cookie})
        assert set_cookies(reply) == []
        tokens.add(reply.text.split("\n")[0])
    assert len(tokens) == 4
    for each in tokens:
        body = urllib.parse.urlencode({"_xsrf": each})
        reply = await fetch("/", "POST", body, {**FORM, "Cookie": cookie})
        assert (reply.code, reply.text) == (200, "posted")


@pytest.mark.parametrize("header", ["X-XSRFToken", "X-CSRFToken"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_token_in_header(start, header, method):
    fetch = start(xsrf_app())
    cookie, token = await get_token(fetch)
    reply = await fetch("/", method, b"", {"Cookie": cookie, header: token})
    assert reply.code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_missing_token_is_forbidden(start, method):
    fetch = start(xsrf_app())
    cookie, _ = await get_token(fetch)
    reply = await fetch("/", method, b"", {"Cookie": cookie})
    assert reply.code == 403
    # The old AJAX exemption is gone: the header proves nothing.
    reply = await fetch("/", method, b"", {"Cookie": cookie, "X-Requested-With": "XMLHttpRequest"})
    assert reply.code == 403


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
async def test_safe_methods_need_no_token(start, method):
    fetch = start(xsrf_app())
    assert (await fetch("/", method)).code == 200


async def test_mismatched_and_other_users_tokens_are_forbidden(start):
    fetch = start(xsrf_app())
    mine, _ = await get_token(fetch)
    _, theirs = await get_token(fetch)
    reply = await fetch("/", "POST", b"", {"Cookie": mine, "X-XSRFToken": theirs})
    assert reply.code == 403
    # A token without its cookie.
    reply = await fetch("/", "POST", b"", {"X-XSRFToken": theirs})
    assert reply.code == 403


@pytest.mark.parametrize(
    "bad",
    ["garbage", "2|zz|00|1", "2|00000000|00|1", "2|||", "2|0011|0011", "0" * 31, "<script>"],
)
async def test_malformed_tokens_are_forbidden(start, bad):
    fetch = start(xsrf_app())
    cookie, _ = await get_token(fetch)
    body = urllib.parse.urlencode({"_xsrf": bad})
    reply = await fetch("/", "POST", body, {**FORM, "Cookie": cookie})
    assert reply.code == 403


async def test_malformed_cookie_gets_a_fresh_token(start):
    fetch = start(xsrf_app())
    reply = await fetch("/", headers={"Cookie": "_xsrf=2|nothex|x|y"})
    (header,) = set_cookies(reply)
    assert V2_TOKEN.match(header.split(";")[0].split("=", 1)[1].strip('"'))
    # And the broken cookie cannot be matched by echoing it.
    reply = await fetch(
        "/", "POST", b"", {"Cookie": "_xsrf=2|nothex|x|y", "X-XSRFToken": "2|nothex|x|y"}
    )
    assert reply.code == 403


async def test_version_1_cookies(start):
    fetch = start(xsrf_app(xsrf_cookie_version=1))
    cookie, token = await get_token(fetch)
    assert re.fullmatch(r"_xsrf=[0-9a-f]{32}", cookie)
    assert token == cookie.split("=")[1]
    assert (await fetch("/", "POST", b"", {"Cookie": cookie, "X-XSRFToken": token})).code == 200
    # A version-2 application converts the old cookie, and accepts both.
    fetch2 = start(xsrf_app())
    reply = await fetch2("/", headers={"Cookie": cookie})
    assert len(set_cookies(reply)) == 1  # the cookie is rewritten as version 2
    new_token = reply.text.split("\n")[0]
    assert V2_TOKEN.match(new_token)
    for each in (token, new_token):
        reply = await fetch2("/", "POST", b"", {"Cookie": cookie, "X-XSRFToken": each})
        assert reply.code == 200


async def test_cookie_name_and_kwargs(start):
    fetch = start(
        xsrf_app(
            xsrf_cookie_name="__Host-xsrf",
            xsrf_cookie_kwargs={"httponly": True, "secure": True, "samesite": "Strict"},
        )
    )
    reply = await fetch("/")
    (header,) = set_cookies(reply)
    assert header.startswith("__Host-xsrf=")
    attributes = {a.strip().lower() for a in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    cookie = header.split(";")[0]
    token = reply.text.split("\n")[0]
    assert (await fetch("/", "POST", b"", {"Cookie": cookie, "X-XSRFToken": token})).code == 200
    # The default name is not consulted.
    wrong = "_xsrf=" + cookie.split("=", 1)[1]
    assert (await fetch("/", "POST", b"", {"Cookie": wrong, "X-XSRFToken": token})).code == 403


async def test_logged_in_users_get_a_persistent_cookie(start):
    fetch = start(xsrf_app())
    anonymous = set_cookies(await fetch("/"))[0].lower()
    assert "expires" not in anonymous
    user = set_cookies(await fetch("/", headers={"X-User": "kim"}))[0].lower()
    assert "expires=" in user


async def test_injected_cookie_does_not_become_xsrf(start):
    # A cookie whose value contains "_xsrf=" must not be read as _xsrf.
    fetch = start(xsrf_app())
    _, token = await get_token(fetch)
    reply = await fetch(
        "/", "POST", b"", {"Cookie": f'other="]_xsrf={token}"', "X-XSRFToken": token}
    )
    assert reply.code == 403


# -- cross_origin_protection ------------------------------------------------------


class Open(RequestHandler):
    def get(self):
        self.write("read")

    def post(self):
        self.write("written")


class AnyOrigin(Open):
    def check_trusted_origin(self, origin):
        return origin.endswith(".partner.example")


def origin_app(**settings):
    return Application(
        [("/", Open), ("/any", AnyOrigin)],
        cross_origin_protection=True,
        trusted_origins=["https://good.example"],
        **settings,
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 200),  # not a browser
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Sec-Fetch-Site": "bogus"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://good.example"}, 200),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403),
        # Sec-Fetch-Site is trusted over Origin when both are present.
        ({"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, 200),
        ({"Origin": "http://{host}"}, 200),
        ({"Origin": "https://{host}"}, 200),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://127.0.0.1:1"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "https://good.example"}, 200),
        ({"Origin": "https://good.example.evil"}, 403),
    ],
)
async def test_cross_origin_protection(start, headers, code):
    fetch = start(origin_app())
    host = f"127.0.0.1:{fetch.port}"
    headers = {k: v.format(host=host) for k, v in headers.items()}
    assert (await fetch("/", "POST", b"", headers)).code == code
    # Safe methods are never checked.
    assert (await fetch("/", "GET", None, headers)).code == 200


async def test_check_trusted_origin_override(start):
    fetch = start(origin_app())
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": "https://a.partner.example"}
    assert (await fetch("/any", "POST", b"", headers)).code == 200
    assert (await fetch("/", "POST", b"", headers)).code == 403


async def test_cross_origin_protection_is_off_by_default(start):
    fetch = start(Application([("/", Open)]))
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert (await fetch("/", "POST", b"", headers)).code == 200


async def test_both_protections_together(start):
    fetch = start(origin_app(xsrf_cookies=True))
    # Same origin but no token: the token check still applies.
    headers = {"Sec-Fetch-Site": "same-origin"}
    assert (await fetch("/", "POST", b"", headers)).code == 403
