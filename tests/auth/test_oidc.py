"""OpenIDConnectMixin against oauthlib's OpenID Connect provider with a
real RSA key: discovery, JWKS, and every ID-token check."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from auth_harness import AuthErrorAs403, here, query_of, walk
from auth_oauth2_provider import CLIENT_ID, CLIENT_SECRET, USER, Provider
from joserfc.jwk import OctKey, RSAKey

from squall.auth import OpenIDConnectMixin
from squall.web import Application, RequestHandler


class OidcLogin(AuthErrorAs403, RequestHandler, OpenIDConnectMixin):
    async def get(self):
        if self.get_argument("state", None) or self.get_argument("error", None):
            user = await self.get_authenticated_user(redirect_uri=here(self))
            self.set_signed_cookie("user", user["sub"])
            user.pop("token_response")
            self.write(user)
        else:
            await self.oidc_authorize_redirect(redirect_uri=here(self))


@pytest.fixture
def provider(wsgi):
    p = Provider()
    p.thread = wsgi(p)
    p.base = p.thread.base
    return p


def make_site(serve, provider, **attrs):
    attrs.setdefault("_OIDC_ISSUER", provider.base)
    handler = type("Login", (OidcLogin,), attrs)
    app = Application(
        [("/login", handler)],
        cookie_secret="secret",
        oidc={"key": CLIENT_ID, "secret": CLIENT_SECRET},
    )
    return serve(app)


@pytest.fixture
def site(provider, serve):
    return make_site(serve, provider)


async def test_sign_in(site, browser, provider):
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["sub"] == USER["sub"] and user["email"] == USER["email"]
    assert user["iss"] == provider.base and user["aud"] == CLIENT_ID
    authorize = query_of(response.history[1].url)
    assert urllib.parse.urlsplit(response.history[1].url).path == "/authorize"
    assert authorize["scope"].split() == ["openid", "email", "profile"]
    assert user["nonce"] == authorize["nonce"]
    assert authorize["code_challenge_method"] == "S256"
    assert user["access_token"]
    assert browser.session.cookies.get("user")


async def test_key_rotation_refreshes_the_key_set(site, browser, provider):
    assert (await browser.get(site + "/login")).status_code == 200
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
    browser.session.cookies.clear()
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text


def _future(seconds):
    return int(time.time()) + seconds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nonce": "not-the-nonce-we-sent"}, "ID token nonce does not match this sign-in"),
        ({"exp": _future(-3600), "iat": _future(-7200)}, "ID token expired"),
        ({"iat": _future(3600), "exp": _future(7200)}, "ID token issued in the future (iat)"),
        ({"iss": "http://127.0.0.1:1/elsewhere"}, "is not"),
        ({"aud": "another-client"}, "ID token is not for this client (aud)"),
        (
            {"aud": [CLIENT_ID, "another-client"]},
            "ID token for several audiences without this client as azp",
        ),
        ({"azp": "another-client"}, "ID token azp is another client"),
        ({"sub": ""}, "ID token has no subject (sub)"),
    ],
    ids=["nonce", "expired", "future", "iss", "aud", "multi-aud", "azp", "sub"],
)
async def test_bad_claims(site, browser, provider, overrides, message):
    provider.claim_overrides = overrides
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert message in response.json()["error"]
    assert not browser.session.cookies.get("user")


async def test_wrongly_signed_id_token(site, browser, provider):
    # A key of the attacker's own, under the provider's key id.
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"].startswith("ID token signature invalid")
    assert not browser.session.cookies.get("user")


async def test_hmac_signed_id_token_is_refused(site, browser, provider):
    provider.signing_key = OctKey.import_key(CLIENT_SECRET * 3)
    provider.signing_alg = "HS256"
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"].startswith("ID token signature invalid")


async def test_unsigned_id_token_is_refused(site, browser, provider):
    provider.signing_alg = "none"
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"].startswith("ID token")
    assert not browser.session.cookies.get("user")


async def test_discovery_naming_another_issuer(serve, browser, provider):
    provider_doc = provider.base + "/.well-known/openid-configuration"
    site = make_site(
        serve, provider, _OIDC_ISSUER="https://issuer.example", _OIDC_DISCOVERY_URL=provider_doc
    )
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"] == "The discovery document names another issuer"


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks", "/token"])
async def test_provider_answering_500(site, browser, provider, path):
    provider.fail_path = path
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert "provider answered 500" in response.json()["error"]


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks", "/token"])
async def test_provider_answering_garbage(site, browser, provider, path):
    provider.garbage_path = path
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert "not JSON" in response.json()["error"]


async def test_forged_and_replayed_state(site, browser, other_browser):
    callback = await walk(browser, site + "/login", stop=lambda u: u.startswith(site))
    parts = urllib.parse.urlsplit(callback)
    query = dict(urllib.parse.parse_qsl(parts.query), state="forged")
    forged = parts._replace(query=urllib.parse.urlencode(query)).geturl()
    assert (await browser.get(forged)).status_code == 403
    # The failed attempt used up the cookie: the genuine URL fails too now.
    assert (await browser.get(callback)).status_code == 403
    assert (await other_browser.get(callback)).status_code == 403
    assert not browser.session.cookies.get("user")
