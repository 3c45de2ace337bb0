"""An OAuth 2 / OpenID Connect provider built on oauthlib's server
(``oauthlib.openid.Server``: authorization code grant, PKCE, ID tokens),
signing ID tokens with a real 2048-bit RSA key through joserfc.

Paths: ``/authorize`` (the visitor is signed in as alice and approves at
once), ``/token``, ``/userinfo``, ``/jwks``, the discovery document, and a
Facebook-shaped pair: ``/fb/access_token`` (a GET) and ``/graph/me``.
Attributes let a test make it misbehave.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import wsgiref.util
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from oauthlib.openid import RequestValidator, Server

CLIENT_ID = "squall-client"
CLIENT_SECRET = "squall-client-secret"
USER = {
    "sub": "alice-0001",
    "email": "alice@example.org",
    "name": "Alice Liddell",
    "first_name": "Alice",
    "last_name": "Liddell",
    "locale": "en_GB",
}


class _Client:
    client_id = CLIENT_ID


class Validator(RequestValidator):
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id == CLIENT_ID

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return redirect_uri.startswith("http://127.0.0.1:")

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        return None

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return ["email"]

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code"

    def is_pkce_required(self, client_id, request):
        return self.provider.require_pkce

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.codes[code["code"]] = {
            "redirect_uri": request.redirect_uri,
            "scopes": request.scopes,
            "nonce": request.nonce,
            "challenge": request.code_challenge,
            "method": request.code_challenge_method,
        }

    def get_code_challenge(self, code, request):
        return self.codes.get(code, {}).get("challenge")

    def get_code_challenge_method(self, code, request):
        return self.codes.get(code, {}).get("method")

    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        if request.client_id == CLIENT_ID and request.client_secret == CLIENT_SECRET:
            request.client = _Client()
            return True
        return False

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        return False

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        saved = self.codes.get(code)
        if saved is None:
            return False
        request.user = USER["sub"]
        request.scopes = saved["scopes"]
        request.claims = {}
        return True

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *a, **k):
        return self.codes.get(code, {}).get("redirect_uri") == redirect_uri

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type == "authorization_code"

    def save_bearer_token(self, token, request, *args, **kwargs):
        self.tokens[token["access_token"]] = {"scopes": request.scopes}

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.codes.pop(code, None)

    def validate_bearer_token(self, token, scopes, request):
        if token not in self.tokens:
            return False
        request.user = USER["sub"]
        request.scopes = self.tokens[token]["scopes"]
        return True

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        return self.codes.get(code, {}).get("scopes", [])

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        return self.codes.get(code, {}).get("nonce")

    def finalize_id_token(self, id_token, token, token_handler, request):
        return self.provider.sign_id_token(id_token)

    def validate_silent_authorization(self, request):
        return True

    def validate_silent_login(self, request):
        return True

    def validate_user_match(self, id_token_hint, scopes, claims, request):
        return True

    def get_userinfo_claims(self, request):
        return dict(USER)


class Provider:
    def __init__(self) -> None:
        self.validator = Validator(self)
        self.server = Server(self.validator)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        self.base = ""  # set once the port is known
        self.require_pkce = True
        # Misbehaviour for tests:
        self.claim_overrides: dict[str, Any] = {}
        self.signing_key: Any = None  # another key to sign with
        self.signing_alg = "RS256"
        self.fail_path: str | None = None
        self.fail_status = 500
        self.garbage_path: str | None = None
        self.token_requests: list[dict[str, str]] = []
        self.graph_calls: list[dict[str, str]] = []

    def sign_id_token(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        full = {
            **claims,
            "iss": self.base,
            "sub": USER["sub"],
            "email": USER["email"],
            "name": USER["name"],
            "iat": now,
            "exp": now + 600,
        }
        full.update(self.claim_overrides)
        if self.signing_alg == "none":

            def b64(value: dict[str, Any]) -> str:
                raw = json.dumps(value).encode()
                return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

            return b64({"alg": "none"}) + "." + b64(full) + "."
        key = self.signing_key or self.key
        header = {"alg": self.signing_alg}
        if not isinstance(key, OctKey):
            header["kid"] = key.kid
        return jwt.encode(header, full, key)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.base,
            "authorization_endpoint": self.base + "/authorize",
            "token_endpoint": self.base + "/token",
            "userinfo_endpoint": self.base + "/userinfo",
            "jwks_uri": self.base + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        uri = wsgiref.util.request_uri(environ)
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {"Content-Type": environ.get("CONTENT_TYPE", "")}
        path = environ["PATH_INFO"]

        def answer(status: int, payload: Any, extra: dict[str, str] | None = None):
            if not isinstance(payload, (str, bytes)):
                payload = json.dumps(payload)
                extra = {"Content-Type": "application/json", **(extra or {})}
            start_response(f"{status} X", list((extra or {}).items()))
            return [payload.encode() if isinstance(payload, str) else payload]

        if path == self.fail_path:
            return answer(self.fail_status, "provider trouble")
        if path == self.garbage_path:
            return answer(200, b"<html>surprise</html>", {"Content-Type": "text/html"})
        if path == "/.well-known/openid-configuration":
            return answer(200, self.discovery())
        if path == "/jwks":
            return answer(200, KeySet([self.key]).as_dict(private=False))
        if path == "/authorize":
            scopes, credentials = self.server.validate_authorization_request(
                uri, method, body, headers
            )
            h, b, s = self.server.create_authorization_response(
                uri, method, body, headers, scopes, credentials
            )
            return answer(s, b or "", h)
        if path == "/token":
            self.token_requests.append(dict(urllib.parse.parse_qsl(body)))
            h, b, s = self.server.create_token_response(uri, method, body, headers)
            return answer(s, b or "", h)
        if path == "/fb/access_token":
            # Facebook takes the exchange as a GET with the query string.
            query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
            self.token_requests.append(query)
            form = urllib.parse.urlencode({**query, "grant_type": "authorization_code"})
            h, b, s = self.server.create_token_response(
                self.base + "/token",
                "POST",
                form,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            return answer(s, b or "", h)
        valid, request = self.server.verify_request(uri, method, body, headers, scopes=[])
        if not valid:
            return answer(401, {"error": "invalid_token"})
        if path == "/userinfo":
            return answer(200, dict(USER))
        if path == "/graph/me":
            fields = request.fields.split(",") if getattr(request, "fields", None) else []
            me = {"id": "1001", **{k: v for k, v in USER.items() if k != "sub"}}
            me["link"] = "https://facebook.example/alice"
            self.graph_calls.append(dict(urllib.parse.parse_qsl(environ["QUERY_STRING"])))
            return answer(200, {k: v for k, v in me.items() if k in fields})
        return answer(404, {"error": "not found"})
