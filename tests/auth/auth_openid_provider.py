"""An OpenID 2.0 provider built on python3-openid's server (signing,
stateless associations, ``check_authentication``), with Attribute Exchange
and, for the Google hybrid, the OAuth extension plus an OAuth 1.0 access
token endpoint whose signatures oauthlib checks."""

from __future__ import annotations

import secrets
import urllib.parse
import warnings
import wsgiref.util
from typing import Any

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

with warnings.catch_warnings():
    # python3-openid imports defusedxml's deprecated cElementTree alias.
    warnings.filterwarnings("ignore", "defusedxml.cElementTree", DeprecationWarning)
    from openid.extensions import ax
    from openid.server.server import CheckIDRequest, Server
    from openid.store.memstore import MemoryStore

OAUTH_EXT_NS = "http://specs.openid.net/extensions/oauth/1.0"
CONSUMER_KEY = "googleconsumerkey000001"
CONSUMER_SECRET = "google-consumer-secret"
ATTRIBUTES = {
    "http://axschema.org/namePerson/first": "Alice",
    "http://axschema.org/namePerson/last": "Liddell",
    "http://axschema.org/namePerson": "Alice Liddell",
    "http://axschema.org/contact/email": "alice@example.org",
    "http://axschema.org/pref/language": "EN-GB",
    "http://axschema.org/namePerson/friendly": "alice",
}


class _ConsumerValidator(RequestValidator):
    enforce_ssl = False

    @property
    def dummy_client(self) -> str:
        return "dummydummydummydummydummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == CONSUMER_KEY

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return CONSUMER_SECRET

    def validate_timestamp_and_nonce(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def check_request_token(self, request_token: str) -> bool:
        return True

    def check_access_token(self, request_token: str) -> bool:
        return True

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        # The hybrid's request token is pre-approved and has no secret.
        return ""


class OpenIdProvider:
    def __init__(self) -> None:
        self.base = ""
        self.server: Server | None = None
        self.request_tokens: set[str] = set()
        self.access_tokens: dict[str, str] = {}
        self.signature_check = SignatureOnlyEndpoint(_ConsumerValidator())
        self.fail_with: int | None = None
        self.garbage = False
        self.checks = 0

    @property
    def endpoint(self) -> str:
        return self.base + "/openid"

    def identity(self, who: str = "alice") -> str:
        return f"{self.base}/id/{who}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if self.server is None:
            self.server = Server(MemoryStore(), op_endpoint=self.endpoint)
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""

        def answer(status: int, payload: str, headers: dict[str, str] | None = None):
            start_response(f"{status} X", list((headers or {}).items()))
            return [payload.encode()]

        if path == "/oauth/access_token":
            uri = wsgiref.util.request_uri(environ)
            valid, request = self.signature_check.validate_request(uri, "GET", body, {})
            token = request.resource_owner_key if valid else None
            if token not in self.request_tokens:
                return answer(401, "oauth_problem=signature_invalid")
            self.request_tokens.discard(token)
            key, secret = secrets.token_hex(8), secrets.token_hex(8)
            self.access_tokens[key] = secret
            return answer(
                200, urllib.parse.urlencode({"oauth_token": key, "oauth_token_secret": secret})
            )
        if path != "/openid":
            return answer(404, "no")
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        query.update(urllib.parse.parse_qsl(body))
        request = self.server.decodeRequest(query)
        if isinstance(request, CheckIDRequest):
            # The visitor is signed in here as alice and approves at once.
            response = request.answer(True, identity=self.identity(), claimed_id=self.identity())
            fetch = ax.FetchRequest.fromOpenIDRequest(request)
            if fetch is not None:
                values = ax.FetchResponse(request=fetch)
                for type_uri in fetch.requested_attributes:
                    if type_uri in ATTRIBUTES:
                        values.addValue(type_uri, ATTRIBUTES[type_uri])
                response.addExtension(values)
            scope = request.message.getArg(OAUTH_EXT_NS, "scope")
            if scope:
                token = secrets.token_hex(10)
                self.request_tokens.add(token)
                response.fields.setArg(OAUTH_EXT_NS, "request_token", token)
                response.fields.setArg(OAUTH_EXT_NS, "scope", scope)
        else:
            self.checks += 1
            if self.fail_with:
                return answer(self.fail_with, "trouble")
            if self.garbage:
                return answer(200, "<html>is_valid? who knows</html>")
            response = self.server.handleRequest(request)
        web = self.server.encodeResponse(response)
        return answer(web.code, web.body or "", dict(web.headers))
