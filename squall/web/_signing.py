"""Signed values (``create_signed_value``/``decode_signed_value``) and the
signed-cookie methods of ``RequestHandler``.

Two wire formats, byte-compatible with Tornado's so that cookies survive a
migration in either direction:

- version 1: ``base64(value)|timestamp|hex(HMAC-SHA1(name + base64 + ts))``.
  It does not bind the key version, and its fields are not length-framed.
- version 2 (the default): ``2|1:<key version>|<n>:<timestamp>|<n>:<name>|
  <n>:<base64 value>|`` followed by the hex HMAC-SHA256 of everything before
  it. Each field is ``length:bytes``, so no field can be shifted into
  another, and the cookie's name is signed: a value moved to another cookie
  does not verify.

Errors: ``create_signed_value`` raises ``ValueError`` for an unsupported
version or a key dict without a ``key_version``; decoding never raises for
bad input, it returns None (forged, tampered, expired, moved, malformed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from squall.escape import utf8
from squall.log import gen_log
from squall.web._host import HandlerHost

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

# The versions and defaults are Tornado's (3.2 onwards): write version 2,
# still accept version 1 unless the caller raises ``min_version``.
MIN_SUPPORTED_SIGNED_VALUE_VERSION = 1
MAX_SUPPORTED_SIGNED_VALUE_VERSION = 2
DEFAULT_SIGNED_VALUE_VERSION = 2
DEFAULT_SIGNED_VALUE_MIN_VERSION = 1

# Tornado's default lifetime for a signed cookie when reading it (days).
DEFAULT_MAX_AGE_DAYS = 31
# Version 1 values stamped further than this in the future are refused
# (Tornado's 31 days): a clock that far off means tampering.
_V1_MAX_FUTURE_SECONDS = 31 * 86400
_SECONDS_PER_DAY = 86400
# A version prefix has at most three digits; a longer run of digits before
# "|" is the base64 value of a version-1 cookie.
_VERSION_PREFIX = re.compile(rb"([1-9][0-9]{0,2})\|")

SecretType = Union[str, bytes, dict[int, str], dict[int, bytes]]
# Seconds since the epoch; tests pass a fixed clock to sign "in the past".
_Clock = Callable[[], float]
# What may be signed or checked: text is UTF-8 encoded first.
_Signable = Union[str, bytes]


def create_signed_value(
    secret: SecretType,
    name: str,
    value: _Signable,
    version: int | None = None,
    clock: _Clock | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign ``value`` for cookie ``name`` with ``secret`` (now, or ``clock()``).

    ``secret`` may be a dict ``{key_version: secret}`` (version 2 only);
    ``key_version`` then picks the key and is recorded in the value.
    """
    fmt = DEFAULT_SIGNED_VALUE_VERSION if version is None else version
    stamp = utf8(str(int((clock or time.time)())))
    payload = base64.b64encode(utf8(value))
    if fmt == 1:
        if isinstance(secret, dict):
            raise ValueError("Signed value version 1 cannot use a key dict")
        return b"|".join((payload, stamp, _create_signature_v1(secret, name, payload, stamp)))
    if fmt != 2:
        raise ValueError(f"Unsupported version {fmt}")
    key = _pick_key(secret, key_version)
    # "2|" followed by length-prefixed fields, each closed by "|"; the HMAC
    # covers everything before it.
    parts = (utf8(str(key_version or 0)), stamp, utf8(name), payload)
    signed_part = b"2|" + b"".join(_field(part) + b"|" for part in parts)
    return signed_part + _create_signature_v2(key, signed_part)


def _pick_key(secret: SecretType, key_version: int | None) -> str | bytes:
    """The key to sign with: ``secret`` itself, or its ``key_version`` entry."""
    if not isinstance(secret, dict):
        return secret
    if key_version is None:
        raise ValueError("key_version must be set when the secret is a dict")
    return secret[key_version]


def decode_signed_value(
    secret: SecretType,
    name: str,
    value: _Signable | None,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    clock: _Clock | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """The value signed in ``value`` for cookie ``name``, or None.

    None when the signature does not verify, the value is older than
    ``max_age_days``, its version is below ``min_version``, or it is
    malformed.
    """
    oldest = DEFAULT_SIGNED_VALUE_MIN_VERSION if min_version is None else min_version
    # Asking for a version we cannot read is a programming error, not a bad cookie.
    if oldest > MAX_SUPPORTED_SIGNED_VALUE_VERSION:
        raise ValueError(f"Unsupported min_version {oldest}")
    now = time.time if clock is None else clock
    if not value:
        return None
    raw = utf8(value)
    found = _version_of(raw)
    if found < oldest:
        return None
    if found == 2:
        return _decode_v2(secret, name, raw, max_age_days, now)
    # Version 1 records no key version, so a keyed (dict) secret cannot read it.
    if found == 1 and not isinstance(secret, dict):
        return _decode_v1(secret, name, raw, max_age_days, now)
    return None


def get_signature_key_version(value: str | bytes) -> int | None:
    """The key version recorded in a version-2 signed value, else None."""
    raw = utf8(value)
    if _version_of(raw) != 2:
        return None
    parsed = _parse_v2(raw)
    return None if parsed is None else parsed[0]


# -- version 1 ---------------------------------------------------------------


def _create_signature_v1(secret: str | bytes, *parts: str | bytes) -> bytes:
    # Version 1 signs the parts run together, so hashing their concatenation
    # gives the same hex digest as feeding them one by one.
    message = b"".join(utf8(piece) for piece in parts)
    return hmac.new(utf8(secret), message, hashlib.sha1).hexdigest().encode("ascii")


def _decode_v1(
    secret: str | bytes,
    name: str,
    raw: bytes,
    max_age_days: float,
    clock: _Clock,
) -> bytes | None:
    parts = raw.split(b"|")
    if len(parts) != 3:
        return None
    encoded, timestamp, signature = parts
    expected = _create_signature_v1(secret, name, encoded, timestamp)
    if not hmac.compare_digest(signature, expected):
        gen_log.warning("Invalid cookie signature %r", raw[:200])
        return None
    # The checks and their warnings come in Tornado's order. A timestamp
    # that is not a number at all was never written by a signer: dropped
    # without a word (Python's int() syntax, as Tornado reads it).
    try:
        stamp = int(timestamp)
    except ValueError:
        return None
    now = clock()
    if stamp < now - max_age_days * _SECONDS_PER_DAY:
        gen_log.warning("Expired cookie %r", raw[:200])
        return None
    if stamp > now + _V1_MAX_FUTURE_SECONDS:
        gen_log.warning("Cookie timestamp in future; possible tampering %r", raw[:200])
        return None
    # A leading zero would let "0123" and "123" sign differently for the
    # same time; Tornado refuses it, and so do we.
    if timestamp.startswith(b"0"):
        gen_log.warning("Tampered cookie %r", raw[:200])
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return None


# -- version 2 ---------------------------------------------------------------


def _field(data: bytes) -> bytes:
    return utf8(str(len(data))) + b":" + data


def _create_signature_v2(secret: str | bytes, data: str | bytes) -> bytes:
    """The hex HMAC-SHA256 of ``data`` (everything before the signature)."""
    return utf8(hmac.new(utf8(secret), utf8(data), hashlib.sha256).hexdigest())


def _version_of(raw: bytes) -> int:
    match = _VERSION_PREFIX.match(raw)
    return int(match.group(1)) if match else 1


def _take_field(raw: bytes, pos: int) -> tuple[bytes, int] | None:
    """Read ``length:bytes|`` at ``pos``: the bytes and the next position."""
    colon = raw.find(b":", pos)
    if colon < 0 or colon - pos > 10:
        return None
    length_text = raw[pos:colon]
    if not length_text.isdigit():
        return None
    end = colon + 1 + int(length_text)
    if raw[end : end + 1] != b"|":
        return None
    return raw[colon + 1 : end], end + 1


def _parse_v2(raw: bytes) -> tuple[int, bytes, bytes, bytes, bytes, bytes] | None:
    """(key version, timestamp, name, value, signed part, signature)."""
    pos = 2  # after "2|"
    fields = []
    for _ in range(4):
        taken = _take_field(raw, pos)
        if taken is None:
            return None
        field, pos = taken
        fields.append(field)
    key_version_text, timestamp, name, encoded = fields
    # Numbers are read with int(), as Tornado reads them ("+1", " 1" pass:
    # the signature has vouched for them). The timestamp is checked by the
    # caller, so that a bad one still leaves the key version readable.
    try:
        key_version = int(key_version_text)
    except ValueError:
        return None
    return key_version, timestamp, name, encoded, raw[:pos], raw[pos:]


def _decode_v2(
    secret: SecretType,
    name: str,
    raw: bytes,
    max_age_days: float,
    clock: _Clock,
) -> bytes | None:
    parsed = _parse_v2(raw)
    if parsed is None:
        return None
    key_version, timestamp, signed_name, encoded, signed, signature = parsed
    if isinstance(secret, dict):
        key = secret.get(key_version)
        if key is None:
            return None
    else:
        key = secret
    if not hmac.compare_digest(signature, _create_signature_v2(key, signed)):
        return None
    if not hmac.compare_digest(signed_name, utf8(name)):
        return None
    try:
        stamp = int(timestamp)
    except ValueError:
        return None
    if stamp < clock() - max_age_days * _SECONDS_PER_DAY:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return None


# -- the RequestHandler methods ------------------------------------------------


class SigningMixin(HandlerHost):
    """``set_signed_cookie``/``get_signed_cookie`` (and the ``secure`` names)."""

    def create_signed_value(self, name: str, value: _Signable, version: int | None = None) -> bytes:
        """Sign ``value`` with the ``cookie_secret`` setting (and ``key_version``)."""
        self.require_setting("cookie_secret", "secure cookies")
        secret = self.settings["cookie_secret"]
        # A plain secret has no versions; a dict of them needs to know which signs.
        chosen = self.settings.get("key_version") if isinstance(secret, dict) else None
        if chosen is None and isinstance(secret, dict):
            raise Exception("key_version setting must be used for secret_key dicts")
        return create_signed_value(secret, name, value, version=version, key_version=chosen)

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie whose value is signed, so it cannot be forged.

        Read it back with ``get_signed_cookie``. The value is signed, not
        encrypted: the client can read it. Other keyword arguments go to
        ``set_cookie``.
        """
        signed = self.create_signed_value(name, value, version=version)
        self.set_cookie(name, signed, expires_days=expires_days, **kwargs)

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = DEFAULT_MAX_AGE_DAYS,
        min_version: int | None = None,
    ) -> bytes | None:
        """The verified value of signed cookie ``name`` (bytes), or None.

        None when the cookie is missing, forged, older than
        ``max_age_days`` or set for another name. ``value`` checks a given
        signed value instead of the request's cookie.
        """
        self.require_setting("cookie_secret", "secure cookies")
        signed = self.get_cookie(name) if value is None else value
        secret = self.settings["cookie_secret"]
        return decode_signed_value(
            secret, name, signed, max_age_days=max_age_days, min_version=min_version
        )

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        """The key version of signed cookie ``name`` (None if absent or v1)."""
        self.require_setting("cookie_secret", "secure cookies")
        cookie = self.get_cookie(name) if value is None else value
        return None if cookie is None else get_signature_key_version(cookie)

    # The names of Tornado before 6.3, used throughout the seeds.
    set_secure_cookie = set_signed_cookie
    get_secure_cookie = get_signed_cookie
    get_secure_cookie_key_version = get_signed_cookie_key_version
