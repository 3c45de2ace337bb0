"""Small local providers speaking the protocols of Tornado 1.x's days,
which no maintained library serves any more:

- Facebook Connect: ``/login.php`` hands back a signed ``session``; the
  REST API ``/restserver.php`` checks each call's MD5 signature and the
  session key.
- FriendFeed: OAuth 1.0 (no verifier, the registered callback), with
  oauthlib checking every signature, and the v2 API's ``/feedinfo``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.parse
import wsgiref.util
from typing import Any

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

FB_API_KEY = "fb-api-key"
FB_SECRET = "fb-app-secret"
FF_CONSUMER_KEY = "friendfeedconsumerkey01"
FF_CONSUMER_SECRET = "friendfeed-secret"


def fb_sig(args: dict[str, Any], secret: str) -> str:
    joined = "".join(f"{k}={args[k]}" for k in sorted(args)) + secret
    return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()


def _answer(start_response: Any, status: int, payload: Any, headers: dict[str, str] | None = None):
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload)
    start_response(f"{status} X", list((headers or {}).items()))
    return [payload.encode() if isinstance(payload, str) else payload]


class FacebookConnect:
    def __init__(self) -> None:
        self.sessions: dict[str, str] = {}  # session_key -> uid
        self.logins: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.fail_with: int | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        path = environ["PATH_INFO"]
        if path == "/login.php":
            self.logins.append(query)
            if query.get("api_key") != FB_API_KEY:
                return _answer(start_response, 400, "unknown application")
            key = secrets.token_hex(12)
            self.sessions[key] = "1001"
            session = {"session_key": key, "uid": "1001", "expires": 0, "secret": "s3"}
            session["sig"] = fb_sig(session, FB_SECRET)
            back = query["next"]
            back += ("&" if "?" in back else "?") + urllib.parse.urlencode(
                {"session": json.dumps(session)}
            )
            return _answer(start_response, 302, "", {"Location": back})
        if path != "/restserver.php":
            return _answer(start_response, 404, "no")
        self.calls.append(query)
        if self.fail_with:
            return _answer(start_response, self.fail_with, "down")
        sig = query.pop("sig", "")
        if query.get("api_key") != FB_API_KEY or sig != fb_sig(query, FB_SECRET):
            return _answer(
                start_response, 200, {"error_code": 104, "error_msg": "Incorrect signature"}
            )
        uid = self.sessions.get(query.get("session_key", ""))
        if uid is None:
            return _answer(
                start_response, 200, {"error_code": 102, "error_msg": "Session key invalid"}
            )
        if query["method"] == "facebook.users.getInfo":
            user = {
                "uid": int(uid),
                "first_name": "Alice",
                "last_name": "Liddell",
                "name": "Alice Liddell",
                "locale": "en_GB",
                "pic_square": "http://pics.example/alice.jpg",
                "profile_url": "http://facebook.example/alice",
                "username": "alice",
            }
            wanted = query.get("fields", "").split(",")
            return _answer(start_response, 200, [{k: v for k, v in user.items() if k in wanted}])
        if query["method"] == "facebook.stream.publish":
            return _answer(start_response, 200, json.dumps(f"{uid}_1"))
        return _answer(start_response, 200, {"error_code": 3, "error_msg": "Unknown method"})


class _FriendFeedValidator(RequestValidator):
    enforce_ssl = False

    def __init__(self, provider: FriendFeed) -> None:
        super().__init__()
        self.provider = provider

    @property
    def dummy_client(self) -> str:
        return "dummydummydummydummydummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == FF_CONSUMER_KEY

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return FF_CONSUMER_SECRET

    def validate_timestamp_and_nonce(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.provider.secrets.get(token, "unknown")


class FriendFeed:
    def __init__(self) -> None:
        self.check = SignatureOnlyEndpoint(_FriendFeedValidator(self))
        self.secrets: dict[str, str] = {}
        self.request_tokens: set[str] = set()
        self.authorized: set[str] = set()
        self.access_tokens: set[str] = set()
        self.registered_callback = ""

    def _new_token(self) -> tuple[str, str]:
        key, secret = secrets.token_hex(12), secrets.token_hex(10)
        self.secrets[key] = secret
        return key, secret

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        if path == "/account/oauth/authorize":
            # The visitor approves; FriendFeed sends them to the registered URL.
            token = query.get("oauth_token", "")
            if token not in self.request_tokens or "oauth_callback" in query:
                return _answer(start_response, 400, "bad authorization request")
            self.authorized.add(token)
            back = f"{self.registered_callback}?oauth_token={token}"
            return _answer(start_response, 302, "", {"Location": back})
        uri = wsgiref.util.request_uri(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {"Content-Type": environ.get("CONTENT_TYPE", "")}
        valid, request = self.check.validate_request(uri, environ["REQUEST_METHOD"], body, headers)
        if not valid:
            return _answer(start_response, 401, "oauth_problem=signature_invalid")
        token = request.resource_owner_key
        if path == "/account/oauth/request_token":
            if token is not None or "oauth_callback" in query:
                return _answer(start_response, 400, "oauth_problem=parameter_rejected")
            key, secret = self._new_token()
            self.request_tokens.add(key)
            answer = {"oauth_token": key, "oauth_token_secret": secret}
            return _answer(start_response, 200, urllib.parse.urlencode(answer))
        if path == "/account/oauth/access_token":
            if token not in self.authorized:
                return _answer(start_response, 401, "oauth_problem=token_rejected")
            self.authorized.discard(token)
            self.request_tokens.discard(token)
            key, secret = self._new_token()
            self.access_tokens.add(key)
            answer = {"oauth_token": key, "oauth_token_secret": secret, "username": "alice"}
            return _answer(start_response, 200, urllib.parse.urlencode(answer))
        if token not in self.access_tokens:
            return _answer(start_response, 401, {"errorCode": "unauthorized"})
        if path == "/v2/feedinfo/alice":
            feed = {"id": "alice", "name": "Alice Liddell", "description": "Down the hole"}
            if query.get("include") != "id,name,description":
                feed["subscribers"] = []
            return _answer(start_response, 200, feed)
        if path == "/v2/entry":
            form = dict(urllib.parse.parse_qsl(body))
            return _answer(
                start_response, 200, {"id": "e/1", "body": form.get("body"), "date": time.time()}
            )
        return _answer(start_response, 404, {"errorCode": "not-found"})
