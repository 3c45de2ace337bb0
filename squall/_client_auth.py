"""Client credentials: HTTP Basic (RFC 7617) and Digest (RFC 7616).

Digest needs the server's challenge, so a request with ``auth_mode="digest"``
goes out without credentials first; ``digest_authorization`` answers the
``WWW-Authenticate: Digest ...`` of the 401 for the retry.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Callable

from squall._http1._abnf import TOKEN
from squall.httputil import encode_username_password

__all__ = ["basic_authorization", "digest_authorization", "parse_digest_challenge"]

# RFC 7616 §3.4: the hash a challenge may name; -sess variants hash the
# session key once more with the nonces.
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data).hexdigest(),
}

# auth-param = token BWS "=" BWS ( token / quoted-string ), RFC 9110 §11.2;
# the token grammar is squall._http1._abnf's, the one copy in squall.
_QUOTED_STRING = r'"(?:[^"\\]|\\.)*"'
_PARAM_RE = re.compile(rf"\s*({TOKEN})\s*=\s*({_QUOTED_STRING}|[^,\s]*)\s*,?")


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value for Basic credentials (RFC 7617 §2)."""
    import base64

    # RFC 7617 section 2.1: the user-id and password are normalized (NFC)
    # before being encoded as UTF-8, as Tornado does.
    username, password = (unicodedata.normalize("NFC", v) for v in (username, password))
    return "Basic " + base64.b64encode(encode_username_password(username, password)).decode()


def parse_digest_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``Digest`` challenge, or None if it is not one."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for match in _PARAM_RE.finditer(rest):
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
    if "nonce" not in params or "realm" not in params:
        return None
    return params


def digest_authorization(
    challenge: dict[str, str],
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nonce_count: int = 1,
) -> str:
    """The ``Authorization`` value answering ``challenge`` (RFC 7616 §3.4)."""
    algorithm = challenge.get("algorithm", "MD5")
    session = algorithm.upper().endswith("-SESS")
    base = algorithm[:-5] if session else algorithm
    digest = _HASHES.get(base.upper())
    if digest is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    realm, nonce = challenge["realm"], challenge["nonce"]
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise ValueError(f"unsupported digest qop {challenge['qop']!r}")
    cnonce = cnonce or os.urandom(16).hex()
    nc = f"{nonce_count:08x}"

    def h(text: str) -> str:
        return digest(text.encode("utf-8"))

    ha1 = h(f"{username}:{realm}:{password}")
    if session:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    if qops:
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    else:  # RFC 2069 compatibility (RFC 7616 §3.4.1 without qop)
        response = h(f"{ha1}:{nonce}:{ha2}")
    fields = [
        f'username="{_quote(username)}"',
        f'realm="{_quote(realm)}"',
        f'nonce="{_quote(nonce)}"',
        f'uri="{_quote(uri)}"',
        f"algorithm={algorithm}",
        f'response="{response}"',
    ]
    if qops:
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    if "opaque" in challenge:
        fields.append(f'opaque="{_quote(challenge["opaque"])}"')
    return "Digest " + ", ".join(fields)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
