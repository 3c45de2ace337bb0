"""Cross-site request forgery defences for ``RequestHandler``.

Two independent mechanisms, each enabled by an application setting:

- ``xsrf_cookies``: the double-submit token. The ``_xsrf`` cookie holds a
  random 16-byte token; every unsafe request must echo it in the ``_xsrf``
  argument or the ``X-XSRFToken``/``X-CSRFToken`` header. Version 2 tokens
  (the default, Tornado's format ``2|mask|masked token|timestamp``) are
  masked afresh for each page, so a compressed page never repeats the same
  secret bytes (the BREACH attack). There is deliberately no exemption for
  ``X-Requested-With``: plugins have been able to forge that header.
- ``cross_origin_protection``: no token; the browser's ``Sec-Fetch-Site``
  header, or failing that the ``Origin`` header compared with ``Host``,
  tells a cross-origin request apart. Origins in ``trusted_origins`` (or
  accepted by an overridden ``check_trusted_origin``) pass.

Errors: every refusal is ``HTTPError(403)`` with a log message saying why.
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
import time
import urllib.parse
from typing import TYPE_CHECKING

from squall.escape import utf8, xhtml_escape
from squall.web._errors import HTTPError
from squall.web._host import HandlerHost

if TYPE_CHECKING:
    pass

# Sizes of Tornado's token and mask (bytes); the wire format depends on them.
_TOKEN_BYTES = 16
_MASK_BYTES = 4
# Tornado's default cookie name and form field name.
DEFAULT_XSRF_COOKIE_NAME = "_xsrf"
XSRF_ARGUMENT = "_xsrf"
# A logged-in user's token cookie lasts this long (days), as in Tornado;
# an anonymous one is a session cookie.
_LOGGED_IN_COOKIE_DAYS = 30
# Sec-Fetch-Site values (Fetch Metadata, W3C) that are not cross-origin:
# "none" is a navigation the user started (typed URL, bookmark).
_SAME_ORIGIN_FETCH_SITES = frozenset(("same-origin", "none"))

_Decoded = tuple[int | None, bytes | None, float | None]


def _mask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with ``mask`` repeated (its own inverse)."""
    return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(data))


def _encode_token(version: int, token: bytes, timestamp: float) -> bytes:
    if version == 1:
        return binascii.b2a_hex(token)
    if version == 2:
        mask = os.urandom(_MASK_BYTES)
        return b"|".join(
            [
                b"2",
                binascii.b2a_hex(mask),
                binascii.b2a_hex(_mask(mask, token)),
                utf8(str(int(timestamp))),
            ]
        )
    raise ValueError(f"unknown xsrf cookie version {version}")


# A token that starts "<version>|" declares its format (version 2 is read
# above); version 1 tokens are bare.
_VERSIONED = re.compile(rb"[1-9][0-9]*\|")


def _decode_token(value: str | bytes | None) -> _Decoded:
    """(version, token, timestamp) from a cookie or argument; Nones if bad."""
    if not value:
        return None, None, None
    raw = utf8(value)
    try:
        if raw.startswith(b"2|"):
            _, mask_hex, masked_hex, timestamp_text = raw.split(b"|")
            mask = binascii.a2b_hex(mask_hex)
            if not mask:
                return None, None, None
            token = _mask(mask, binascii.a2b_hex(masked_hex))
            return 2, token, float(int(timestamp_text))
        if _VERSIONED.match(raw):
            return None, None, None  # "<n>|..." with a version we do not know
        # Version 1: the token in hex, no timestamp of its own; a token
        # that is not hex is taken as it is (as Tornado reads old cookies).
        try:
            return 1, binascii.a2b_hex(raw), None
        except (ValueError, binascii.Error):
            return 1, raw, None
    except (ValueError, binascii.Error):
        return None, None, None


class XsrfMixin(HandlerHost):
    """``xsrf_token``, ``xsrf_form_html``, ``check_xsrf_cookie`` and the
    cross-origin check."""

    @property
    def xsrf_token(self) -> bytes:
        """This request's XSRF token (ASCII bytes), setting the cookie if new.

        With ``xsrf_cookie_version`` 2 (the default) the token is masked
        anew for each request: the text differs every time and every text
        is valid. ``xsrf_cookie_kwargs`` go to ``set_cookie``.
        """
        cached: bytes | None = self.__dict__.get("_xsrf_token")
        if cached is not None:
            return cached
        version, token, timestamp = self._get_raw_xsrf_token()
        output_version = self.settings.get("xsrf_cookie_version", 2)
        encoded = _encode_token(output_version, token, timestamp)
        if version is None or version != output_version:
            cookie_kwargs = dict(self.settings.get("xsrf_cookie_kwargs", {}))
            if "expires_days" not in cookie_kwargs:
                cookie_kwargs["expires_days"] = (
                    _LOGGED_IN_COOKIE_DAYS if self.current_user else None
                )
            cookie_name = self.settings.get("xsrf_cookie_name", DEFAULT_XSRF_COOKIE_NAME)
            self.set_cookie(cookie_name, encoded, **cookie_kwargs)
        self.__dict__["_xsrf_token"] = encoded
        return encoded

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        """(cookie version or None if new, token, timestamp), cached."""
        cached = self.__dict__.get("_raw_xsrf_token")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        cookie_name = self.settings.get("xsrf_cookie_name", DEFAULT_XSRF_COOKIE_NAME)
        version, token, timestamp = _decode_token(self.get_cookie(cookie_name))
        if not token:
            version, token = None, os.urandom(_TOKEN_BYTES)
        if timestamp is None:
            timestamp = time.time()
        result = (version, token, timestamp)
        self.__dict__["_raw_xsrf_token"] = result
        return result

    def xsrf_form_html(self) -> str:
        """A hidden ``<input>`` carrying the token, for every POST form."""
        value = xhtml_escape(self.xsrf_token)
        return f'<input type="hidden" name="{XSRF_ARGUMENT}" value="{value}"/>'

    def check_xsrf_cookie(self) -> None:
        """403 unless the request echoes this client's XSRF cookie token.

        The token comes from the ``_xsrf`` argument or the ``X-XSRFToken``
        or ``X-CSRFToken`` header. Called automatically for unsafe methods
        when ``xsrf_cookies`` is set.
        """
        headers = self.request.headers
        submitted = (
            self.get_argument(XSRF_ARGUMENT, None)
            or headers.get("X-Xsrftoken")
            or headers.get("X-Csrftoken")
        )
        if not submitted:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, token, _ = _decode_token(submitted)
        if not token:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        _, expected, _ = self._get_raw_xsrf_token()
        if not hmac.compare_digest(token, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    # -- token-free protection -------------------------------------------------

    def check_trusted_origin(self, origin: str) -> bool:
        """Whether a cross-origin unsafe request from ``origin`` may proceed.

        Called only with ``cross_origin_protection`` on, for requests that
        look cross-origin and carry an ``Origin``. The default accepts the
        origins listed in the ``trusted_origins`` setting. It runs before
        ``prepare``: decide from the request alone.
        """
        return origin in self.settings.get("trusted_origins", ())

    def _check_cross_origin(self) -> None:
        """403 for an unsafe request a browser made from another origin."""
        headers = self.request.headers
        fetch_site = headers.get("Sec-Fetch-Site")
        origin = headers.get("Origin")
        if fetch_site is not None:
            # Browsers since 2023 send it and pages cannot forge it.
            if fetch_site in _SAME_ORIGIN_FETCH_SITES:
                return
            if origin is not None and self.check_trusted_origin(origin):
                return
            raise HTTPError(403, "Sec-Fetch-Site %s & origin %r not allowed", fetch_site, origin)
        if origin is None:
            return  # not from a browser: cookies are not in play
        # Older browsers: RFC 6454 origin, compared by host and port only,
        # as a TLS-terminating proxy may make the scheme look different.
        netloc = urllib.parse.urlsplit(origin).netloc
        if netloc and netloc.lower() == (self.request.host or "").lower():
            return
        if self.check_trusted_origin(origin):
            return
        raise HTTPError(403, "Origin %r not allowed", origin)
