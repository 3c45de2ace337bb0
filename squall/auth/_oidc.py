"""OpenID Connect Core 1.0 on top of OAuth 2: ``OpenIDConnectMixin``.

The provider is found by discovery (OpenID Connect Discovery 1.0), the ID
token's signature is checked against the provider's published keys (JWKS)
and its claims against Core section 3.1.3.7: ``iss``, ``aud``, ``azp``,
``exp``, ``iat`` and the ``nonce`` this sign-in sent. The JOSE work is done
by ``joserfc`` (the ``squall[auth]`` extra), never by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from squall.auth._common import deliver, json_object, provider_fetch, start_redirect
from squall.auth._errors import AuthError
from squall.auth._oauth2 import OAuth2Mixin
from squall.httpclient import AsyncHTTPClient

__all__ = ["OpenIDConnectMixin", "verify_id_token"]

# How long discovery documents and key sets are reused. Providers rotate
# keys over days; an unknown ``kid`` forces a refresh regardless.
DISCOVERY_CACHE_SECONDS = 3600
# Clock difference tolerated on exp/iat (Core 3.1.3.7 leaves it to the
# client; a minute is what most libraries use).
CLOCK_SKEW_SECONDS = 60
# Asymmetric algorithms only: "none" and the HMAC family (keyed with the
# client secret) are refused.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")

_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def _cached_json(
    client: AsyncHTTPClient, url: str, what: str, refresh: bool
) -> dict[str, Any]:
    now = time.time()
    hit = _cache.get(url)
    if hit is not None and not refresh and now - hit[0] < DISCOVERY_CACHE_SECONDS:
        return hit[1]
    response = await provider_fetch(client, url, what)
    value = json_object(response, what)
    _cache[url] = (now, value)
    return value


def _jose() -> Any:
    try:
        from joserfc import jwt
    except ImportError as e:  # pragma: no cover - the extra is installed in tests
        raise AuthError("ID tokens need the JOSE library: pip install 'squall[auth]'") from e
    return jwt


async def verify_id_token(
    client: AsyncHTTPClient,
    id_token: str,
    issuer: str,
    jwks_uri: str,
    client_id: str,
    nonce: str | None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once signature and claims check out;
    ``AuthError`` naming the first check that fails."""
    jwt = _jose()
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    token: Any = None
    for refresh in (False, True):
        keys = await _cached_json(client, jwks_uri, "Fetching the provider's keys", refresh)
        try:
            key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise AuthError("The provider's key set is unreadable") from e
        try:
            token = jwt.decode(id_token, key_set, algorithms=list(ID_TOKEN_ALGORITHMS))
            break
        except (JoseError, ValueError) as e:
            # Perhaps signed with a key published since we fetched the set
            # (rotation): fetch it again, once.
            if not refresh:
                continue
            raise AuthError(f"ID token signature invalid: {e}") from e
        except (TypeError, KeyError, IndexError) as e:
            raise AuthError("ID token unreadable") from e
    claims: dict[str, Any] = dict(token.claims)
    check_id_token_claims(claims, issuer, client_id, nonce)
    return claims


def check_id_token_claims(
    claims: dict[str, Any], issuer: str, client_id: str, nonce: str | None
) -> None:
    """OpenID Connect Core section 3.1.3.7, steps 2-3 and 9-11."""
    if claims.get("iss") != issuer:
        raise AuthError(f"ID token issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise AuthError("ID token is not for this client (aud)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise AuthError("ID token for several audiences without this client as azp")
    if "azp" in claims and claims["azp"] != client_id:
        raise AuthError("ID token azp is another client")
    now = time.time()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or exp + CLOCK_SKEW_SECONDS < now:
        raise AuthError("ID token expired")
    if not isinstance(iat, (int, float)) or iat - CLOCK_SKEW_SECONDS > now:
        raise AuthError("ID token issued in the future (iat)")
    if nonce is not None and claims.get("nonce") != nonce:
        raise AuthError("ID token nonce does not match this sign-in")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise AuthError("ID token has no subject (sub)")


class OpenIDConnectMixin(OAuth2Mixin):
    """Sign-in with an OpenID Connect provider.

    Set ``_OIDC_ISSUER`` (discovery is at ``issuer/.well-known/openid-
    configuration`` unless ``_OIDC_DISCOVERY_URL`` says otherwise). The
    client's credentials come from arguments or the ``_OIDC_SETTINGS_KEY``
    application setting (``{"key": client_id, "secret": client_secret}``)::

        class Login(RequestHandler, OpenIDConnectMixin):
            _OIDC_ISSUER = "https://accounts.example.com"

            async def get(self):
                if self.get_argument("code", None):
                    user = await self.get_authenticated_user(redirect_uri=MY_URL)
                    ...  # user["sub"], user["email"]...
                else:
                    await self.oidc_authorize_redirect(redirect_uri=MY_URL)
    """

    _OIDC_ISSUER: str = ""
    _OIDC_DISCOVERY_URL: str | None = None
    _OIDC_SETTINGS_KEY: str = "oidc"
    _OIDC_SCOPE: tuple[str, ...] = ("openid", "email", "profile")

    def _oidc_credentials(
        self, client_id: str | None, client_secret: str | None
    ) -> tuple[str, str | None]:
        settings = self.settings.get(self._OIDC_SETTINGS_KEY) or {}
        cid = client_id if client_id is not None else settings.get("key")
        secret = client_secret if client_secret is not None else settings.get("secret")
        if not cid:
            raise AuthError(f"No client id: pass one or set settings[{self._OIDC_SETTINGS_KEY!r}]")
        return str(cid), None if secret is None else str(secret)

    async def oidc_configuration(self, refresh: bool = False) -> dict[str, Any]:
        """The provider's discovery document (cached)."""
        if not self._OIDC_ISSUER:
            raise AuthError("_OIDC_ISSUER is not set")
        url = self._OIDC_DISCOVERY_URL or (
            self._OIDC_ISSUER.rstrip("/") + "/.well-known/openid-configuration"
        )
        client = self.get_auth_http_client()
        config = await _cached_json(client, url, "OpenID Connect discovery", refresh)
        # Discovery section 4.3: the document must name the issuer we asked.
        if config.get("issuer") != self._OIDC_ISSUER:
            raise AuthError("The discovery document names another issuer")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(config.get(field), str):
                raise AuthError(f"The discovery document has no {field}")
        return config

    def oidc_authorize_redirect(
        self,
        redirect_uri: str,
        client_id: str | None = None,
        scope: list[str] | None = None,
        extra_params: dict[str, Any] | None = None,
    ) -> asyncio.Future[None]:
        """Discover the provider, then send the visitor to sign in there
        (with state, nonce and PKCE). Await it."""

        async def flow() -> None:
            config = await self.oidc_configuration()
            cid, _ = self._oidc_credentials(client_id, None)
            self._redirect_to_authorization(
                config["authorization_endpoint"],
                redirect_uri,
                cid,
                extra_params,
                list(scope or self._OIDC_SCOPE),
                "code",
            )

        return start_redirect(flow())

    def get_authenticated_user(
        self,
        redirect_uri: str,
        code: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """The returning visitor's verified ID-token claims (``sub``,
        ``email``...), plus ``access_token`` and ``token_response``."""
        return deliver(self._oidc_user(redirect_uri, code, client_id, client_secret), callback)

    async def _oidc_user(
        self,
        redirect_uri: str,
        code: str | None,
        client_id: str | None,
        client_secret: str | None,
    ) -> dict[str, Any]:
        saved = self.check_oauth2_state()
        the_code = code if code is not None else self.get_argument("code", None)
        if not the_code:
            raise AuthError("The provider sent no authorization code")
        cid, secret = self._oidc_credentials(client_id, client_secret)
        config = await self.oidc_configuration()
        tokens = await self._exchange_code(
            redirect_uri, the_code, cid, secret, saved, token_url=config["token_endpoint"]
        )
        claims = await self.oidc_verify_id_token(tokens, cid, saved.get("nonce"), config)
        user = dict(claims)
        user["access_token"] = tokens["access_token"]
        user["token_response"] = tokens
        return user

    async def oidc_verify_id_token(
        self,
        tokens: dict[str, Any],
        client_id: str,
        nonce: str | None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The checked claims of the ``id_token`` in a token answer."""
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise AuthError("The token answer has no id_token")
        if config is None:
            config = await self.oidc_configuration()
        return await verify_id_token(
            self.get_auth_http_client(),
            id_token,
            self._OIDC_ISSUER,
            config["jwks_uri"],
            client_id,
            nonce,
        )
