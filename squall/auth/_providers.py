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

# The profile fields get_authenticated_user always asks the Graph API for
# (the set Tornado's FacebookGraphMixin documents); extra_fields adds to them.
FACEBOOK_PROFILE_FIELDS = frozenset(
    {"id", "name", "first_name", "last_name", "locale", "picture", "link"}
)

# Every OAuth 1.0a endpoint of Twitter is a name under this path.
_TWITTER_OAUTH_ROOT = "https://api.twitter.com/oauth/"


class TwitterMixin(OAuthMixin):
    """Sign-in with Twitter (OAuth 1.0a) and its REST API.

    Needs the ``twitter_consumer_key`` and ``twitter_consumer_secret``
    settings. ``authenticate_redirect`` skips the approval page for visitors
    who approved the application before; ``authorize_redirect`` always asks.
    """

    # The REST root is versioned; the OAuth 1.0a endpoints sit beside it.
    _TWITTER_BASE_URL = "https://api.twitter.com/1.1"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_AUTHORIZE_URL = _TWITTER_OAUTH_ROOT + "authorize"
    _OAUTH_AUTHENTICATE_URL = _TWITTER_OAUTH_ROOT + "authenticate"
    _OAUTH_REQUEST_TOKEN_URL = _TWITTER_OAUTH_ROOT + "request_token"
    _OAUTH_ACCESS_TOKEN_URL = _TWITTER_OAUTH_ROOT + "access_token"

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
        # Full URLs (the paging links Twitter's answers carry) are used as
        # they are; a path is relative to the versioned API root.
        is_full_url = path.partition(":")[0] in ("http", "https")
        url = path if is_full_url else f"{self._TWITTER_BASE_URL}{path}.json"
        query = self._signed_api_query(url, access_token, args, post_args)
        return deliver(api_fetch(self.get_auth_http_client(), url, query, post_args), callback)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        return self._consumer_token_from_settings(
            "twitter_consumer_key", "twitter_consumer_secret", "Twitter OAuth"
        )

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

    # Both the OAuth 2 settings and the OIDC settings live under one key.
    _OAUTH_SETTINGS_KEY = "google_oauth"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_USERINFO_URL = "https://www.googleapis.com/oauth2/v1/userinfo"
    _OAUTH_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    _OAUTH_ACCESS_TOKEN_URL = "https://www.googleapis.com/oauth2/v4/token"
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


# Shapes of FacebookGraphMixin.get_authenticated_user's optional arguments
# and result (a Future, or None when a callback takes the result instead).
_ExtraFields = dict[str, Any] | None
_ResultCallback = Callable[[Any], Any] | None
_MaybeProfileFuture = asyncio.Future[dict[str, Any] | None] | None


class FacebookGraphMixin(OAuth2Mixin):
    """Sign-in with Facebook (OAuth 2) and its Graph API."""

    # The Graph API root; the token endpoint hangs off it, the consent
    # dialog is on www.  Both keep the trailing "?" callers append to.
    _FACEBOOK_BASE_URL = "https://graph.facebook.com"
    _OAUTH_NO_CALLBACKS = False
    _OAUTH_AUTHORIZE_URL = "https://www.facebook.com/dialog/oauth?"
    _OAUTH_ACCESS_TOKEN_URL = _FACEBOOK_BASE_URL + "/oauth/access_token?"

    def get_authenticated_user(
        self,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
        code: str,
        extra_fields: _ExtraFields = None,
        callback: _ResultCallback = None,
    ) -> _MaybeProfileFuture:
        """The visitor's Graph API profile (``id``, ``name``, ``first_name``,
        ``last_name``, ``locale``, ``picture``, ``link`` and ``extra_fields``)
        with ``access_token`` and ``session_expires``."""
        flow = self._facebook_user(redirect_uri, client_id, client_secret, code, extra_fields)
        return deliver(flow, callback)

    async def _facebook_user(
        self, redirect_uri: str, client_id: str, client_secret: str, code: str, extra_fields: Any
    ) -> dict[str, Any] | None:
        saved = self.check_oauth2_state()
        extra = {"code_verifier": saved["code_verifier"]} if "code_verifier" in saved else None
        url = self._oauth_request_token_url(redirect_uri, client_id, client_secret, code, extra)
        response = await provider_fetch(
            self.get_auth_http_client(), url, "Exchanging the Facebook code"
        )
        session = token_answer(json_object(response, "Exchanging the Facebook code"))
        access_token = session["access_token"]
        wanted = FACEBOOK_PROFILE_FIELDS.union(extra_fields or ())
        # Graph API "appsecret_proof": HMAC-SHA256 of the token, keyed with
        # the app secret, so a stolen token is useless without the secret.
        proof = hmac.new(
            client_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        try:
            user = await self.facebook_request(  # type: ignore[misc]
                "/me", access_token=access_token, appsecret_proof=proof, fields=",".join(wanted)
            )
        except HTTPClientError as e:
            raise AuthError(f"Fetching the Facebook user failed: {e.code}") from e
        if user is None:
            return None
        if not isinstance(user, dict):
            raise AuthError("Facebook's user answer is not an object")
        # Every asked-for field is present (None when Facebook left it out),
        # and the token travels with the profile, as 1.x callers expect.
        profile: dict[str, Any] = dict.fromkeys(wanted)
        profile.update((name, value) for name, value in user.items() if name in wanted)
        return {
            **profile,
            "access_token": access_token,
            "session_expires": str(session.get("expires_in")),
        }

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
