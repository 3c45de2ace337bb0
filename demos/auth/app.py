"""A site with "Sign in with OpenID Connect".

By default it signs in against the demo provider it serves itself under
``/idp`` (see ``provider.py``), so it works with no internet. Point it at a
real provider with ``--issuer``, ``--client-id`` and ``--client-secret``
(register ``http://HOST:PORT/login`` as the redirect URI there).

Built on squall's public API: ``squall.auth.OpenIDConnectMixin`` does
discovery, state, nonce and PKCE, and checks the ID token.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from squall.auth import AuthError, OpenIDConnectMixin
from squall.escape import xhtml_escape
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.web import Application, RequestHandler

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>squall sign-in demo</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}</style></head>
<body><h1>squall sign-in demo</h1>{body}</body></html>
"""


class BaseHandler(RequestHandler):
    def get_current_user(self) -> Any:
        raw = self.get_signed_cookie("user")
        return json.loads(raw) if raw else None


class Home(BaseHandler):
    def get(self) -> None:
        user = self.current_user
        if user:
            body = (
                f"<p>Signed in as <b>{xhtml_escape(user['name'])}</b> "
                f"({xhtml_escape(user['email'])}), subject <code>{xhtml_escape(user['sub'])}</code>.</p>"
                '<form method="post" action="/logout">'
                f"{self.xsrf_form_html()}<button>Sign out</button></form>"
            )
        else:
            body = '<p>You are not signed in.</p><p><a href="/login">Sign in</a></p>'
        self.write(PAGE.format(body=body))


class Login(BaseHandler, OpenIDConnectMixin):
    def redirect_uri(self) -> str:
        return f"{self.request.protocol}://{self.request.host}/login"

    async def get(self) -> None:
        if self.get_argument("state", None) or self.get_argument("error", None):
            try:
                user = await self.get_authenticated_user(redirect_uri=self.redirect_uri())
            except AuthError as e:
                self.set_status(403)
                body = f"<p>Sign-in failed: {xhtml_escape(str(e))}</p><p><a href='/'>Home</a></p>"
                self.write(PAGE.format(body=body))
                return
            profile = {
                "sub": user["sub"],
                "name": user.get("name") or user["sub"],
                "email": user.get("email", ""),
            }
            self.set_signed_cookie("user", json.dumps(profile), httponly=True, samesite="Lax")
            self.redirect("/")
            return
        await self.oidc_authorize_redirect(redirect_uri=self.redirect_uri())


class Logout(BaseHandler):
    def post(self) -> None:
        self.clear_cookie("user")
        self.redirect("/")


def make_app(
    port: int,
    issuer: str | None = None,
    client_id: str = "squall-demo",
    client_secret: str | None = None,
    cookie_secret: str | None = None,
    provider_host: str = "127.0.0.1",
) -> Application:
    """The site; with no ``issuer``, plus the demo provider under ``/idp``,
    reached as ``provider_host`` (``localhost`` makes it another site than
    the app's ``127.0.0.1`` for the browser, as a real provider is)."""
    routes: list[Any] = [("/", Home), ("/logout", Logout)]
    if issuer is None:
        from demos.auth.provider import IdentityProvider, provider_routes

        issuer = f"http://{provider_host}:{port}/idp"
        client_secret = client_secret or secrets.token_urlsafe(16)
        routes += provider_routes("/idp", IdentityProvider(issuer, client_id, client_secret))
    login = type("ConfiguredLogin", (Login,), {"_OIDC_ISSUER": issuer})
    routes.append(("/login", login))
    return Application(
        routes,
        cookie_secret=cookie_secret or secrets.token_urlsafe(32),
        xsrf_cookies=True,
        oidc={"key": client_id, "secret": client_secret},
    )


def main(port: int = 8888, address: str = "127.0.0.1", **kwargs: Any) -> None:
    server = HTTPServer(make_app(port, **kwargs))
    server.listen(port, address)
    IOLoop.current().start()
