"""OAuthMixin with a provider that does not confirm the callback.

Such a provider answers the request-token call without
``oauth_callback_confirmed=true`` and sends no ``oauth_verifier`` back: an
OAuth 1.0 provider. As with Tornado, the sign-in goes through; only a
provider that did confirm the callback must send the verifier.
"""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from auth_harness import AuthErrorAs403, query_of, walk

from squall.auth import OAuthMixin
from squall.web import Application, RequestHandler

CONSUMER = {"key": "consumer-key", "secret": "consumer-secret"}


class Provider:
    """What the fake provider saw, and how it answers."""

    def __init__(self) -> None:
        self.confirm = False
        self.access_queries: list[dict[str, str]] = []


class RequestToken(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        body = "oauth_token=req-token&oauth_token_secret=req-secret"
        if self.provider.confirm:
            body += "&oauth_callback_confirmed=true"
        self.write(body)


class Authorize(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        # Approves at once and sends the visitor home, without a verifier.
        back = self.get_argument("back")
        self.redirect(back + "?oauth_token=" + self.get_argument("oauth_token"))


class AccessToken(RequestHandler):
    def initialize(self, provider: Provider) -> None:
        self.provider = provider

    def get(self) -> None:
        self.provider.access_queries.append(
            {k: self.get_argument(k) for k in self.request.arguments}
        )
        self.write("oauth_token=acc-token&oauth_token_secret=acc-secret&screen_name=ann")


@pytest.fixture
def provider():
    return Provider()


class Login(AuthErrorAs403, RequestHandler, OAuthMixin):
    _OAUTH_VERSION = "1.0a"

    def _oauth_consumer_token(self):
        return CONSUMER

    async def _oauth_get_user_future(self, access_token):
        return {"name": access_token["screen_name"]}

    async def get(self):
        if self.get_argument("oauth_token", None):
            user = await self.get_authenticated_user()
            self.write({"name": user["name"], "token": user["access_token"]["key"]})
            return
        await self.authorize_redirect()


@pytest.fixture
def site(serve, provider):
    login = type("SiteLogin", (Login,), {})
    app = Application(
        [
            ("/login", login),
            ("/request_token", RequestToken, {"provider": provider}),
            ("/authorize", Authorize, {"provider": provider}),
            ("/access_token", AccessToken, {"provider": provider}),
        ]
    )
    base = serve(app)
    login._OAUTH_REQUEST_TOKEN_URL = base + "/request_token"
    login._OAUTH_ACCESS_TOKEN_URL = base + "/access_token"
    back = urllib.parse.quote(base + "/login", safe="")
    login._OAUTH_AUTHORIZE_URL = base + "/authorize?back=" + back
    return base


async def test_unconfirmed_callback_signs_in_without_verifier(site, browser, provider):
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "ann", "token": "acc-token"}
    # The access-token request carried the request token and no verifier.
    (query,) = provider.access_queries
    assert query["oauth_token"] == "req-token"
    assert "oauth_verifier" not in query


async def test_unconfirmed_request_token_cookie_is_tornados_format(site, browser):
    callback = await walk(browser, site + "/login", stop=lambda u: "oauth_token=" in u)
    assert query_of(callback)["oauth_token"] == "req-token"
    cookie = browser.session.cookies.get("_oauth_request_token").strip('"')
    key, secret = cookie.split("|")
    assert base64.b64decode(key) == b"req-token" and base64.b64decode(secret) == b"req-secret"


async def test_confirmed_callback_still_requires_the_verifier(site, browser, provider):
    provider.confirm = True
    callback = await walk(browser, site + "/login", stop=lambda u: "oauth_token=" in u)
    cookie = browser.session.cookies.get("_oauth_request_token").strip('"')
    assert cookie.endswith("|1")
    response = await browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == "The provider sent no oauth_verifier"
    assert provider.access_queries == []


@pytest.mark.parametrize("cookie", ["cmVxLXRva2Vu|cmVxLXNlY3JldA==|2", "cmVxLXRva2Vu", "a|b|c|d"])
async def test_bad_request_token_cookies(site, browser, provider, cookie):
    browser.session.cookies.set("_oauth_request_token", cookie)
    response = await browser.get(site + "/login?oauth_token=req-token")
    assert response.status_code == 403
    assert response.json()["error"] == "The OAuth request token cookie is malformed"
    assert provider.access_queries == []
