"""current_user, get_login_url and @authenticated, over real HTTP; the
seeds' login flow end to end."""

from __future__ import annotations

import urllib.parse

import pytest

from squall.log import app_log
from squall.testing import ExpectLog
from squall.web import Application, RequestHandler, authenticated

SECRET = "61oETzKXQAGaYdkL5gEmGeJJFuYh7EQnp2XdTP1o/Vo="


class CountingUser(RequestHandler):
    calls = 0

    def get_current_user(self):
        CountingUser.calls += 1
        return self.get_argument("user", None)

    def get(self):
        first = self.current_user
        second = self.current_user
        self.current_user = "assigned"
        self.write(f"{first}|{second}|{self.current_user}|{CountingUser.calls}")


async def test_current_user_is_cached_and_settable(start):
    CountingUser.calls = 0
    fetch = start(Application([("/", CountingUser)]))
    assert (await fetch("/?user=amy")).text == "amy|amy|assigned|1"
    assert (await fetch("/")).text == "None|None|assigned|2"


class Plain(RequestHandler):
    def get(self):
        self.write(repr(self.current_user))


async def test_default_current_user_is_none(start):
    fetch = start(Application([("/", Plain)]))
    assert (await fetch("/")).text == "None"


class Protected(RequestHandler):
    def get_current_user(self):
        return self.request.headers.get("X-User")

    @authenticated
    def get(self):
        self.write("secret for " + self.current_user)

    @authenticated
    def head(self):
        pass

    @authenticated
    def post(self):
        self.write("posted")


def protected_app(**settings):
    return Application([("/protected", Protected)], **settings)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_anonymous_get_is_redirected_with_next(start, method):
    fetch = start(protected_app(login_url="/login"))
    reply = await fetch("/protected?a=1&b=%2F", method=method)
    assert reply.code == 302
    location = reply.headers["Location"]
    path, _, query = location.partition("?")
    assert path == "/login"
    assert urllib.parse.parse_qs(query) == {"next": ["/protected?a=1&b=%2F"]}


async def test_anonymous_post_is_forbidden(start):
    fetch = start(protected_app(login_url="/login"))
    reply = await fetch("/protected", method="POST", body=b"")
    assert reply.code == 403
    assert "Location" not in reply.headers


async def test_logged_in_user_passes(start):
    fetch = start(protected_app(login_url="/login"))
    reply = await fetch("/protected", headers={"X-User": "zoe"})
    assert (reply.code, reply.text) == (200, "secret for zoe")
    reply = await fetch("/protected", method="POST", body=b"", headers={"X-User": "zoe"})
    assert (reply.code, reply.text) == (200, "posted")


async def test_absolute_login_url_gets_the_full_next_url(start):
    fetch = start(protected_app(login_url="https://sso.example/login"))
    reply = await fetch("/protected?x=1")
    location = reply.headers["Location"]
    assert location.startswith("https://sso.example/login?next=")
    next_url = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["next"][0]
    assert next_url == f"http://127.0.0.1:{fetch.port}/protected?x=1"


async def test_login_url_with_query_is_used_as_is(start):
    fetch = start(protected_app(login_url="/login?from=app"))
    assert (await fetch("/protected")).headers["Location"] == "/login?from=app"


async def test_missing_login_url_is_a_server_error(start):
    fetch = start(protected_app())
    with ExpectLog(app_log, "Uncaught exception GET /protected"):
        assert (await fetch("/protected")).code == 500


class CustomLoginUrl(Protected):
    def get_login_url(self):
        return "/custom"


async def test_get_login_url_can_be_overridden(start):
    fetch = start(Application([("/protected", CustomLoginUrl)]))
    assert (await fetch("/protected")).headers["Location"].startswith("/custom?next=")


# -- the seeds' login flow (seed 004), with a dict for the database ----------------

USERS = {"ann": {"password": "pw", "token": "tok-ann", "name": "Ann"}}


class BaseHandler(RequestHandler):
    @property
    def db(self):
        return self.application.settings["db"]

    def get_current_user(self):
        token = self.get_secure_cookie("token")
        if token is None:
            return None
        for user in self.db.values():
            if user["token"].encode() == token:
                return user
        return None


class LoginHandler(BaseHandler):
    def get(self):
        self.write("login form")

    def post(self):
        if self.current_user:
            self.redirect("/dashboard")
            return
        username = self.get_argument("username")
        password = self.get_argument("password")
        user = self.db.get(username)
        if not user or user["password"] != password:
            self.redirect("/login")
            return
        self.set_secure_cookie("token", user["token"])
        self.redirect("/dashboard")


class Dashboard(BaseHandler):
    @authenticated
    def get(self):
        self.write("Welcome " + self.current_user["name"])


async def test_seed_login_flow(start):
    app = Application(
        [("/login", LoginHandler), ("/dashboard", Dashboard)],
        cookie_secret=SECRET,
        login_url="/login",
        db=USERS,
    )
    fetch = start(app)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # Anonymous: sent to the login page.
    reply = await fetch("/dashboard")
    assert (reply.code, reply.headers["Location"]) == (302, "/login?next=%2Fdashboard")
    # Wrong password: back to the login page, no cookie.
    reply = await fetch("/login", "POST", "username=ann&password=nope", form)
    assert (reply.code, reply.headers["Location"]) == (302, "/login")
    assert reply.headers.get_all("Set-Cookie") is None
    # Right password: a signed token cookie, then the dashboard.
    reply = await fetch("/login", "POST", "username=ann&password=pw", form)
    assert (reply.code, reply.headers["Location"]) == (302, "/dashboard")
    cookie = reply.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith('token="2|')  # quoted, as Tornado does
    reply = await fetch("/dashboard", headers={"Cookie": cookie})
    assert (reply.code, reply.text) == (200, "Welcome Ann")
    # Logged in already: the login POST goes straight to the dashboard.
    reply = await fetch("/login", "POST", "", {**form, "Cookie": cookie})
    assert (reply.code, reply.headers["Location"]) == (302, "/dashboard")
    # A forged token cookie (the raw token, unsigned) is anonymous.
    reply = await fetch("/dashboard", headers={"Cookie": "token=tok-ann"})
    assert reply.code == 302
