"""OAuth 1.0 request signing, from RFC 5849 section 3.

Only HMAC-SHA1 (section 3.4.2), the method every provider the mixins know
uses. Parameters travel in the query string or a form body (section 3.5.2
and 3.5.3), as Tornado sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from squall.escape import utf8

__all__ = [
    "base_string_uri",
    "hmac_sha1_signature",
    "normalized_parameters",
    "oauth_escape",
    "signature_base_string",
    "signed_parameters",
]

# RFC 5849 section 3.4.1.2: the default ports are left out of the base URI.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def oauth_escape(value: Any) -> str:
    """Percent-encode per RFC 5849 section 3.6: everything but the
    unreserved characters ``A-Z a-z 0-9 - . _ ~``, as UTF-8, upper-case hex."""
    if not isinstance(value, (str, bytes)):
        value = str(value)
    return urllib.parse.quote(utf8(value), safe="~")


def base_string_uri(url: str) -> str:
    """Section 3.4.1.2: scheme and host in lower case, a non-default port
    kept, the path (``/`` if empty), no query and no fragment."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Section 3.4.1.3.2: encode names and values, sort by name then value,
    join pairs with ``=`` and pairs with ``&``."""
    encoded = sorted((oauth_escape(k), oauth_escape(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Section 3.4.1.1. ``params`` are the body and protocol parameters; the
    query string of ``url`` is added here (section 3.4.1.3.1)."""
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    all_params = [*query, *((k, v) for k, v in params if k != "oauth_signature")]
    return "&".join(
        (
            oauth_escape(method.upper()),
            oauth_escape(base_string_uri(url)),
            oauth_escape(normalized_parameters(all_params)),
        )
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str = "") -> str:
    """Section 3.4.2: the key is both secrets, encoded, joined by ``&``."""
    key = f"{oauth_escape(consumer_secret)}&{oauth_escape(token_secret)}"
    digest = hmac.new(utf8(key), utf8(base_string), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_parameters(
    method: str,
    url: str,
    consumer: Mapping[str, Any],
    token: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    protocol: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The protocol parameters of a signed request (section 3.1), including
    ``oauth_signature``.

    ``parameters`` are the request's own (form body) parameters, signed but
    not returned; ``protocol`` adds ``oauth_callback``/``oauth_verifier``.
    """
    oauth: dict[str, str] = {
        "oauth_consumer_key": str(consumer["key"]),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
        # 96 random bits as 24 hex digits: alphanumeric, and inside the
        # 20-30 character range providers built on oauthlib accept.
        "oauth_nonce": secrets.token_hex(12),
        "oauth_version": "1.0",
    }
    if token is not None:
        oauth["oauth_token"] = str(token["key"])
    oauth.update(protocol or {})
    own = [(k, str(v)) for k, v in (parameters or {}).items()]
    base = signature_base_string(method, url, [*own, *oauth.items()])
    secret = "" if token is None else str(token.get("secret") or "")
    oauth["oauth_signature"] = hmac_sha1_signature(base, str(consumer["secret"]), secret)
    return oauth
