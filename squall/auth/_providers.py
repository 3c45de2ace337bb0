"""The providers Tornado 6 knows: Twitter (OAuth 1.0a), Google and
Facebook (OAuth 2). Every endpoint is a class attribute, so a subclass (or
a test) can point a mixin at another server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from squall.auth._common import deliver, json_object, provider_fetch
from squall.auth._errors import AuthError
from squall.auth._oauth1 import OAuthMixin
from squall.auth._oauth2 import OAuth2Mixin, token_answer
from squall.auth._oidc import OpenIDConnectMixin
from squall.auth._signed_api import api_fetch
from squall.httpclient import HTTPClientError

__all__ = ["FacebookGraphMixin", "GoogleOAuth2Mixin", "TwitterMixin"]


class TwitterMixin(OAuthMixin):
    """Sign-in with Twitter (OAuth 1.0a) and its REST API.

    Needs the ``twitter_consumer_key`` and ``twitter_consumer_secret``
    settings. ``authenticate_redirect`` skips the approval page for visitors
    who approved the application before; ``authorize_redirect`` always asks.
    """

    _OAUTH_REQUEST_TOKEN_URL = "https://api.twitter.com/oauth/request_token"
    _OAUTH_ACCESS_TOKEN_URL = "https://api.twitter.com/oauth/access_token"
    _OAUTH_AUTHORIZE_URL = "https://api.twitter.com/oauth/authorize"
    _OAUTH_AUTHENTICATE_URL = "https://api.twitter.com/oauth/authenticate"
    _OAUTH_NO_CALLBACKS = False
    _TWITTER_BASE_URL = "https://api.twitter.com/1.1"

    def authenticate_redirect(self, callback_uri: str | None = None) -> asyncio.Future[None]:
        """Like ``authorize_redirect``, through Twitter's sign-in page."""
        from squall.auth._common import start_redirect

        return start_redirect(
            self._redirect_with_request_token(
                self._OAUTH_AUTHENTICATE_URL, callback_uri, None, None
            )
        )

    def twitter_request(
        self,
        path: str,
        access_token: dict[str, Any] | None = None,
        post_args: dict[str, Any] | None = None,
        *,
        callback: Callable[[Any], Any] | None = None,
        **args: Any,
    ) -> asyncio.Future[Any] | None:
        """Call the API: ``path`` like ``"/statuses/update"`` (``.json`` is
        added) or a full URL; GET with ``args``, POST with ``post_args``;
        signed with ``access_token``. The decoded JSON answer."""
        if callable(access_token):  # 1.x: twitter_request(path, callback, ...)
            callback, access_token = access_token, args.pop("access_token", None)
        if path.startswith(("http:", "https:")):
            url = path
        else:
            url = self._TWITTER_BASE_URL + path + ".json"
        query = dict(args)
        if access_token:
            method = "POST" if post_args is not None else "GET"
            signed = {**query, **(post_args or {})}
            query.update(self._oauth_request_parameters(url, access_token, signed, method=method))
        return deliver(api_fetch(self.get_auth_http_client(), url, query, post_args), callback)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        self.require_setting("twitter_consumer_key", "Twitter OAuth")
        self.require_setting("twitter_consumer_secret", "Twitter OAuth")
        return {
            "key": self.settings["twitter_consumer_key"],
            "secret": self.settings["twitter_consumer_secret"],
        }

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        try:
            user = await self.twitter_request(  # type: ignore[misc]
                "/account/verify_credentials", access_token=access_token
            )
        except HTTPClientError as e:
            raise AuthError(f"Fetching the Twitter user failed: {e.code}") from e
        if not isinstance(user, dict) or "screen_name" not in user:
            raise AuthError("Twitter's user answer has no screen_name")
        user["username"] = user["screen_name"]
        return user


class GoogleOAuth2Mixin(OpenIDConnectMixin):
    """Sign-in with Google (OAuth 2 and OpenID Connect).

    Needs the ``google_oauth`` setting: ``{"key": client_id, "secret":
    client_secret}``. ``get_authenticated_user`` returns Google's token
    answer, as Tornado's does; with ``"verify_id_token": True`` in that
    setting (and the ``squall[auth]`` extra) it also checks the ID token and
    adds its claims as ``id_token_claims``.
    """

    _OAUTH_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    _OAUTH_ACCESS_TOKEN_URL = "https://www.googleapis.com/oauth2/v4/token"
    _OAUTH_USERINFO_URL = "https://www.googleapis.com/oauth2/v1/userinfo"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_SETTINGS_KEY = "google_oauth"
    _OIDC_ISSUER = "https://accounts.google.com"
    _OIDC_SETTINGS_KEY = "google_oauth"

    def get_google_oauth_settings(self) -> dict[str, str]:
        """The ``google_oauth`` application setting."""
        return self.settings[self._OAUTH_SETTINGS_KEY]  # type: ignore[no-any-return]

    def get_authenticated_user(  # type: ignore[override]
        self,
        redirect_uri: str,
        code: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """Exchange ``code`` for Google's token answer (``access_token``,
        ``id_token``...), after checking ``state``."""
        return deliver(self._google_tokens(redirect_uri, code, client_id, client_secret), callback)

    async def _google_tokens(
        self, redirect_uri: str, code: str, client_id: str | None, client_secret: str | None
    ) -> dict[str, Any]:
        saved = self.check_oauth2_state()
        settings = self.settings.get(self._OAUTH_SETTINGS_KEY) or {}
        cid = client_id if client_id is not None else settings.get("key")
        secret = client_secret if client_secret is not None else settings.get("secret")
        tokens = await self._exchange_code(redirect_uri, code, cid, secret, saved)
        if settings.get("verify_id_token"):
            tokens["id_token_claims"] = await self.oidc_verify_id_token(
                tokens, str(cid), saved.get("nonce")
            )
        return tokens


class FacebookGraphMixin(OAuth2Mixin):
    """Sign-in with Facebook (OAuth 2) and its Graph API."""

    _OAUTH_ACCESS_TOKEN_URL = "https://graph.facebook.com/oauth/access_token?"
    _OAUTH_AUTHORIZE_URL = "https://www.facebook.com/dialog/oauth?"
    _OAUTH_NO_CALLBACKS = False
    _FACEBOOK_BASE_URL = "https://graph.facebook.com"

    def get_authenticated_user(
        self,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        code: str,
        extra_fields: dict[str, Any] | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any] | None] | None:
        """The visitor's Graph API profile (``id``, ``name``, ``first_name``,
        ``last_name``, ``locale``, ``picture``, ``link`` and ``extra_fields``)
        with ``access_token`` and ``session_expires``."""
        flow = self._facebook_user(redirect_uri, client_id, client_secret, code, extra_fields)
        return deliver(flow, callback)

    async def _facebook_user(
        self,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        code: str,
        extra_fields: Any,
    ) -> dict[str, Any] | None:
        saved = self.check_oauth2_state()
        extra = {"code_verifier": saved["code_verifier"]} if "code_verifier" in saved else None
        url = self._oauth_request_token_url(redirect_uri, client_id, client_secret, code, extra)
        response = await provider_fetch(
            self.get_auth_http_client(), url, "Exchanging the Facebook code"
        )
        session = token_answer(json_object(response, "Exchanging the Facebook code"))
        access_token = session["access_token"]
        fields = {"id", "name", "first_name", "last_name", "locale", "picture", "link"}
        if extra_fields:
            fields.update(extra_fields)
        # Graph API "appsecret_proof": HMAC-SHA256 of the token, keyed with
        # the app secret, so a stolen token is useless without the secret.
        proof = hmac.new(
            client_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        try:
            user = await self.facebook_request(  # type: ignore[misc]
                "/me", access_token=access_token, appsecret_proof=proof, fields=",".join(fields)
            )
        except HTTPClientError as e:
            raise AuthError(f"Fetching the Facebook user failed: {e.code}") from e
        if user is None:
            return None
        if not isinstance(user, dict):
            raise AuthError("Facebook's user answer is not an object")
        fieldmap = {name: user.get(name) for name in fields}
        fieldmap["access_token"] = access_token
        fieldmap["session_expires"] = str(session.get("expires_in"))
        return fieldmap

    def facebook_request(
        self,
        path: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        *,
        callback: Callable[[Any], Any] | None = None,
        **args: Any,
    ) -> asyncio.Future[Any] | None:
        """Call the Graph API: ``path`` like ``"/me/feed"``; GET with
        ``args`` or POST ``post_args``. The decoded JSON answer."""
        url = self._FACEBOOK_BASE_URL + path
        return self.oauth2_request(url, access_token, post_args, callback=callback, **args)
