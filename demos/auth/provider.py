"""A tiny OpenID Connect provider for the demo, so sign-in works with no
internet: discovery, an authorization page (pick a name, approve), a token
endpoint that checks the client secret and the PKCE verifier, a JWKS and
ID tokens signed with an RSA key made at start-up (joserfc).

A demo, not a server to deploy: everything lives in memory and any name
can sign in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from squall.escape import xhtml_escape
from squall.web import HTTPError, RequestHandler

# An authorization code is exchanged within seconds; ten minutes is the
# upper bound RFC 6749 section 4.1.2 recommends.
CODE_LIFETIME_SECONDS = 600
ID_TOKEN_LIFETIME_SECONDS = 3600

AUTHORIZE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Demo identity provider</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}</style></head>
<body><h1>Demo identity provider</h1>
<p><b>{client}</b> asks to know who you are ({scope}).</p>
<form method="post">{xsrf}
{hidden}
<label>Sign in as <input name="name" value="Alice" maxlength="40" required></label>
<button name="approve" value="yes">Approve</button>
<button name="approve" value="no">Deny</button>
</form></body></html>
"""


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    name: str
    nonce: str | None
    challenge: str
    issued: float = field(default_factory=time.time)


class IdentityProvider:
    """The provider's state: its key, its one client, the codes in flight."""

    def __init__(self, issuer: str, client_id: str, client_secret: str) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)})
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, str] = {}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": hashlib.sha256(grant.name.lower().encode()).hexdigest()[:16],
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_SECONDS,
            "name": grant.name,
            "email": f"{grant.name.lower()}@example.org",
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)


class _Base(RequestHandler):
    def initialize(self, idp: IdentityProvider) -> None:
        self.idp = idp


class Discovery(_Base):
    def get(self) -> None:
        self.write(self.idp.discovery())


class Keys(_Base):
    def get(self) -> None:
        self.write(KeySet([self.idp.key]).as_dict(private=False))


class Authorize(_Base):
    FIELDS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")

    def _checked(self) -> dict[str, str]:
        args = {name: self.get_argument(name, "") for name in self.FIELDS}
        if args["client_id"] != self.idp.client_id:
            raise HTTPError(400, reason="Unknown client")
        if not args["redirect_uri"].startswith(("http://127.0.0.1", "http://localhost")):
            raise HTTPError(400, reason="Unregistered redirect_uri")
        if self.get_argument("response_type", "code") != "code" or "openid" not in args["scope"]:
            raise HTTPError(400, reason="Only the code flow with scope openid")
        if self.get_argument("code_challenge_method", "") != "S256" or not args["code_challenge"]:
            raise HTTPError(400, reason="PKCE S256 required")
        return args

    def get(self) -> None:
        args = self._checked()
        hidden = "".join(
            f'<input type="hidden" name="{n}" value="{xhtml_escape(v)}">' for n, v in args.items()
        )
        hidden += '<input type="hidden" name="code_challenge_method" value="S256">'
        self.write(
            AUTHORIZE_PAGE.format(
                client=xhtml_escape(args["client_id"]),
                scope=xhtml_escape(args["scope"]),
                xsrf=self.xsrf_form_html(),
                hidden=hidden,
            )
        )

    def post(self) -> None:
        args = self._checked()
        back: dict[str, str] = {"state": args["state"]}
        if self.get_argument("approve") != "yes":
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(24)
            self.idp.grants[code] = Grant(
                args["client_id"],
                args["redirect_uri"],
                self.get_argument("name")[:40],
                args["nonce"] or None,
                args["code_challenge"],
            )
            back["code"] = code
        self.redirect(args["redirect_uri"] + "?" + urlencode(back))


class Token(_Base):
    def check_xsrf_cookie(self) -> None:
        pass  # a back-channel call from the client's server, not a browser

    def post(self) -> None:
        grant = self.idp.grants.pop(self.get_argument("code", ""), None)
        client_ok = hmac.compare_digest(
            self.get_argument("client_secret", "").encode(), self.idp.client_secret.encode()
        )
        verifier = self.get_argument("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            grant is None
            or not client_ok
            or grant.client_id != self.get_argument("client_id", "")
            or grant.redirect_uri != self.get_argument("redirect_uri", "")
            or time.time() - grant.issued > CODE_LIFETIME_SECONDS
            or not hmac.compare_digest(challenge, grant.challenge)
        ):
            self.set_status(400)
            self.write({"error": "invalid_grant"})
            return
        access_token = secrets.token_urlsafe(24)
        self.idp.access_tokens[access_token] = grant.name
        self.write(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ID_TOKEN_LIFETIME_SECONDS,
                "id_token": self.idp.id_token(grant),
            }
        )


def provider_routes(prefix: str, idp: IdentityProvider) -> list[tuple[str, type, dict[str, Any]]]:
    """The provider's handlers, mounted under ``prefix`` (e.g. ``/idp``)."""
    kwargs = {"idp": idp}
    return [
        (prefix + "/.well-known/openid-configuration", Discovery, kwargs),
        (prefix + "/jwks", Keys, kwargs),
        (prefix + "/authorize", Authorize, kwargs),
        (prefix + "/token", Token, kwargs),
    ]
