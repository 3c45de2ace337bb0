"""The Tornado 1.x mixins the seeds use, which Tornado 6 removed:
``GoogleMixin`` (OpenID + OAuth hybrid), ``FacebookMixin`` (Facebook
Connect and the old REST API) and ``FriendFeedMixin`` (OAuth 1.0).

They keep their 1.x calling style (``callback`` first, ``None`` to the
callback on failure) and also return awaitables. Their endpoints are class
attributes like every other mixin's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from squall.auth._common import HandlerBase, absolute_url, deliver, provider_fetch
from squall.auth._errors import AuthError
from squall.auth._oauth1 import OAuthMixin, parse_token_response
from squall.auth._openid import OAUTH_EXT_NS, OpenIdMixin
from squall.auth._signed_api import api_fetch
from squall.httpclient import AsyncHTTPClient, HTTPClientError
from squall.httputil import url_concat

__all__ = ["FacebookMixin", "FriendFeedMixin", "GoogleMixin"]


class GoogleMixin(OpenIdMixin, OAuthMixin):
    """Google sign-in through OpenID 2.0, optionally authorizing API access
    in the same step (the OpenID+OAuth hybrid).

    ``authenticate_redirect()`` signs in; ``authorize_redirect(oauth_scope)``
    signs in and asks for OAuth access, which ``get_authenticated_user``
    then exchanges for ``user["access_token"]`` (needs the
    ``google_consumer_key`` and ``google_consumer_secret`` settings).
    """

    _OPENID_ENDPOINT = "https://www.google.com/accounts/o8/ud"
    _OAUTH_ACCESS_TOKEN_URL = "https://www.google.com/accounts/OAuthGetAccessToken"
    # The hybrid's request token is pre-approved: no verifier (OAuth 1.0).
    _OAUTH_VERSION = "1.0"

    def authorize_redirect(  # type: ignore[override]
        self,
        oauth_scope: str,
        callback_uri: str | None = None,
        ax_attrs: Iterable[str] = ("name", "email", "language", "username"),
    ) -> None:
        """Sign in and ask for access to ``oauth_scope`` in one redirect."""
        args = self._openid_args(absolute_url(self, callback_uri), ax_attrs, oauth_scope)
        self.redirect(url_concat(self._OPENID_ENDPOINT, args))

    def get_authenticated_user(  # type: ignore[override]
        self,
        callback: Callable[[Any], Any] | AsyncHTTPClient | None = None,
        http_client: AsyncHTTPClient | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """The verified OpenID user, with ``access_token`` when the visitor
        also granted OAuth access."""
        if callback is not None and not callable(callback):
            callback, http_client = None, callback
        return deliver(self._hybrid_user(http_client), callback)

    async def _hybrid_user(self, http_client: AsyncHTTPClient | None) -> dict[str, Any]:
        user = await self._verified_openid_user(http_client)
        fields = self._signed_fields()
        alias = self._extension_alias(fields, OAUTH_EXT_NS)
        request_key = fields.get(f"openid.{alias}.request_token") if alias else None
        if request_key:
            client = http_client if http_client is not None else self.get_auth_http_client()
            url = self._oauth_access_token_url({"key": request_key, "secret": ""})
            response = await provider_fetch(client, url, "Fetching the Google access token")
            user["access_token"] = parse_token_response(
                response.body, "Fetching the Google access token"
            )
        return user

    def _oauth_consumer_token(self) -> dict[str, Any]:
        self.require_setting("google_consumer_key", "Google OAuth")
        self.require_setting("google_consumer_secret", "Google OAuth")
        return {
            "key": self.settings["google_consumer_key"],
            "secret": self.settings["google_consumer_secret"],
        }


class FriendFeedMixin(OAuthMixin):
    """Sign-in with FriendFeed (OAuth 1.0) and its API.

    Needs the ``friendfeed_consumer_key`` and ``friendfeed_consumer_secret``
    settings; FriendFeed takes no callback URL (it uses the registered one).
    """

    _OAUTH_REQUEST_TOKEN_URL = "https://friendfeed.com/account/oauth/request_token"
    _OAUTH_ACCESS_TOKEN_URL = "https://friendfeed.com/account/oauth/access_token"
    _OAUTH_AUTHORIZE_URL = "https://friendfeed.com/account/oauth/authorize"
    _OAUTH_NO_CALLBACKS = True
    _OAUTH_VERSION = "1.0"
    _FRIENDFEED_API_URL = "http://friendfeed-api.com/v2"

    def friendfeed_request(
        self,
        path: str,
        callback: Callable[[Any], Any] | None = None,
        access_token: dict[str, Any] | None = None,
        post_args: dict[str, Any] | None = None,
        **args: Any,
    ) -> asyncio.Future[Any] | None:
        """Call the API: ``path`` like ``"/entry"``; GET with ``args`` or
        POST ``post_args``, signed with ``access_token``."""
        url = self._FRIENDFEED_API_URL + path
        query = dict(args)
        if access_token:
            method = "POST" if post_args is not None else "GET"
            signed = {**query, **(post_args or {})}
            query.update(self._oauth_request_parameters(url, access_token, signed, method=method))
        return deliver(api_fetch(self.get_auth_http_client(), url, query, post_args), callback)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        self.require_setting("friendfeed_consumer_key", "FriendFeed OAuth")
        self.require_setting("friendfeed_consumer_secret", "FriendFeed OAuth")
        return {
            "key": self.settings["friendfeed_consumer_key"],
            "secret": self.settings["friendfeed_consumer_secret"],
        }

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        if "username" not in access_token:
            raise AuthError("FriendFeed's access token answer names no username")
        try:
            user = await self.friendfeed_request(  # type: ignore[misc]
                "/feedinfo/" + urllib.parse.quote(access_token["username"], safe=""),
                include="id,name,description",
                access_token=access_token,
            )
        except HTTPClientError as e:
            raise AuthError(f"Fetching the FriendFeed user failed: {e.code}") from e
        if not isinstance(user, dict) or "id" not in user:
            raise AuthError("FriendFeed's user answer has no id")
        user["username"] = user["id"]
        return user


def facebook_signature(args: dict[str, Any], secret: str) -> str:
    """The old Facebook API signature: MD5 of the sorted ``name=value``
    pairs, concatenated, followed by the application secret."""
    joined = "".join(f"{k}={args[k]}" for k in sorted(args)) + secret
    return hashlib.md5(joined.encode("utf-8"), usedforsecurity=False).hexdigest()


class FacebookMixin(HandlerBase):
    """Facebook Connect sign-in and the old REST API (Tornado 1.x).

    Needs the ``facebook_api_key`` and ``facebook_secret`` settings. The
    visitor returns with a ``session`` argument; its signature is checked,
    then the REST API confirms the session and describes the user (``uid``,
    ``name``, ``first_name``, ``last_name``, ``locale``, ``pic_square``,
    ``profile_url``, ``username``, ``session_key``, ``session_expires``).
    """

    _FACEBOOK_LOGIN_URL = "http://www.facebook.com/login.php"
    _FACEBOOK_REST_URL = "http://api.facebook.com/restserver.php"
    _FACEBOOK_USER_FIELDS = "uid,first_name,last_name,name,locale,pic_square,profile_url,username"

    def authenticate_redirect(
        self,
        callback_uri: str | None = None,
        cancel_uri: str | None = None,
        extended_permissions: str | list[str] | None = None,
    ) -> None:
        """Send the visitor to Facebook to sign in."""
        self.require_setting("facebook_api_key", "Facebook Connect")
        args = {
            "api_key": self.settings["facebook_api_key"],
            "v": "1.0",
            "fbconnect": "true",
            "display": "page",
            "next": absolute_url(self, callback_uri),
            "return_session": "true",
        }
        if cancel_uri:
            args["cancel_url"] = absolute_url(self, cancel_uri)
        if extended_permissions:
            if not isinstance(extended_permissions, str):
                extended_permissions = ",".join(extended_permissions)
            args["req_perms"] = extended_permissions
        self.redirect(url_concat(self._FACEBOOK_LOGIN_URL, args))

    def authorize_redirect(
        self,
        extended_permissions: str | list[str],
        callback_uri: str | None = None,
        cancel_uri: str | None = None,
    ) -> None:
        """Sign in and ask for ``extended_permissions`` (e.g. ``"publish_stream"``)."""
        self.authenticate_redirect(callback_uri, cancel_uri, extended_permissions)

    def get_authenticated_user(
        self, callback: Callable[[Any], Any] | None = None
    ) -> asyncio.Future[dict[str, Any]] | None:
        """The signed-in user, from the ``session`` Facebook returned."""
        return deliver(self._facebook_user(), callback)

    def _session(self) -> dict[str, Any]:
        self.require_setting("facebook_secret", "Facebook Connect")
        try:
            session = json.loads(self.get_argument("session"))
        except ValueError as e:
            raise AuthError("The Facebook session is not JSON") from e
        if not isinstance(session, dict) or "session_key" not in session or "uid" not in session:
            raise AuthError("The Facebook session lacks session_key or uid")
        signed = {k: v for k, v in session.items() if k != "sig"}
        expected = facebook_signature(signed, self.settings["facebook_secret"])
        if not hmac.compare_digest(str(session.get("sig", "")), expected):
            raise AuthError("The Facebook session signature is invalid")
        return session

    async def _facebook_user(self) -> dict[str, Any]:
        session = self._session()
        try:
            users = await self.facebook_request(  # type: ignore[misc]
                "facebook.users.getInfo",
                session_key=session["session_key"],
                uids=session["uid"],
                fields=self._FACEBOOK_USER_FIELDS,
            )
        except HTTPClientError as e:
            raise AuthError(f"Facebook's REST API answered {e.code}") from e
        if not isinstance(users, list) or not users or not isinstance(users[0], dict):
            raise AuthError("Facebook's REST API returned no user")
        user = users[0]
        return {
            "name": user.get("name"),
            "first_name": user.get("first_name"),
            "last_name": user.get("last_name"),
            "uid": str(user.get("uid", session["uid"])),
            "locale": user.get("locale"),
            "pic_square": user.get("pic_square"),
            "profile_url": user.get("profile_url"),
            "username": user.get("username"),
            "session_key": session["session_key"],
            "session_expires": session.get("expires"),
        }

    def facebook_request(
        self, method: str, callback: Callable[[Any], Any] | None = None, **args: Any
    ) -> asyncio.Future[Any] | None:
        """Call a REST API method (``"stream.publish"``; ``facebook.`` is
        added); the decoded JSON answer. An error answer (an object with
        ``error_code``) is an ``AuthError``."""
        self.require_setting("facebook_api_key", "Facebook Connect")
        self.require_setting("facebook_secret", "Facebook Connect")
        if not method.startswith("facebook."):
            method = "facebook." + method
        query = {k: str(v) for k, v in args.items()}
        query.update(
            api_key=self.settings["facebook_api_key"],
            v="1.0",
            method=method,
            call_id=str(int(time.time() * 1e6)),
            format="json",
        )
        query["sig"] = facebook_signature(query, self.settings["facebook_secret"])
        return deliver(self._rest_call(query), callback)

    async def _rest_call(self, query: dict[str, str]) -> Any:
        client = self.get_auth_http_client()
        answer = await api_fetch(client, self._FACEBOOK_REST_URL, query, None)
        if isinstance(answer, dict) and answer.get("error_code"):
            raise AuthError(f"Facebook error {answer.get('error_code')}: {answer.get('error_msg')}")
        return answer
