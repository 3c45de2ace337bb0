"""OAuth2Mixin, GoogleOAuth2Mixin and FacebookGraphMixin against oauthlib's
OAuth 2 provider: state in a signed cookie, PKCE S256, the bad returns."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from auth_harness import AuthErrorAs403, here, query_of, walk, with_query
from auth_oauth2_provider import CLIENT_ID, CLIENT_SECRET, USER, Provider

from squall.auth import FacebookGraphMixin, GoogleOAuth2Mixin, OAuth2Mixin
from squall.auth._oauth2_state import code_challenge
from squall.web import Application, RequestHandler


class GenericLogin(AuthErrorAs403, RequestHandler, OAuth2Mixin):
    async def get(self):
        if self.get_argument("state", None) or self.get_argument("error", None):
            tokens = await self.get_oauth2_token(
                here(self), client_id=CLIENT_ID, client_secret=CLIENT_SECRET
            )
            me = await self.oauth2_request(self.userinfo, access_token=tokens["access_token"])
            if self.settings.get("cookie_secret"):
                self.set_signed_cookie("user", me["email"])
            else:
                self.set_cookie("user", me["email"])
            self.write({"tokens": tokens, "me": me})
        else:
            self.authorize_redirect(here(self), CLIENT_ID, scope=["email"])


class GoogleLogin(AuthErrorAs403, RequestHandler, GoogleOAuth2Mixin):
    async def get(self):
        if self.get_argument("code", None) or self.get_argument("state", None):
            tokens = await self.get_authenticated_user(
                redirect_uri=here(self), code=self.get_argument("code", "")
            )
            me = await self.oauth2_request(
                self._OAUTH_USERINFO_URL, access_token=tokens["access_token"]
            )
            self.set_signed_cookie("user", me["email"])
            self.write({"tokens": tokens, "me": me})
        else:
            self.authorize_redirect(
                redirect_uri=here(self),
                client_id=self.get_google_oauth_settings()["key"],
                scope=["openid", "profile", "email"],
                extra_params={"approval_prompt": "auto"},
            )


class FacebookLogin(AuthErrorAs403, RequestHandler, FacebookGraphMixin):
    async def get(self):
        if self.get_argument("code", None) or self.get_argument("state", None):
            user = await self.get_authenticated_user(
                redirect_uri=here(self),
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                code=self.get_argument("code", ""),
                extra_fields={"email"},
            )
            self.set_signed_cookie("user", user["email"])
            self.write(user)
        else:
            self.authorize_redirect(here(self), CLIENT_ID, extra_params={"scope": "email"})


@pytest.fixture
def provider(wsgi):
    p = Provider()
    p.thread = wsgi(p)
    p.base = p.thread.base
    return p


def make_app(provider, verify_id_token=False, **settings):
    base = provider.base
    common = {"_OAUTH_AUTHORIZE_URL": base + "/authorize"}
    generic = dict(common, _OAUTH_ACCESS_TOKEN_URL=base + "/token", userinfo=base + "/userinfo")
    google = dict(
        common,
        _OAUTH_ACCESS_TOKEN_URL=base + "/token",
        _OAUTH_USERINFO_URL=base + "/userinfo",
        _OIDC_ISSUER=base,
    )
    facebook = dict(
        common,
        _OAUTH_ACCESS_TOKEN_URL=base + "/fb/access_token?",
        _FACEBOOK_BASE_URL=base + "/graph",
    )
    settings.setdefault("cookie_secret", "very secret")
    return Application(
        [
            ("/generic", type("G", (GenericLogin,), generic)),
            ("/google", type("Go", (GoogleLogin,), google)),
            ("/facebook", type("F", (FacebookLogin,), facebook)),
        ],
        google_oauth={
            "key": CLIENT_ID,
            "secret": CLIENT_SECRET,
            "verify_id_token": verify_id_token,
        },
        **settings,
    )


@pytest.fixture
def site(provider, serve):
    return serve(make_app(provider))


@pytest.mark.parametrize("path", ["/generic", "/google", "/facebook"])
async def test_sign_in(site, browser, provider, path):
    response = await browser.get(site + path)
    assert response.status_code == 200, response.text
    assert browser.session.cookies.get("user")
    assert not browser.session.cookies.get("_oauth2_state")
    # The authorization request carried state and a PKCE S256 challenge,
    # and the provider checked the verifier against it.
    authorize = query_of(response.history[1].url)
    assert authorize["client_id"] == CLIENT_ID
    assert authorize["code_challenge_method"] == "S256"
    verifier = provider.token_requests[-1]["code_verifier"]
    assert code_challenge(verifier) == authorize["code_challenge"]
    assert len(authorize["state"]) >= 32
    back = query_of(response.url)
    assert back["state"] == authorize["state"]


async def test_generic_answer(site, browser):
    body = (await browser.get(site + "/generic")).json()
    assert body["me"]["email"] == USER["email"]
    assert body["tokens"]["token_type"] == "Bearer"


async def test_google_answer_is_the_token_response(site, browser):
    response = await browser.get(site + "/google")
    body = response.json()
    assert body["me"]["email"] == USER["email"]
    assert {"access_token", "id_token", "expires_in"} <= set(body["tokens"])
    assert "id_token_claims" not in body["tokens"]
    # OpenID scope: a nonce was sent, and ended up in the ID token.
    assert "nonce" in query_of(response.history[1].url)


async def test_google_verifies_the_id_token_when_asked(provider, serve, browser):
    site = serve(make_app(provider, verify_id_token=True))
    response = await browser.get(site + "/google")
    claims = response.json()["tokens"]["id_token_claims"]
    assert claims["sub"] == USER["sub"] and claims["aud"] == CLIENT_ID
    assert claims["nonce"] == query_of(response.history[1].url)["nonce"]


async def test_google_rejects_a_forged_id_token_when_verifying(provider, serve, browser):
    from joserfc.jwk import RSAKey

    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    site = serve(make_app(provider, verify_id_token=True))
    response = await browser.get(site + "/google")
    assert response.status_code == 403
    assert response.json()["error"].startswith("ID token signature invalid")
    assert not browser.session.cookies.get("user")


async def test_facebook_answer(site, browser, provider):
    user = (await browser.get(site + "/facebook")).json()
    assert user["name"] == "Alice Liddell" and user["email"] == USER["email"]
    assert user["id"] == "1001" and user["link"] == "https://facebook.example/alice"
    assert user["session_expires"] == "3600"
    assert user["picture"] is None  # asked for, not sent
    assert "access_token" in user
    assert provider.token_requests[-1]["client_secret"] == CLIENT_SECRET
    # The Graph call carried appsecret_proof = HMAC-SHA256(secret, token).
    call = provider.graph_calls[-1]
    expected = hmac.new(CLIENT_SECRET.encode(), user["access_token"].encode(), hashlib.sha256)
    assert call["appsecret_proof"] == expected.hexdigest()
    assert set(call["fields"].split(",")) == {
        "id",
        "name",
        "first_name",
        "last_name",
        "locale",
        "picture",
        "link",
        "email",
    }


async def test_no_cookie_secret_still_checks_state(provider, serve, browser, other_browser):
    site = serve(make_app(provider, cookie_secret=None))
    response = await browser.get(site + "/generic")
    assert response.status_code == 200, response.text
    callback = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    response = await browser.get(with_query(callback, state="forged"))
    assert response.status_code == 403


# -- bad returns -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/generic", "/google", "/facebook"])
async def test_forged_state(site, browser, provider, path):
    callback = await walk(browser, site + path, stop=lambda u: u.startswith(site))
    response = await browser.get(with_query(callback, state="attacker-chosen"))
    assert response.status_code == 403
    assert response.json()["error"] == "OAuth2 state does not match: possible login CSRF"
    assert not browser.session.cookies.get("user")


@pytest.mark.parametrize("path", ["/generic", "/google", "/facebook"])
async def test_login_csrf_attackers_code_in_victims_browser(site, browser, other_browser, path):
    # The attacker gets a callback URL for their own account...
    attackers = await walk(other_browser, site + path, stop=lambda u: u.startswith(site))
    # ...and has the victim (who has no sign-in under way) open it.
    response = await browser.get(attackers)
    assert response.status_code == 403
    assert response.json()["error"] == "OAuth2 state cookie missing, expired or forged"
    # Nor does it work while the victim has a sign-in of their own open.
    await walk(browser, site + path, stop=lambda u: u.startswith(site))
    response = await browser.get(attackers)
    assert response.status_code == 403
    assert not browser.session.cookies.get("user")


async def test_replayed_callback(site, browser):
    callback = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    assert (await browser.get(callback)).status_code == 200
    browser.session.cookies.clear()
    response = await browser.get(callback)
    assert response.status_code == 403
    assert not browser.session.cookies.get("user")


async def test_state_missing(site, browser):
    callback = await walk(browser, site + "/google", stop=lambda u: u.startswith(site))
    response = await browser.get(with_query(callback, state=None))
    assert response.status_code == 403
    assert "state does not match" in response.json()["error"]


async def test_tampered_state_cookie(site, browser):
    callback = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    raw = browser.session.cookies.get("_oauth2_state")
    browser.session.cookies.set("_oauth2_state", raw.replace("|", "|x", 1))
    response = await browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == "OAuth2 state cookie missing, expired or forged"


async def test_provider_reported_error(site, browser):
    callback = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    response = await browser.get(
        with_query(callback, code=None, error="access_denied", error_description="no thanks")
    )
    assert response.status_code == 403
    assert response.json()["error"] == "The provider refused the sign-in: access_denied no thanks"


async def test_wrong_code_refused_by_provider(site, browser):
    callback = await walk(browser, site + "/google", stop=lambda u: u.startswith(site))
    response = await browser.get(with_query(callback, code="madeupcode"))
    assert response.status_code == 403
    assert response.json()["error"] == (
        "Exchanging the authorization code failed: provider answered 400"
    )


async def test_pkce_verifier_from_another_sign_in_is_refused(site, browser, provider):
    # Two sign-ins: the second overwrites the cookie (and its verifier); the
    # first one's code then fails the provider's PKCE check even with the
    # state put right.
    first = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    second = await walk(browser, site + "/generic", stop=lambda u: u.startswith(site))
    response = await browser.get(with_query(first, state=query_of(second)["state"]))
    assert response.status_code == 403
    assert "provider answered 400" in response.json()["error"]


@pytest.mark.parametrize("status", [500, 502])
async def test_token_endpoint_error_status(site, browser, provider, status):
    provider.fail_path, provider.fail_status = "/token", status
    response = await browser.get(site + "/google")
    assert response.status_code == 403
    assert response.json()["error"] == (
        f"Exchanging the authorization code failed: provider answered {status}"
    )


@pytest.mark.parametrize("path", ["/token", "/fb/access_token"])
async def test_token_endpoint_garbage(site, browser, provider, path):
    provider.garbage_path = path
    page = "/facebook" if path.startswith("/fb") else "/google"
    response = await browser.get(site + page)
    assert response.status_code == 403
    assert "is not JSON" in response.json()["error"]


async def test_user_endpoint_failing(site, browser, provider):
    provider.fail_path = "/graph/me"
    response = await browser.get(site + "/facebook")
    assert response.status_code == 403
    assert response.json()["error"] == "Fetching the Facebook user failed: 500"


def test_pkce_s256_rfc7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == code_challenge(verifier)


async def test_state_off_is_tornados_behaviour(provider, serve, browser):
    class Plain(GenericLogin):
        _OAUTH_STATE_COOKIE = None
        _OAUTH_AUTHORIZE_URL = provider.base + "/authorize"
        _OAUTH_ACCESS_TOKEN_URL = provider.base + "/token"
        userinfo = provider.base + "/userinfo"

    provider.require_pkce = False
    site = serve(Application([("/plain", Plain)], cookie_secret="s"))
    response = await walk(browser, site + "/plain", stop=lambda u: u.startswith(site))
    assert "state" not in query_of(response) and "code" in query_of(response)
    assert json.loads((await browser.get(response + "&state=x")).text)["me"]["sub"] == "alice-0001"
