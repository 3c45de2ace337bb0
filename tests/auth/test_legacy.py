"""The 1.x FacebookMixin (Facebook Connect + REST API) and FriendFeedMixin
(OAuth 1.0) against local providers speaking those protocols, in both
calling styles."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from auth_harness import AuthErrorAs403, query_of, walk, with_query
from auth_legacy_providers import (
    FB_API_KEY,
    FB_SECRET,
    FF_CONSUMER_KEY,
    FF_CONSUMER_SECRET,
    FacebookConnect,
    FriendFeed,
)

from squall.auth import FacebookMixin, FriendFeedMixin
from squall.testing import ExpectLog
from squall.web import Application, HTTPError, RequestHandler, asynchronous


class FacebookSeedLogin(RequestHandler, FacebookMixin):
    """Seed 000's handler, with a page instead of a redirect at the end."""

    @asynchronous
    def get(self):
        if self.get_argument("session", None):
            self.get_authenticated_user(self.async_callback(self._on_auth))
            return
        self.authenticate_redirect()

    def _on_auth(self, user):
        if not user:
            raise HTTPError(500, "Auth failed")
        self.set_secure_cookie("uid", user["uid"])
        self.set_secure_cookie("session_key", user["session_key"])
        self.finish(user)


class FacebookAwaitLogin(AuthErrorAs403, RequestHandler, FacebookMixin):
    async def get(self):
        if self.get_argument("session", None):
            user = await self.get_authenticated_user()
            post = await self.facebook_request(
                "stream.publish", session_key=user["session_key"], message="Hi!"
            )
            self.write({"user": user, "post": post})
            return
        self.authorize_redirect(["publish_stream", "email"], cancel_uri="/cancelled")


class FriendFeedLogin(AuthErrorAs403, RequestHandler, FriendFeedMixin):
    async def get(self):
        if self.get_argument("oauth_token", None):
            user = await self.get_authenticated_user()
            entry = await self.friendfeed_request(
                "/entry", post_args={"body": "Testing squall"}, access_token=user["access_token"]
            )
            self.set_signed_cookie("user", user["username"])
            self.write({"user": user, "entry": entry})
            return
        await self.authorize_redirect()


class FriendFeedCallbackLogin(RequestHandler, FriendFeedMixin):
    @asynchronous
    def get(self):
        if self.get_argument("oauth_token", None):
            self.get_authenticated_user(self.async_callback(self._on_auth))
            return
        self.authorize_redirect()

    def _on_auth(self, user):
        if not user:
            raise HTTPError(403, "FriendFeed auth failed")
        self.finish({"name": user["name"], "username": user["username"]})


@pytest.fixture
def facebook(wsgi):
    p = FacebookConnect()
    p.thread = wsgi(p)
    return p


@pytest.fixture
def friendfeed(wsgi):
    p = FriendFeed()
    p.thread = wsgi(p)
    return p


@pytest.fixture
def site(facebook, friendfeed, serve):
    fb = {
        "_FACEBOOK_LOGIN_URL": facebook.thread.base + "/login.php",
        "_FACEBOOK_REST_URL": facebook.thread.base + "/restserver.php",
    }
    base = friendfeed.thread.base
    ff = {
        "_OAUTH_REQUEST_TOKEN_URL": base + "/account/oauth/request_token",
        "_OAUTH_ACCESS_TOKEN_URL": base + "/account/oauth/access_token",
        "_OAUTH_AUTHORIZE_URL": base + "/account/oauth/authorize",
        "_FRIENDFEED_API_URL": base + "/v2",
    }
    app = Application(
        [
            ("/fb", type("Fb", (FacebookSeedLogin,), fb)),
            ("/fb-await", type("FbA", (FacebookAwaitLogin,), fb)),
            ("/ff", type("Ff", (FriendFeedLogin,), ff)),
            ("/ff-callback", type("FfC", (FriendFeedCallbackLogin,), ff)),
        ],
        cookie_secret="secret",
        facebook_api_key=FB_API_KEY,
        facebook_secret=FB_SECRET,
        friendfeed_consumer_key=FF_CONSUMER_KEY,
        friendfeed_consumer_secret=FF_CONSUMER_SECRET,
    )
    url = serve(app)
    friendfeed.registered_callback = url + "/ff"
    return url


# -- Facebook Connect --------------------------------------------------------------


async def test_facebook_seed_handler(site, browser, facebook):
    response = await browser.get(site + "/fb")
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["uid"] == "1001" and user["name"] == "Alice Liddell"
    assert user["first_name"] == "Alice" and user["username"] == "alice"
    assert user["pic_square"] == "http://pics.example/alice.jpg"
    assert user["session_key"] in facebook.sessions
    assert browser.session.cookies.get("uid") and browser.session.cookies.get("session_key")
    login = facebook.logins[-1]
    assert login["api_key"] == FB_API_KEY and login["next"] == site + "/fb"
    assert login["return_session"] == "true" and login["fbconnect"] == "true"
    call = facebook.calls[-1]
    assert call["method"] == "facebook.users.getInfo" and call["format"] == "json"


async def test_facebook_awaited_with_permissions_and_rest_call(site, browser, facebook):
    response = await browser.get(site + "/fb-await")
    assert response.status_code == 200, response.text
    assert response.json()["post"] == "1001_1"
    login = facebook.logins[-1]
    assert login["req_perms"] == "publish_stream,email"
    assert login["cancel_url"] == site + "/cancelled"


def fb_callback(site, browser):
    return walk(browser, site + "/fb", stop=lambda url: url.startswith(site))


async def test_facebook_tampered_session(site, browser):
    callback = await fb_callback(site, browser)
    session = json.loads(query_of(callback)["session"])
    session["uid"] = "4"  # someone else
    with ExpectLog("squall.general", ".*Auth failed"):
        response = await browser.get(with_query(callback, session=json.dumps(session)))
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert not browser.session.cookies.get("uid")


@pytest.mark.parametrize(
    ("session", "message"),
    [
        ("not json", "The Facebook session is not JSON"),
        (json.dumps({"uid": "1"}), "The Facebook session lacks session_key or uid"),
        (json.dumps(["x"]), "The Facebook session lacks session_key or uid"),
    ],
)
async def test_facebook_malformed_session(site, browser, session, message):
    response = await browser.get(site + "/fb-await?" + urllib.parse.urlencode({"session": session}))
    assert response.status_code == 403
    assert response.json()["error"] == message


async def test_facebook_session_unknown_to_the_provider(site, browser, facebook):
    callback = await fb_callback(site, browser)
    facebook.sessions.clear()  # e.g. expired at Facebook
    path = urllib.parse.urlsplit(callback)._replace(path="/fb-await").geturl()
    response = await browser.get(path)
    assert response.status_code == 403
    assert response.json()["error"] == "Facebook error 102: Session key invalid"


async def test_facebook_session_signed_for_another_app(facebook, serve, browser):
    fb = {
        "_FACEBOOK_LOGIN_URL": facebook.thread.base + "/login.php",
        "_FACEBOOK_REST_URL": facebook.thread.base + "/restserver.php",
    }
    site = serve(
        Application(
            [("/fb-await", type("FbA", (FacebookAwaitLogin,), fb))],
            facebook_api_key=FB_API_KEY,
            facebook_secret="this app's own secret",
        )
    )
    response = await browser.get(site + "/fb-await")
    assert response.status_code == 403
    assert response.json()["error"] == "The Facebook session signature is invalid"
    assert not facebook.calls  # refused before asking the REST API


async def test_facebook_session_without_signature(site, browser):
    session = json.dumps({"session_key": "k", "uid": "1001", "expires": 0})
    response = await browser.get(site + "/fb-await?" + urllib.parse.urlencode({"session": session}))
    assert response.status_code == 403
    assert response.json()["error"] == "The Facebook session signature is invalid"


async def test_facebook_rest_api_500(site, browser, facebook):
    facebook.fail_with = 500
    with ExpectLog("squall.general", ".*Auth failed"):
        response = await browser.get(site + "/fb")
    assert response.status_code == 500
    assert not browser.session.cookies.get("uid")


# -- FriendFeed ----------------------------------------------------------------------


async def test_friendfeed_sign_in_and_signed_post(site, browser, friendfeed):
    response = await browser.get(site + "/ff")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "alice" and body["user"]["name"] == "Alice Liddell"
    assert body["user"]["access_token"]["username"] == "alice"
    assert body["entry"]["body"] == "Testing squall"
    # OAuth 1.0: no callback at the request-token or authorize step.
    authorize = query_of(response.history[1].url)
    assert set(authorize) == {"oauth_token"}


async def test_friendfeed_callback_style(site, browser, friendfeed):
    friendfeed.registered_callback = site + "/ff-callback"
    response = await browser.get(site + "/ff-callback")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "Alice Liddell", "username": "alice"}


async def test_friendfeed_missing_cookie_callback_style(site, browser, other_browser, friendfeed):
    friendfeed.registered_callback = site + "/ff-callback"
    callback = await walk(browser, site + "/ff-callback", stop=lambda u: u.startswith(site))
    with ExpectLog("squall.general", ".*FriendFeed auth failed"):
        response = await other_browser.get(callback)
    assert response.status_code == 403


async def test_friendfeed_unapproved_token(site, browser, friendfeed):
    callback = await walk(browser, site + "/ff", stop=lambda u: u.startswith(site))
    friendfeed.authorized.clear()
    response = await browser.get(callback)
    assert response.status_code == 403
    assert response.json()["error"] == (
        "Fetching the OAuth access token failed: provider answered 401"
    )


def test_friendfeed_takes_no_callback_uri():
    with pytest.raises(Exception, match="does not support oauth_callback"):
        FriendFeedMixin().authorize_redirect(callback_uri="/back")
