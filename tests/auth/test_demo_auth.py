"""demos/auth: the sign-in demo against its own OpenID Connect provider,
clicked through with a browser."""

from __future__ import annotations

import re

import pytest

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


@pytest.fixture
def demo(io_loop):
    from demos.auth.app import make_app

    sock, port = bind_unused_port()
    server = HTTPServer(make_app(port))
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}"
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=5)


def form_fields(html):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


async def approve(browser, demo, answer, name="Queen of Hearts"):
    page = await browser.get(demo + "/login")
    assert page.status_code == 200
    assert page.url.startswith(demo + "/idp/authorize?")
    assert "Demo identity provider" in page.text
    fields = form_fields(page.text)
    assert fields["code_challenge"] and fields["nonce"] and fields["state"]
    fields.update(name=name, approve=answer)
    return await browser.io_loop.run_in_executor(
        None, lambda: browser.session.post(page.url, data=fields, timeout=10)
    )


async def test_sign_in_and_out(demo, browser):
    home = await browser.get(demo + "/")
    assert "You are not signed in" in home.text
    signed_in = await approve(browser, demo, "yes")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.url == demo + "/"
    assert "Signed in as <b>Queen of Hearts</b>" in signed_in.text
    assert "queen of hearts@example.org" in signed_in.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', signed_in.text).group(1)
    out = await browser.io_loop.run_in_executor(
        None, lambda: browser.session.post(demo + "/logout", data={"_xsrf": xsrf}, timeout=10)
    )
    assert "You are not signed in" in out.text


async def test_denied(demo, browser):
    response = await approve(browser, demo, "no")
    assert response.status_code == 403
    assert "The provider refused the sign-in: access_denied" in response.text
    assert "You are not signed in" in (await browser.get(demo + "/")).text


async def test_markup_in_the_name_is_escaped(demo, browser):
    response = await approve(browser, demo, "yes", name="<script>x</script>")
    assert "<script>x" not in response.text and "&lt;script&gt;x" in response.text


async def test_provider_refuses_a_client_without_pkce(demo, browser):
    response = await browser.get(
        demo + "/idp/authorize?client_id=squall-demo&scope=openid"
        "&redirect_uri=http://127.0.0.1/x&response_type=code"
    )
    assert response.status_code == 400
