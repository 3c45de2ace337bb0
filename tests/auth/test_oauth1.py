"""OAuthMixin and TwitterMixin against oauthlib's OAuth 1.0a provider
endpoints, driven by a browser following real redirects."""

from __future__ import annotations

import urllib.parse

import pytest
from auth_harness import walk
from auth_oauth1_provider import CLIENT_KEY, CLIENT_SECRET, OAuth1Provider

from squall.auth import AuthError, OAuthMixin, TwitterMixin
from squall.testing import ExpectLog
from squall.web import Application, HTTPError, RequestHandler, asynchronous


class TwitterLogin(RequestHandler, TwitterMixin):
    async def get(self):
        try:
            if self.get_argument("oauth_token", None):
                user = await self.get_authenticated_user()
                self.set_signed_cookie("user", user["username"])
                token = user["access_token"]
                self.write({"username": user["username"], "name": user["name"], "token": token})
                return
            if self.get_argument("authenticate", None):
                await self.authenticate_redirect()
            else:
                await self.authorize_redirect()
        except AuthError as e:
            self.set_status(403)
            self.write({"error": str(e)})


class Tweet(RequestHandler, TwitterMixin):
    async def get(self):
        token = {"key": self.get_argument("key"), "secret": self.get_argument("secret")}
        status = await self.twitter_request(
            "/statuses/update",
            access_token=token,
            post_args={"status": self.get_argument("status")},
        )
        self.write(status)


@pytest.fixture
def provider(wsgi):
    app = OAuth1Provider()
    app.thread = wsgi(app)
    return app


@pytest.fixture
def site(provider, serve):
    base = provider.thread.base
    attrs = {
        "_OAUTH_REQUEST_TOKEN_URL": base + "/oauth/request_token",
        "_OAUTH_ACCESS_TOKEN_URL": base + "/oauth/access_token",
        "_OAUTH_AUTHORIZE_URL": base + "/oauth/authorize",
        "_OAUTH_AUTHENTICATE_URL": base + "/oauth/authenticate",
        "_TWITTER_BASE_URL": base + "/1.1",
    }
    app = Application(
        [
            ("/login", type("Login", (TwitterLogin,), attrs)),
            ("/tweet", type("TweetAt", (Tweet,), attrs)),
        ],
        cookie_secret="not so secret",
        twitter_consumer_key=CLIENT_KEY,
        twitter_consumer_secret=CLIENT_SECRET,
    )
    return serve(app)


def back_home(site):
    return lambda url: url.startswith(site)


async def test_sign_in_through_the_approval_page(site, browser, provider):
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "alice"
    assert response.json()["name"] == "Alice Liddell"
    token = response.json()["token"]
    assert token["key"] in provider.validator.access_tokens
    assert token["screen_name"] == "alice" and token["user_id"] == "42"
    # The trip went through the provider's authorize page and back.
    path = [urllib.parse.urlsplit(r.url).path for r in response.history]
    assert path == ["/login", "/oauth/authorize"]
    # Signed in; the request token cookie is gone.
    assert browser.session.cookies.get("user")
    assert not browser.session.cookies.get("_oauth_request_token")


async def test_authenticate_redirect_uses_the_sign_in_page(site, browser):
    response = await browser.get(site + "/login?authenticate=1")
    assert response.status_code == 200, response.text
    assert urllib.parse.urlsplit(response.history[1].url).path == "/oauth/authenticate"


async def test_signed_post_request(site, browser, provider):
    response = await browser.get(site + "/login")
    token = response.json()["token"]
    query = urllib.parse.urlencode(
        {"key": token["key"], "secret": token["secret"], "status": "Hello, world ~ 100% & more"}
    )
    response = await browser.get(site + "/tweet?" + query)
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Hello, world ~ 100% & more"
    assert provider.posted[-1]["status"] == "Hello, world ~ 100% & more"


async def test_wrong_token_secret_is_refused_by_the_provider(site, browser, io_loop):
    response = await browser.get(site + "/login")
    token = response.json()["token"]
    query = urllib.parse.urlencode({"key": token["key"], "secret": "wrong", "status": "x"})
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await browser.get(site + "/tweet?" + query)
    assert response.status_code == 500
    assert "Traceback" not in response.text


async def test_missing_request_token_cookie(site, browser, other_browser, provider):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    # Another visitor (no cookie) arrives with the first one's callback URL.
    response = await other_browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == "Missing OAuth request token cookie"
    assert not other_browser.session.cookies.get("user")


async def test_callback_replayed_after_use(site, browser):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    first = await browser.get(callback)
    assert first.status_code == 200
    browser.session.cookies.clear()
    second = await browser.get(callback)
    assert second.status_code == 403
    assert second.json()["error"] == "Missing OAuth request token cookie"


async def test_request_token_not_matching_the_cookie(site, browser):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    parts = urllib.parse.urlsplit(callback)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["oauth_token"] = "attackerstokenattackerstoken"
    forged = parts._replace(query=urllib.parse.urlencode(query)).geturl()
    response = await browser.get(forged)
    assert response.status_code == 403
    assert response.json()["error"] == "Request token does not match cookie"
    assert not browser.session.cookies.get("user")


async def test_forged_verifier_is_refused(site, browser):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    parts = urllib.parse.urlsplit(callback)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["oauth_verifier"] = "guessedverifierguessedverif"
    response = await browser.get(parts._replace(query=urllib.parse.urlencode(query)).geturl())
    assert response.status_code == 403
    assert response.json()["error"].startswith("Fetching the OAuth access token failed")
    assert not browser.session.cookies.get("user")


async def test_missing_verifier(site, browser):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    parts = urllib.parse.urlsplit(callback)
    query = dict(urllib.parse.parse_qsl(parts.query))
    del query["oauth_verifier"]
    response = await browser.get(parts._replace(query=urllib.parse.urlencode(query)).geturl())
    assert response.status_code == 403
    assert response.json()["error"] == "The provider sent no oauth_verifier"


async def test_malformed_request_token_cookie(site, browser):
    callback = await walk(browser, site + "/login", stop=back_home(site))
    browser.session.cookies.set("_oauth_request_token", "%%%|not-base64")
    response = await browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == "The OAuth request token cookie is malformed"


@pytest.mark.parametrize("status", [500, 503])
async def test_provider_error_status(site, browser, provider, status):
    provider.fail_with = status
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"] == (
        f"Fetching the OAuth request token failed: provider answered {status}"
    )


async def test_provider_answers_garbage(site, browser, provider):
    provider.garbage = True
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert "unreadable token answer" in response.json()["error"]


async def test_provider_unreachable(serve, browser):
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()  # nothing listens there now
    dead = f"http://127.0.0.1:{port}"
    login = type("Login", (TwitterLogin,), {"_OAUTH_REQUEST_TOKEN_URL": dead + "/rt"})
    site = serve(
        Application([("/login", login)], twitter_consumer_key="k", twitter_consumer_secret="s")
    )
    response = await browser.get(site + "/login")
    assert response.status_code == 403
    assert response.json()["error"].startswith("Fetching the OAuth request token failed")


def test_no_callbacks_provider_refuses_a_callback_uri():
    class NoCallbacks(TwitterMixin):
        _OAUTH_NO_CALLBACKS = True

    with pytest.raises(Exception, match="does not support oauth_callback"):
        NoCallbacks().authorize_redirect(callback_uri="/back")


class OutOfBand(RequestHandler, TwitterMixin):
    """A device-style sign-in: no callback, the visitor copies the verifier."""

    async def get(self):
        if self.get_argument("oauth_verifier", None):
            user = await self.get_authenticated_user()
            self.write({"username": user["username"]})
            return
        await self.authorize_redirect(callback_uri="oob")


class OldStyleService(RequestHandler, OAuthMixin):
    """An OAuthMixin subclass written for 1.x: ``_oauth_get_user`` with a
    callback, and the callback style throughout."""

    def _oauth_consumer_token(self):
        return {"key": CLIENT_KEY, "secret": CLIENT_SECRET}

    def _oauth_get_user(self, access_token, callback):
        callback({"screen_name": access_token["screen_name"]})

    @asynchronous
    def get(self):
        if self.get_argument("oauth_token", None):
            self.get_authenticated_user(self.async_callback(self._on_user))
            return
        self.authorize_redirect(callback_uri="/old")

    def _on_user(self, user):
        if not user:
            raise HTTPError(403, "no user")
        self.twitter_like_post(user)

    def twitter_like_post(self, user):
        self.finish({"user": user})


class CallbackTweet(RequestHandler, TwitterMixin):
    @asynchronous
    def get(self):
        token = {"key": self.get_argument("key"), "secret": self.get_argument("secret")}
        self.twitter_request(
            "/statuses/update",
            post_args={"status": "from a callback"},
            access_token=token,
            callback=self.async_callback(self._on_post),
        )

    def _on_post(self, status):
        if status is None:
            raise HTTPError(502, "Twitter refused")
        self.finish(status)


@pytest.fixture
def more_site(provider, serve):
    base = provider.thread.base
    attrs = {
        "_OAUTH_REQUEST_TOKEN_URL": base + "/oauth/request_token",
        "_OAUTH_ACCESS_TOKEN_URL": base + "/oauth/access_token",
        "_OAUTH_AUTHORIZE_URL": base + "/oauth/authorize",
        "_TWITTER_BASE_URL": base + "/1.1",
    }
    app = Application(
        [
            ("/oob", type("Oob", (OutOfBand,), attrs)),
            ("/old", type("Old", (OldStyleService,), attrs)),
            ("/login", type("Login", (TwitterLogin,), attrs)),
            ("/tweet-callback", type("Cb", (CallbackTweet,), attrs)),
        ],
        twitter_consumer_key=CLIENT_KEY,
        twitter_consumer_secret=CLIENT_SECRET,
        cookie_secret="s",
    )
    return serve(app)


async def test_out_of_band_verifier(more_site, browser, provider):
    shown = await browser.get(more_site + "/oob")
    # The provider shows the verifier instead of redirecting.
    assert shown.status_code == 200
    assert urllib.parse.urlsplit(shown.url).path == "/oauth/authorize"
    codes = dict(urllib.parse.parse_qsl(shown.text))
    response = await browser.get(more_site + "/oob?" + urllib.parse.urlencode(codes))
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "alice"}


async def test_old_style_subclass_with_callbacks(more_site, browser):
    response = await browser.get(more_site + "/old")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == {
        "screen_name": "alice",
        "access_token": response.json()["user"]["access_token"],
    }


async def test_old_style_failure_is_none_to_the_callback(more_site, browser, other_browser):
    callback = await walk(browser, more_site + "/old", stop=back_home(more_site))
    with ExpectLog("squall.general", ".*no user"):
        response = await other_browser.get(callback)
    assert response.status_code == 403


async def test_api_request_callback_style(more_site, browser, provider):
    token = (await browser.get(more_site + "/login")).json()["token"]
    query = urllib.parse.urlencode({"key": token["key"], "secret": token["secret"]})
    response = await browser.get(more_site + "/tweet-callback?" + query)
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "from a callback"
    # A refused call reaches the callback as None (the 1.x contract).
    query = urllib.parse.urlencode({"key": token["key"], "secret": "wrong"})
    with ExpectLog("squall.general", ".*Twitter refused"):
        response = await browser.get(more_site + "/tweet-callback?" + query)
    assert response.status_code == 502


async def test_provider_that_never_answers(serve, browser, monkeypatch):
    import squall.auth._common
    from squall.testing import bind_unused_port

    monkeypatch.setattr(squall.auth._common, "PROVIDER_REQUEST_TIMEOUT", 0.5)
    silent, port = bind_unused_port()  # listens, never answers
    try:
        login = type(
            "Login", (TwitterLogin,), {"_OAUTH_REQUEST_TOKEN_URL": f"http://127.0.0.1:{port}/rt"}
        )
        site = serve(
            Application([("/login", login)], twitter_consumer_key="k", twitter_consumer_secret="s")
        )
        response = await browser.get(site + "/login")
    finally:
        silent.close()
    assert response.status_code == 403
    assert response.json()["error"].startswith("Fetching the OAuth request token failed")
