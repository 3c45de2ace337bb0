"""OAuth 1.0 and 1.0a (RFC 5849): ``OAuthMixin``.

The three steps of section 2: a temporary credential ("request token")
fetched from the provider, the visitor sent to the provider to approve it,
and on their return the request token exchanged for token credentials
("access token"). Between the second and the third step the request token
waits in a cookie; the visitor's return must name the same token.

Like Tornado, a provider that does not confirm the callback
(``oauth_callback_confirmed``, RFC 5849 section 2.1) is still used: it is
taken for an OAuth 1.0 provider, which sends no ``oauth_verifier``. Only a
provider that confirmed the callback (a true 1.0a one) must send the
verifier back; its absence then means a tampered or truncated return.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import urllib.parse
from collections.abc import Callable
from typing import Any

from squall.auth._common import (
    HandlerBase,
    absolute_url,
    deliver,
    provider_fetch,
    start_redirect,
)
from squall.auth._errors import AuthError
from squall.auth._oauth1_sign import signed_parameters
from squall.httpclient import AsyncHTTPClient, HTTPResponse
from squall.httputil import url_concat

__all__ = ["OAuthMixin", "parse_token_response"]

# The cookie that carries the request token to the visitor's return (the
# name and "base64(key)|base64(secret)" format Tornado uses, so a sign-in
# started by one can finish on the other). squall appends "|1" when the
# provider confirmed the callback, which Tornado does not record.
REQUEST_TOKEN_COOKIE = "_oauth_request_token"
CALLBACK_CONFIRMED_MARK = "1"


def parse_token_response(body: bytes, what: str) -> dict[str, Any]:
    """A token answer (section 2.1/2.3, form-encoded) as ``{"key", "secret",
    ...}`` plus the provider's other fields (``screen_name``, ``user_id``)."""
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as e:
        raise AuthError(f"{what}: unreadable token answer") from e
    if "oauth_token" not in fields or "oauth_token_secret" not in fields:
        raise AuthError(f"{what}: the answer has no oauth_token/oauth_token_secret")
    token: dict[str, Any] = {
        "key": fields["oauth_token"][0],
        "secret": fields["oauth_token_secret"][0],
    }
    for name, values in fields.items():
        if name not in ("oauth_token", "oauth_token_secret"):
            token[name] = values[0]
    return token


def _encode_cookie(token: dict[str, Any], confirmed: bool) -> str:
    parts = [base64.b64encode(str(token[k]).encode("utf-8")) for k in ("key", "secret")]
    if confirmed:
        parts.append(CALLBACK_CONFIRMED_MARK.encode("ascii"))
    return b"|".join(parts).decode("ascii")


def _decode_cookie(value: str) -> tuple[dict[str, str], bool]:
    """The request token, and whether the provider confirmed the callback."""
    parts = value.split("|")
    confirmed = len(parts) == 3 and parts[2] == CALLBACK_CONFIRMED_MARK
    if confirmed:
        parts = parts[:2]
    try:
        key, secret = (base64.b64decode(p, validate=True).decode("utf-8") for p in parts)
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise AuthError("The OAuth request token cookie is malformed") from e
    return {"key": key, "secret": secret}, confirmed


class OAuthMixin(HandlerBase):
    """Sign-in and signed requests with an OAuth 1.0/1.0a provider.

    Subclasses set ``_OAUTH_REQUEST_TOKEN_URL``, ``_OAUTH_ACCESS_TOKEN_URL``
    and ``_OAUTH_AUTHORIZE_URL``, and implement ``_oauth_consumer_token``
    (``{"key": ..., "secret": ...}``) and ``_oauth_get_user_future``.
    ``_OAUTH_VERSION`` is ``"1.0a"`` (with ``oauth_verifier``) or ``"1.0"``;
    ``_OAUTH_NO_CALLBACKS`` marks a provider that takes no callback URL.
    """

    _OAUTH_REQUEST_TOKEN_URL: str = ""
    _OAUTH_ACCESS_TOKEN_URL: str = ""
    _OAUTH_AUTHORIZE_URL: str = ""
    _OAUTH_VERSION: str = "1.0a"
    _OAUTH_NO_CALLBACKS: bool = False

    # -- step 1 and 2: request token, then the provider's approval page -------------

    def authorize_redirect(
        self,
        callback_uri: str | None = None,
        extra_params: dict[str, Any] | None = None,
        http_client: AsyncHTTPClient | None = None,
    ) -> asyncio.Future[None]:
        """Fetch a request token, then redirect the visitor to approve it.

        ``callback_uri`` is where the provider sends them back (default: this
        request's path), ``"oob"`` for none. Await the result (Tornado 6);
        1.x code that just returns from an ``@asynchronous`` method works
        too, its failures reaching the handler's error page.
        """
        if callback_uri and self._OAUTH_NO_CALLBACKS:
            raise Exception("This service does not support oauth_callback")
        return start_redirect(
            self._redirect_with_request_token(
                self._OAUTH_AUTHORIZE_URL, callback_uri, extra_params, http_client
            )
        )

    async def _redirect_with_request_token(
        self,
        authorize_url: str,
        callback_uri: str | None,
        extra_params: dict[str, Any] | None,
        http_client: AsyncHTTPClient | None,
    ) -> None:
        client = http_client if http_client is not None else self.get_auth_http_client()
        url = self._oauth_request_token_url(callback_uri=callback_uri, extra_params=extra_params)
        response = await provider_fetch(client, url, "Fetching the OAuth request token")
        self._on_request_token(authorize_url, callback_uri, response)

    def _callback_parameter(self, callback_uri: str | None) -> str:
        # RFC 5849 section 2.1: oauth_callback is required; "oob" declines.
        if callback_uri == "oob":
            return "oob"
        if callback_uri is None:
            callback_uri = self.request.path
        return absolute_url(self, callback_uri)

    def _oauth_request_token_url(
        self, callback_uri: str | None = None, extra_params: dict[str, Any] | None = None
    ) -> str:
        """The signed URL of the request-token request (section 2.1)."""
        url = self._OAUTH_REQUEST_TOKEN_URL
        protocol: dict[str, str] = {}
        if self._OAUTH_VERSION == "1.0a" and not self._OAUTH_NO_CALLBACKS:
            protocol["oauth_callback"] = self._callback_parameter(callback_uri)
        own = {k: str(v) for k, v in (extra_params or {}).items()}
        oauth = signed_parameters(
            "GET", url, self._oauth_consumer_token(), None, own, protocol=protocol
        )
        return url_concat(url, {**own, **oauth})

    def _on_request_token(
        self, authorize_url: str, callback_uri: str | None, response: HTTPResponse
    ) -> None:
        """Keep the request token in a cookie and send the visitor to approve it."""
        if response.error:
            raise AuthError(f"Could not get request token: {response.error}")
        token = parse_token_response(response.body, "Fetching the OAuth request token")
        # Section 2.1: a 1.0a provider confirms it recorded the callback. One
        # that does not is an OAuth 1.0 provider (Tornado accepts both).
        confirmed = token.get("oauth_callback_confirmed") == "true"
        self.set_cookie(REQUEST_TOKEN_COOKIE, _encode_cookie(token, confirmed), httponly=True)
        args = {"oauth_token": token["key"]}
        if callback_uri == "oob":
            self.redirect(url_concat(authorize_url, args))
            return
        if self._OAUTH_VERSION == "1.0" and callback_uri is not None:
            # OAuth Core 1.0 sent the callback with the authorization step.
            args["oauth_callback"] = absolute_url(self, callback_uri)
        self.redirect(url_concat(authorize_url, args))

    # -- step 3: the visitor is back ----------------------------------------------

    def get_authenticated_user(
        self,
        http_client: AsyncHTTPClient | Callable[[Any], Any] | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """The visitor's user record, with ``access_token`` added.

        Checks that the returning ``oauth_token`` is the one in the request
        token cookie, then exchanges it for an access token. Raises
        ``AuthError`` on any failure; with ``callback`` (also accepted as the
        first argument, the 1.x way) the callback gets ``None`` instead.
        """
        if callable(http_client):
            callback, http_client = http_client, None
        return deliver(self._authenticated_user(http_client), callback)

    async def _authenticated_user(self, http_client: AsyncHTTPClient | None) -> dict[str, Any]:
        client = http_client if http_client is not None else self.get_auth_http_client()
        request_key = self.get_argument("oauth_token", None)
        cookie = self.get_cookie(REQUEST_TOKEN_COOKIE)
        if not cookie:
            raise AuthError("Missing OAuth request token cookie")
        self.clear_cookie(REQUEST_TOKEN_COOKIE)
        token, confirmed = _decode_cookie(cookie)
        if request_key is None or not hmac.compare_digest(
            token["key"].encode("utf-8"), request_key.encode("utf-8")
        ):
            raise AuthError("Request token does not match cookie")
        request_token: dict[str, Any] = dict(token)
        verifier = self.get_argument("oauth_verifier", None)
        if verifier:
            request_token["verifier"] = verifier
        elif confirmed and self._OAUTH_VERSION == "1.0a":
            # Section 2.2: a provider that confirmed the callback sends the
            # verifier with the visitor; a return without it was cut short.
            raise AuthError("The provider sent no oauth_verifier")
        response = await provider_fetch(
            client, self._oauth_access_token_url(request_token), "Fetching the OAuth access token"
        )
        access_token = parse_token_response(response.body, "Fetching the OAuth access token")
        return await self._account_with_token(access_token)

    async def _account_with_token(self, access_token: dict[str, Any]) -> dict[str, Any]:
        """The subclass's account record, carrying the token that fetched it
        (an empty record means the provider gave us nobody)."""
        account = await self._oauth_get_user_future(access_token)
        if account:
            account.update(access_token=access_token)
            return account
        raise AuthError("Error getting user")

    def _oauth_access_token_url(self, request_token: dict[str, Any]) -> str:
        """The signed URL of the access-token request (section 2.3)."""
        url = self._OAUTH_ACCESS_TOKEN_URL
        protocol = {}
        if "verifier" in request_token:
            protocol["oauth_verifier"] = str(request_token["verifier"])
        oauth = signed_parameters(
            "GET", url, self._oauth_consumer_token(), request_token, protocol=protocol
        )
        return url_concat(url, oauth)

    def _oauth_consumer_token(self) -> dict[str, Any]:
        """The application's client credentials: ``{"key", "secret"}``."""
        raise NotImplementedError()

    async def _oauth_get_user_future(self, access_token: dict[str, Any]) -> dict[str, Any]:
        """The user record for ``access_token``; subclasses define it.

        A subclass written for 1.x may define ``_oauth_get_user(access_token,
        callback)`` instead; it is used when present.
        """
        legacy = getattr(self, "_oauth_get_user", None)
        if legacy is None:
            raise NotImplementedError()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def resolve(user: Any) -> None:
            if not future.done():
                future.set_result(user)

        legacy(access_token, resolve)
        return await future

    # -- signed requests (section 3) --------------------------------------------

    def _oauth_request_parameters(
        self,
        url: str,
        access_token: dict[str, Any],
        parameters: dict[str, Any] = {},  # noqa: B006 - Tornado's signature; never mutated
        method: str = "GET",
    ) -> dict[str, Any]:
        """The ``oauth_*`` parameters that sign a request for ``access_token``.

        ``parameters`` are the request's own query or form parameters (sent
        by the caller; they are part of the signature).
        """
        own = {k: str(v) for k, v in parameters.items()}
        return signed_parameters(method, url, self._oauth_consumer_token(), access_token, own)

    # -- helpers for the provider mixins -------------------------------------------

    def _consumer_token_from_settings(
        self, key_setting: str, secret_setting: str, service: str
    ) -> dict[str, Any]:
        """Client credentials kept in two application settings; a missing
        one is reported naming ``service``."""
        for setting in (key_setting, secret_setting):
            self.require_setting(setting, service)
        return {"key": self.settings[key_setting], "secret": self.settings[secret_setting]}

    def _signed_api_query(
        self,
        url: str,
        access_token: dict[str, Any] | None,
        query: dict[str, Any],
        post_args: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """``query``, plus the ``oauth_*`` fields that sign the call when
        there is a token. Section 3.4.1.3.1: the signature covers the query
        and the form body alike, so both go into it."""
        if not access_token:
            return dict(query)
        covered = dict(query)
        covered.update(post_args or {})
        verb = "GET" if post_args is None else "POST"
        oauth = self._oauth_request_parameters(url, access_token, covered, method=verb)
        return {**query, **oauth}
