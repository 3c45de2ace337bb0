"""What an OAuth 2 sign-in remembers between the redirect and the return:
``state`` (RFC 6749 section 10.12, against login CSRF), the PKCE code
verifier (RFC 7636) and the OpenID Connect ``nonce``, kept together in one
short-lived cookie, signed when the application has a ``cookie_secret``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from squall.auth._common import HandlerBase
from squall.auth._errors import AuthError

__all__ = ["code_challenge", "new_code_verifier", "read_state_cookie", "write_state_cookie"]

# How long a visitor may spend at the provider's sign-in page. An hour
# leaves room for a password reset or a second factor; the cookie is also
# single-use, so this only bounds how old an unused one may be.
STATE_MAX_AGE_SECONDS = 3600

# RFC 7636 section 4.1: 43 to 128 characters; 32 random bytes give 43.
CODE_VERIFIER_BYTES = 32


def new_code_verifier() -> str:
    return secrets.token_urlsafe(CODE_VERIFIER_BYTES)


def code_challenge(verifier: str) -> str:
    """RFC 7636 section 4.2, S256: BASE64URL(SHA256(ASCII(verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def write_state_cookie(handler: HandlerBase, name: str, saved: dict[str, str]) -> None:
    value = json.dumps({**saved, "t": int(time.time())}, separators=(",", ":"))
    options: dict[str, Any] = {"httponly": True, "samesite": "Lax"}
    if handler.request.protocol == "https":
        options["secure"] = True
    if handler.settings.get("cookie_secret"):
        handler.set_signed_cookie(name, value, expires_days=None, **options)
    else:
        handler.set_cookie(name, base64.urlsafe_b64encode(value.encode()).decode(), **options)


def read_state_cookie(handler: HandlerBase, name: str) -> dict[str, str]:
    """The saved values, checked against the ``state`` the provider returned.

    The cookie is cleared first: each one serves a single return, so a
    replayed callback URL finds nothing to match.
    """
    error = handler.get_argument("error", None)
    if error is not None:
        # RFC 6749 section 4.1.2.1: the visitor declined, or the request was bad.
        handler.clear_cookie(name)
        description = handler.get_argument("error_description", "")
        raise AuthError(f"The provider refused the sign-in: {error} {description}".strip())
    raw: bytes | str | None
    if handler.settings.get("cookie_secret"):
        raw = handler.get_signed_cookie(name, max_age_days=STATE_MAX_AGE_SECONDS / 86400)
    else:
        cookie = handler.get_cookie(name)
        try:
            raw = base64.urlsafe_b64decode(cookie.encode()) if cookie else None
        except ValueError:
            raw = None
    handler.clear_cookie(name)
    if not raw:
        raise AuthError("OAuth2 state cookie missing, expired or forged")
    try:
        saved = json.loads(raw)
        issued = int(saved.pop("t"))
        expected = str(saved["state"])
    except (ValueError, KeyError, TypeError) as e:
        raise AuthError("OAuth2 state cookie unreadable") from e
    if not 0 <= time.time() - issued <= STATE_MAX_AGE_SECONDS:
        raise AuthError("OAuth2 state cookie expired")
    returned = handler.get_argument("state", None)
    if returned is None or not hmac.compare_digest(
        returned.encode("utf-8"), expected.encode("utf-8")
    ):
        raise AuthError("OAuth2 state does not match: possible login CSRF")
    return {str(k): str(v) for k, v in saved.items()}
