"""An OAuth 1.0a provider built on oauthlib's server endpoints (RFC 5849),
shaped like Twitter: request token, authorize/authenticate (the visitor
approves at once), access token, and ``/1.1/account/verify_credentials.json``
plus ``/1.1/statuses/update.json`` behind signature checks."""

from __future__ import annotations

import json
import urllib.parse
import wsgiref.util
from typing import Any

from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

CLIENT_KEY = "squallclientkey0000000001"
CLIENT_SECRET = "squall-client-secret"
DUMMY = "dummydummydummydummydummy"


class Validator(RequestValidator):
    enforce_ssl = False

    def __init__(self) -> None:
        super().__init__()
        self.request_tokens: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, str] = {}
        self.verifiers: dict[str, str] = {}
        self.nonces: set[tuple[str, str, str]] = set()

    @property
    def dummy_client(self) -> str:
        return DUMMY

    @property
    def dummy_request_token(self) -> str:
        return DUMMY

    @property
    def dummy_access_token(self) -> str:
        return DUMMY

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == CLIENT_KEY

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return CLIENT_SECRET if client_key == CLIENT_KEY else "x"

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ) -> bool:
        key = (client_key, timestamp, nonce)
        if key in self.nonces:
            return False
        self.nonces.add(key)
        return True

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key, realms, request) -> bool:
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request) -> bool:
        return redirect_uri == "oob" or redirect_uri.startswith("http://127.0.0.1:")

    def save_request_token(self, token: dict[str, Any], request: Any) -> None:
        self.request_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "redirect_uri": request.redirect_uri,
        }

    def verify_request_token(self, token: str, request: Any) -> bool:
        return token in self.request_tokens

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def get_redirect_uri(self, token: str, request: Any) -> str:
        return self.request_tokens[token]["redirect_uri"]

    def save_verifier(self, token: str, verifier: dict[str, Any], request: Any) -> None:
        self.verifiers[token] = verifier["oauth_verifier"]

    def validate_request_token(self, client_key, token, request) -> bool:
        return token in self.request_tokens

    def get_request_token_secret(self, client_key, token, request) -> str:
        return self.request_tokens.get(token, {}).get("secret", "x")

    def validate_verifier(self, client_key, token, verifier, request) -> bool:
        return self.verifiers.get(token) == verifier

    def verify_realms(self, token, realms, request) -> bool:
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None) -> bool:
        return True

    def invalidate_request_token(self, client_key, request_token, request) -> None:
        self.request_tokens.pop(request_token, None)
        self.verifiers.pop(request_token, None)

    def save_access_token(self, token: dict[str, Any], request: Any) -> None:
        self.access_tokens[token["oauth_token"]] = token["oauth_token_secret"]

    def validate_access_token(self, client_key, token, request) -> bool:
        return token in self.access_tokens

    def get_access_token_secret(self, client_key, token, request) -> str:
        return self.access_tokens.get(token, "x")


class OAuth1Provider:
    """The WSGI app. ``fail_with`` makes every endpoint answer that status."""

    def __init__(self) -> None:
        self.validator = Validator()
        self.request_token_endpoint = RequestTokenEndpoint(self.validator)
        self.authorization_endpoint = AuthorizationEndpoint(self.validator)
        self.access_token_endpoint = AccessTokenEndpoint(self.validator)
        self.resource_endpoint = ResourceEndpoint(self.validator)
        self.fail_with: int | None = None
        self.garbage = False
        self.posted: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        uri = wsgiref.util.request_uri(environ)
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {"Content-Type": environ.get("CONTENT_TYPE", "")}
        path = environ["PATH_INFO"]

        def answer(status: int, payload: str | bytes, extra: dict[str, str] | None = None):
            reason = {200: "OK", 302: "Found", 401: "Unauthorized", 500: "Server Error"}
            start_response(f"{status} {reason.get(status, 'X')}", list((extra or {}).items()))
            return [payload.encode() if isinstance(payload, str) else payload]

        if self.fail_with:
            return answer(self.fail_with, "broken")
        if self.garbage and path != "/oauth/authorize":
            return answer(200, b"\x00\xffnot a token answer")
        if path == "/oauth/request_token":
            h, b, s = self.request_token_endpoint.create_request_token_response(
                uri, method, body, headers
            )
            return answer(s, b or "", h)
        if path in ("/oauth/authorize", "/oauth/authenticate"):
            # The visitor is signed in at the provider and approves at once.
            h, b, s = self.authorization_endpoint.create_authorization_response(
                uri, method, body, headers, realms=[]
            )
            return answer(s, b or "", h)
        if path == "/oauth/access_token":
            h, b, s = self.access_token_endpoint.create_access_token_response(
                uri, method, body, headers, credentials={"screen_name": "alice", "user_id": "42"}
            )
            return answer(s, b or "", h)
        valid, _request = self.resource_endpoint.validate_protected_resource_request(
            uri, method, body, headers
        )
        if not valid:
            return answer(401, json.dumps({"errors": [{"message": "bad signature"}]}))
        if path == "/1.1/account/verify_credentials.json":
            user = {"id": 42, "screen_name": "alice", "name": "Alice Liddell"}
            return answer(200, json.dumps(user), {"Content-Type": "application/json"})
        if path == "/1.1/statuses/update.json" and method == "POST":
            form = dict(urllib.parse.parse_qsl(body))
            self.posted.append(form)
            status = {"id": len(self.posted), "text": form.get("status")}
            return answer(200, json.dumps(status), {"Content-Type": "application/json"})
        return answer(401, "unknown")
