"""OpenIdMixin and the 1.x GoogleMixin (OpenID + OAuth hybrid) against
python3-openid's OpenID 2.0 provider."""

from __future__ import annotations

import html
import re
import urllib.parse

import pytest
from auth_harness import AuthErrorAs403, query_of, walk, with_query
from auth_openid_provider import CONSUMER_KEY, CONSUMER_SECRET, OpenIdProvider

from squall.auth import GoogleMixin, OpenIdMixin
from squall.testing import ExpectLog
from squall.web import Application, RequestHandler, asynchronous

# python3-openid (the provider) still calls its own deprecated attributes.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:openid\..*")


class OpenIdLogin(AuthErrorAs403, RequestHandler, OpenIdMixin):
    async def get(self):
        if self.get_argument("openid.mode", None):
            user = await self.get_authenticated_user()
            self.set_signed_cookie("user", user["claimed_id"])
            self.write(user)
        else:
            self.authenticate_redirect()


class GoogleHybrid(RequestHandler, GoogleMixin):
    """The 1.x way: @asynchronous, a callback, None on failure."""

    @asynchronous
    def get(self):
        if self.get_argument("openid.mode", None):
            self.get_authenticated_user(self.async_callback(self._on_auth))
            return
        if self.get_argument("scope", None):
            self.authorize_redirect(self.get_argument("scope"), ax_attrs=["name", "email"])
        else:
            self.authenticate_redirect(ax_attrs=["name", "email"])

    def _on_auth(self, user):
        if not user:
            self.set_status(403)
            self.finish({"error": "Google auth failed"})
            return
        self.set_secure_cookie("user", user["email"])
        self.finish(user)


@pytest.fixture
def provider(wsgi):
    p = OpenIdProvider()
    p.thread = wsgi(p)
    p.base = p.thread.base
    return p


@pytest.fixture
def site(provider, serve):
    attrs = {"_OPENID_ENDPOINT": provider.endpoint}
    google = dict(attrs, _OAUTH_ACCESS_TOKEN_URL=provider.base + "/oauth/access_token")
    app = Application(
        [
            ("/login", type("Login", (OpenIdLogin,), attrs)),
            ("/google", type("Google", (GoogleHybrid,), google)),
        ],
        cookie_secret="secret",
        google_consumer_key=CONSUMER_KEY,
        google_consumer_secret=CONSUMER_SECRET,
    )
    return serve(app)


def home(site):
    return lambda url: url.startswith(site)


async def test_sign_in(site, browser, provider):
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "first_name": "Alice",
        "last_name": "Liddell",
        "name": "Alice Liddell",
        "email": "alice@example.org",
        "locale": "en-gb",
        "username": "alice",
        "claimed_id": provider.identity(),
    }
    request = query_of(response.history[1].url)
    assert request["openid.mode"] == "checkid_setup"
    assert request["openid.return_to"] == site + "/login"
    assert request["openid.realm"] == site + "/"
    assert provider.checks == 1  # verified with the provider, not trusted
    assert browser.session.cookies.get("user")


async def test_google_hybrid_sign_in_callback_style(site, browser, provider):
    response = await browser.get(site + "/google")
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["email"] == "alice@example.org" and user["name"] == "Alice Liddell"
    assert "username" not in user and "access_token" not in user


async def test_google_hybrid_authorizes_oauth_access(site, browser, provider):
    response = await browser.get(site + "/google?scope=http://www.google.com/m8/feeds/")
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert provider.access_tokens[token["key"]] == token["secret"]
    request = query_of(response.history[1].url)
    assert request["openid.oauth.scope"] == "http://www.google.com/m8/feeds/"
    assert request["openid.oauth.consumer"] == "127.0.0.1"


async def test_tampered_signed_field(site, browser):
    callback = await walk(browser, site + "/login", stop=home(site))
    query = query_of(callback)
    email_key = next(k for k, v in query.items() if v == "alice@example.org")
    response = await browser.get(with_query(callback, **{email_key: "mallory@example.org"}))
    assert response.status_code == 403
    assert response.json()["error"].startswith("Invalid OpenID response")
    assert not browser.session.cookies.get("user")


async def test_tampered_claimed_id(site, browser, provider):
    callback = await walk(browser, site + "/login", stop=home(site))
    forged = with_query(
        callback,
        **{
            "openid.claimed_id": provider.identity("mallory"),
            "openid.identity": provider.identity("mallory"),
        },
    )
    response = await browser.get(forged)
    assert response.status_code == 403
    assert response.json()["error"].startswith("Invalid OpenID response")


async def test_unsigned_fields_added_are_ignored(site, browser):
    callback = await walk(browser, site + "/login", stop=home(site))
    query = query_of(callback)
    alias = next(
        k[len("openid.ns.") :] for k, v in query.items() if v == "http://openid.net/srv/ax/1.0"
    )
    extra = {
        f"openid.{alias}.type.admin": "http://axschema.org/namePerson/friendly",
        f"openid.{alias}.value.admin": "root",
    }
    # The username the provider signed is replaced by an unsigned duplicate.
    for key in [k for k in query if k.endswith(".value.username")]:
        extra[key] = query[key]
    response = await browser.get(with_query(callback, **extra))
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


async def test_replayed_response(site, browser, other_browser):
    callback = await walk(browser, site + "/login", stop=home(site))
    assert (await browser.get(callback)).status_code == 200
    # python3-openid logs the second check of the same response.
    with ExpectLog("openid.server.server", "failed to get assoc"):
        response = await other_browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"].startswith("Invalid OpenID response")


async def test_response_for_another_return_url(site, browser):
    callback = await walk(browser, site + "/login", stop=home(site))
    parts = urllib.parse.urlsplit(callback)
    elsewhere = parts._replace(path="/google").geturl()
    response = await browser.get(elsewhere)
    assert response.status_code == 403
    assert response.json()["error"] == "Google auth failed"


async def test_return_to_mismatch_is_refused_before_asking(site, browser, provider):
    callback = await walk(browser, site + "/login", stop=home(site))
    forged = with_query(callback, **{"openid.return_to": "http://evil.example/login"})
    response = await browser.get(forged)
    assert response.status_code == 403
    assert response.json()["error"] == "OpenID return_to is not this URL"
    assert provider.checks == 0


async def test_assertion_from_another_endpoint(site, browser, provider):
    callback = await walk(browser, site + "/login", stop=home(site))
    forged = with_query(callback, **{"openid.op_endpoint": "http://evil.example/openid"})
    response = await browser.get(forged)
    assert response.status_code == 403
    assert response.json()["error"] == "OpenID response from another endpoint"


async def test_signed_list_missing_required_fields(site, browser):
    callback = await walk(browser, site + "/login", stop=home(site))
    forged = with_query(callback, **{"openid.signed": "op_endpoint,return_to"})
    response = await browser.get(forged)
    assert response.status_code == 403
    assert response.json()["error"].startswith("OpenID response does not sign")


@pytest.mark.parametrize("mode", ["cancel", "setup_needed", "id_res_not"])
async def test_not_a_positive_assertion(site, browser, mode):
    response = await browser.get(
        site + "/login?openid.ns=http://specs.openid.net/auth/2.0&openid.mode=" + mode
    )
    assert response.status_code == 403
    if mode == "cancel":
        assert response.json()["error"] == "The visitor cancelled the OpenID sign-in"
    else:
        assert "Not an OpenID 2.0 positive assertion" in response.json()["error"]


async def test_provider_answering_500(site, browser, provider):
    provider.fail_with = 500
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"] == "Verifying the OpenID response failed: provider answered 500"


async def test_provider_answering_garbage(site, browser, provider):
    provider.garbage = True
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"].startswith("Invalid OpenID response")


async def test_hybrid_access_token_refused(site, browser, provider):
    callback = await walk(browser, site + "/google?scope=feeds", stop=home(site))
    provider.request_tokens.clear()
    response = await browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == "Google auth failed"
    assert not browser.session.cookies.get("user")


class LongRequestLogin(OpenIdLogin):
    """Asks for every attribute and a long return URL: the provider then
    answers with a self-submitting form (an HTML form POST) instead of a
    redirect, so the handler takes POST as well."""

    post = OpenIdLogin.get


async def test_response_delivered_by_form_post(provider, serve, browser):
    handler = type("Long", (LongRequestLogin,), {"_OPENID_ENDPOINT": provider.endpoint})
    site = serve(Application([("/long", handler)], cookie_secret="s"))
    page = await browser.get(site + "/long?pad=" + "x" * 1500)
    assert page.status_code == 200
    assert urllib.parse.urlsplit(page.url).path == "/openid"  # the provider's form
    action = html.unescape(re.search(r'<form action="([^"]+)"', page.text).group(1))
    inputs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    fields = {name: html.unescape(value) for name, value in inputs}
    assert fields["openid.mode"] == "id_res"
    response = await browser.io_loop.run_in_executor(
        None, lambda: browser.session.post(action, data=fields, timeout=10)
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "alice@example.org"
