"""OAuth 2.0 (RFC 6749), authorization code grant: ``OAuth2Mixin``.

Beyond Tornado, by default: ``authorize_redirect`` sends a random ``state``
and a PKCE S256 challenge (RFC 7636), plus a ``nonce`` when the scope asks
for ``openid``; the values wait in a signed cookie, and the token exchange
checks the returned ``state`` and sends the PKCE verifier. Set
``_OAUTH_STATE_COOKIE = None`` on a handler to turn all three off.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from squall.auth._common import HandlerBase, deliver, json_object, provider_fetch
from squall.auth._errors import AuthError
from squall.auth._oauth2_state import (
    code_challenge,
    new_code_verifier,
    read_state_cookie,
    write_state_cookie,
)
from squall.auth._signed_api import api_fetch
from squall.httpclient import HTTPRequest
from squall.httputil import url_concat

__all__ = ["OAuth2Mixin"]

# Shapes of the redirect and token-URL arguments: optional text, extra
# query parameters, and the list of scopes asked for.
_OptionalText = str | None
_QueryExtras = dict[str, Any] | None
_Scopes = list[str] | None


class OAuth2Mixin(HandlerBase):
    """Sign-in with an OAuth 2 provider.

    Subclasses set ``_OAUTH_AUTHORIZE_URL`` and ``_OAUTH_ACCESS_TOKEN_URL``.
    """

    # Where state, PKCE verifier and nonce wait for the visitor's return;
    # None: none of the three (Tornado's behaviour).
    _OAUTH_STATE_COOKIE: str | None = "_oauth2_state"
    _OAUTH_PKCE: bool = True
    # The two provider endpoints; every concrete provider overrides both.
    _OAUTH_ACCESS_TOKEN_URL: str = ""
    _OAUTH_AUTHORIZE_URL: str = ""

    def authorize_redirect(
        self,
        redirect_uri: _OptionalText = None,
        client_id: _OptionalText = None,
        client_secret: _OptionalText = None,
        extra_params: _QueryExtras = None,
        scope: _Scopes = None,
        response_type: str = "code",
    ) -> None:
        """Redirect to the provider's consent page, RFC 6749 section 4.1.1.

        ``client_secret`` is taken so old call sites keep working; a
        confidential client's secret never travels through the browser, so
        it is ignored here.
        """
        del client_secret
        self._redirect_to_authorization(
            authorize_url=self._OAUTH_AUTHORIZE_URL,
            redirect_uri=redirect_uri,
            client_id=client_id,
            extra_params=extra_params,
            scope=scope,
            response_type=response_type,
        )

    def _redirect_to_authorization(
        self,
        authorize_url: str,
        redirect_uri: str | None,
        client_id: str | None,
        extra_params: dict[str, Any] | None,
        scope: list[str] | None,
        response_type: str,
    ) -> None:
        args = authorization_query(response_type, redirect_uri, client_id, extra_params, scope)
        cookie = self._OAUTH_STATE_COOKIE
        if cookie is not None:
            saved = {"state": str(args.get("state") or secrets.token_urlsafe(32))}
            args["state"] = saved["state"]
            if self._OAUTH_PKCE and response_type == "code" and "code_challenge" not in args:
                saved["code_verifier"] = new_code_verifier()
                args["code_challenge"] = code_challenge(saved["code_verifier"])
                args["code_challenge_method"] = "S256"
            if "openid" in str(args.get("scope", "")).split():
                saved["nonce"] = str(args.get("nonce") or secrets.token_urlsafe(24))
                args["nonce"] = saved["nonce"]
            write_state_cookie(self, cookie, saved)
        self.redirect(url_concat(authorize_url, args))

    def check_oauth2_state(self) -> dict[str, str]:
        """Check the returning visitor's ``state`` against the cookie
        ``authorize_redirect`` set; the values saved with it (``state``,
        ``code_verifier``, ``nonce``). ``AuthError`` if it does not match.

        The provider-specific ``get_authenticated_user`` methods call it.
        """
        if self._OAUTH_STATE_COOKIE is None:
            return {}
        return read_state_cookie(self, self._OAUTH_STATE_COOKIE)

    def _oauth_request_token_url(
        self,
        redirect_uri: _OptionalText = None,
        client_id: _OptionalText = None,
        client_secret: _OptionalText = None,
        code: _OptionalText = None,
        extra_params: _QueryExtras = None,
    ) -> str:
        """The token endpoint URL with the exchange's parameters in its query."""
        given = {
            "redirect_uri": redirect_uri,
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        # Unset parameters are left out rather than sent empty; the caller's
        # extras come last and so win over a same-named one.
        query: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        query.update(extra_params or {})
        return url_concat(self._OAUTH_ACCESS_TOKEN_URL, query)

    async def _exchange_code(
        self,
        redirect_uri: str,
        code: str,
        client_id: str | None,
        client_secret: str | None,
        saved: dict[str, str],
        token_url: str | None = None,
    ) -> dict[str, Any]:
        """Section 4.1.3: trade the code for tokens (a form POST), with the
        PKCE verifier when one was sent."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        if client_id is not None:
            fields["client_id"] = client_id
        if client_secret is not None:
            fields["client_secret"] = client_secret
        if "code_verifier" in saved:
            fields["code_verifier"] = saved["code_verifier"]
        request = HTTPRequest(
            token_url or self._OAUTH_ACCESS_TOKEN_URL,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            body=urlencode(fields),
        )
        client = self.get_auth_http_client()
        response = await provider_fetch(client, request, "Exchanging the authorization code")
        return token_answer(json_object(response, "Exchanging the authorization code"))

    def get_oauth2_token(
        self,
        redirect_uri: str,
        code: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """Check ``state``, then exchange the returned code (default: the
        ``code`` argument) for the token answer (``access_token``...)."""

        async def flow() -> dict[str, Any]:
            saved = self.check_oauth2_state()
            the_code = code if code is not None else self.get_argument("code", None)
            if not the_code:
                raise AuthError("The provider sent no authorization code")
            return await self._exchange_code(
                redirect_uri, the_code, client_id, client_secret, saved
            )

        return deliver(flow(), callback)

    def oauth2_request(
        self,
        url: str,
        access_token: str | None = None,
        post_args: dict[str, Any] | None = None,
        *,
        callback: Callable[[Any], Any] | None = None,
        **args: Any,
    ) -> asyncio.Future[Any] | None:
        """GET ``url`` (POST ``post_args`` if given) with ``access_token`` in
        the query; the JSON answer."""
        query = dict(args)
        if access_token:
            query["access_token"] = access_token
        return deliver(api_fetch(self.get_auth_http_client(), url, query, post_args), callback)


def authorization_query(
    response_type: str,
    redirect_uri: str | None,
    client_id: str | None,
    extra_params: dict[str, Any] | None,
    scope: list[str] | None,
) -> dict[str, Any]:
    """Section 4.1.1's query, in the order providers see it: the fixed
    fields first, then the caller's ``extra_params`` (which may override
    them), and the space-joined ``scope`` (section 3.3) last, over any
    ``scope`` in ``extra_params``."""
    fixed = (
        ("response_type", response_type),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
    )
    query: dict[str, Any] = {name: value for name, value in fixed if value is not None}
    query.update(extra_params or {})
    if scope:
        query["scope"] = " ".join(scope)
    return query


def token_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """Section 5.1/5.2: a token answer, or the error it carries."""
    if "error" in answer:
        raise AuthError(f"The provider refused the code: {answer.get('error')}")
    if not isinstance(answer.get("access_token"), str):
        raise AuthError("The provider's token answer has no access_token")
    return answer
