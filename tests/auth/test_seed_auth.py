"""The seeds' auth examples, as written, with ``squall`` for ``tornado``,
each against a local provider (the endpoints set on the seed's class)."""

from __future__ import annotations

import json
import textwrap

import pytest
from auth_harness import query_of, walk, with_query
from auth_legacy_providers import FB_API_KEY, FB_SECRET, FacebookConnect
from auth_oauth1_provider import CLIENT_KEY, CLIENT_SECRET, OAuth1Provider
from auth_openid_provider import OpenIdProvider

import squall.auth
import squall.web
from squall.testing import ExpectLog

pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:openid\..*")

# Seed 000, "Third-party authentication".
SEED_000_FACEBOOK = """
class LoginHandler(tornado.web.RequestHandler, tornado.auth.FacebookMixin):
    @tornado.web.asynchronous
    def get(self):
        if self.get_argument("session", None):
            self.get_authenticated_user(self.async_callback(self._on_auth))
            return
        self.authenticate_redirect()

    def _on_auth(self, user):
        if not user: raise tornado.web.HTTPError(500, "Auth failed")
        self.set_secure_cookie("uid", user["uid"])
        self.set_secure_cookie("session_key", user["session_key"])
        self.redirect("/home")
"""

# Seed 001, "Third party authentication". The seed leaves the success
# branch to the reader ("# Save the user with, e.g., set_secure_cookie()");
# the test fills in that one comment (SEED_001_SAVE) and nothing else.
SEED_001_GOOGLE = """
class GoogleHandler(tornado.web.RequestHandler, tornado.auth.GoogleMixin):
    @tornado.web.asynchronous
    def get(self):
        if self.get_argument("openid.mode", None):
            self.get_authenticated_user(self._on_auth)
            return
        self.authenticate_redirect()

    def _on_auth(self, user):
        if not user:
            self.authenticate_redirect()
            return
        # Save the user with, e.g., set_secure_cookie()
"""
SEED_001_SAVE = """\
        self.set_secure_cookie("user", user["email"])
        self.redirect("/home")
"""

# Seed 004 (a talk's slides: the indentation was lost in the transcript).
SEED_004_TWITTER = """
from tornado.auth import TwitterMixin
class TwitterAuthHandler(RequestHandler, TwitterMixin):
    @tornado.web.asynchronous
    def get(self):
        if self.get_argument("oauth_token", None):
            return self.get_authenticated_user(self._on_auth)
        self.authorize_redirect()
    def _on_auth(self, user):
        if not user:
            raise HTTPError(500, "Couldn't auth.")
        user = self.db.create({"username": user["username"]})
        self.set_secure_cookie("token", user.token)
        self.redirect("/dashboard")
"""


def run_seed(source: str, name: str) -> type:
    namespace = {
        "squall": squall,
        "RequestHandler": squall.web.RequestHandler,
        "HTTPError": squall.web.HTTPError,
    }
    code = (
        textwrap.dedent(source)
        .replace("tornado.", "squall.")
        .replace("from tornado", "from squall")
    )
    exec(compile(code, f"<seed {name}>", "exec"), namespace)
    return namespace[name]


class Home(squall.web.RequestHandler):
    def get(self):
        names = ("uid", "session_key", "user", "token")
        cookies = {n: self.get_secure_cookie(n) for n in names}
        self.write({n: v.decode() for n, v in cookies.items() if v is not None})


class Users:
    """What seed 004 calls ``self.db``."""

    class User:
        def __init__(self, username):
            self.token = "token-for-" + username

    def __init__(self):
        self.created = []

    def create(self, fields):
        self.created.append(fields)
        return self.User(fields["username"])


def app(handlers, **settings):
    return squall.web.Application(
        [*handlers, ("/home", Home), ("/dashboard", Home)], cookie_secret="seed secret", **settings
    )


async def test_seed_000_facebook_connect(wsgi, serve, browser):
    facebook = FacebookConnect()
    facebook.thread = wsgi(facebook)
    LoginHandler = run_seed(SEED_000_FACEBOOK, "LoginHandler")
    LoginHandler._FACEBOOK_LOGIN_URL = facebook.thread.base + "/login.php"
    LoginHandler._FACEBOOK_REST_URL = facebook.thread.base + "/restserver.php"
    site = serve(
        app([("/login", LoginHandler)], facebook_api_key=FB_API_KEY, facebook_secret=FB_SECRET)
    )
    response = await browser.get(site + "/login")
    assert response.status_code == 200, response.text
    assert response.url == site + "/home"
    assert response.json()["uid"] == "1001"
    assert response.json()["session_key"] in facebook.sessions
    # A session Facebook did not sign: "Auth failed", and no sign-in.
    browser.session.cookies.clear()
    callback = await walk(browser, site + "/login", stop=lambda u: u.startswith(site))
    session = dict(json.loads(query_of(callback)["session"]), uid="7")
    with ExpectLog("squall.general", ".*Auth failed"):
        response = await browser.get(with_query(callback, session=json.dumps(session)))
    assert response.status_code == 500
    assert not browser.session.cookies.get("uid")


async def test_seed_001_google_openid(wsgi, serve, browser, other_browser):
    provider = OpenIdProvider()
    provider.thread = wsgi(provider)
    provider.base = provider.thread.base
    source = SEED_001_GOOGLE.replace(
        "        # Save the user with, e.g., set_secure_cookie()\n", SEED_001_SAVE
    )
    GoogleHandler = run_seed(source, "GoogleHandler")
    GoogleHandler._OPENID_ENDPOINT = provider.endpoint
    site = serve(app([("/google", GoogleHandler)]))
    response = await browser.get(site + "/google")
    assert response.status_code == 200, response.text
    assert response.url == site + "/home"
    assert response.json() == {"user": "alice@example.org"}
    # A tampered response: no user, so the seed sends the visitor back to
    # the provider to sign in again.
    callback = await walk(other_browser, site + "/google", stop=lambda u: u.startswith(site))
    forged = with_query(callback, **{"openid.claimed_id": provider.identity("mallory")})
    response = await other_browser.get(forged, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(provider.endpoint + "?")
    assert not other_browser.session.cookies.get("user")


async def test_seed_004_twitter(wsgi, serve, browser, other_browser):
    provider = OAuth1Provider()
    provider.thread = wsgi(provider)
    base = provider.thread.base
    TwitterAuthHandler = run_seed(SEED_004_TWITTER, "TwitterAuthHandler")
    TwitterAuthHandler._OAUTH_REQUEST_TOKEN_URL = base + "/oauth/request_token"
    TwitterAuthHandler._OAUTH_ACCESS_TOKEN_URL = base + "/oauth/access_token"
    TwitterAuthHandler._OAUTH_AUTHORIZE_URL = base + "/oauth/authorize"
    TwitterAuthHandler._TWITTER_BASE_URL = base + "/1.1"
    TwitterAuthHandler.db = Users()
    site = serve(
        app(
            [("/auth/twitter", TwitterAuthHandler)],
            twitter_consumer_key=CLIENT_KEY,
            twitter_consumer_secret=CLIENT_SECRET,
        )
    )
    response = await browser.get(site + "/auth/twitter")
    assert response.status_code == 200, response.text
    assert response.url == site + "/dashboard"
    assert response.json() == {"token": "token-for-alice"}
    assert TwitterAuthHandler.db.created == [{"username": "alice"}]
    # The callback URL opened in another browser (no request-token cookie).
    callback = await walk(browser, site + "/auth/twitter", stop=lambda u: u.startswith(site))
    with ExpectLog("squall.general", ".*Couldn't auth"):
        response = await other_browser.get(callback)
    assert response.status_code == 500
    assert not other_browser.session.cookies.get("token")
    # The provider down: the un-awaited authorize_redirect still reaches
    # the handler's error page.
    provider.fail_with = 500
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await other_browser.get(site + "/auth/twitter")
    assert response.status_code == 500
    assert "Traceback" not in response.text
