"""The HTTP/1.1 grammar squall checks against: one copy, for every role.

RFC 9110 §5.6.2 (token), §5.5 (field values), RFC 9112 §3 (request line),
§4 (status line), RFC 3986 §3.2.2 (Host). Everything that validates a
method, a field name, a field value or a Connection list imports it from
here.
"""

from __future__ import annotations

import re

__all__ = [
    "ABNF",
    "BAD_TARGET_RE",
    "FORBIDDEN_IN_FIELD",
    "HOST_RE",
    "TOKEN",
    "TOKEN_RE",
    "TOKEN_RE_BYTES",
    "VISIBLE_VALUE_RE",
    "comma_tokens",
    "has_forbidden_char",
    "is_token",
]

# The rules, as regular-expression text (str patterns, one character per
# octet: heads are decoded as Latin-1). Larger rules are spelled from the
# smaller ones, as in the RFCs, so there is one place each rule is written.

# RFC 5234 appendix B.1: visible (printing) ASCII.
VCHAR = r"[\x21-\x7e]"
# RFC 9110 §5.5: octets above 0x7f, allowed in values for historic reasons.
OBS_TEXT = r"[\x80-\xff]"
FIELD_VCHAR = r"[\x21-\x7e\x80-\xff]"
# RFC 9110 §5.6.2: tchar is any VCHAR except the delimiters "(),/:;<=>?@[\]{}.
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# RFC 9110 §5.6.2: token = 1*tchar; methods and field names are tokens.
# TOKEN is the pattern, for larger expressions built on it.
TOKEN = TCHAR + "+"
# RFC 9110 §5.5: field-value = *field-content, where field-content starts and
# ends with a field-vchar and may hold SP / HTAB between: no whitespace at
# either end (the parser strips it), possibly empty.
FIELD_VALUE = f"(?:{FIELD_VCHAR}(?:[\\t ]*{FIELD_VCHAR})*)?"
# RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT (case-sensitive).
HTTP_VERSION = r"HTTP/[0-9]\.[0-9]"
# RFC 9112 §3.2: the request target's four forms all consist of visible
# characters; obs-text is let through (servers see raw UTF-8 paths), white
# space and controls are not. The form is checked later, by the router.
REQUEST_TARGET = f"{FIELD_VCHAR}+"
# RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
REQUEST_LINE = f"{TOKEN} {REQUEST_TARGET} {HTTP_VERSION}"
# RFC 9110 §15: status-code = 3DIGIT.
STATUS_CODE = r"[0-9]{3}"
# RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), and
# status-line = HTTP-version SP status-code SP [ reason-phrase ].
REASON_PHRASE = r"[\t\x20-\x7e\x80-\xff]+"
STATUS_LINE = f"{HTTP_VERSION} {STATUS_CODE} (?:{REASON_PHRASE})?"
# RFC 3986 §2.1, §2.2, §2.3: the URI character classes a Host is made of.
URI_PCT_ENCODED = r"%[0-9A-Fa-f]{2}"
URI_SUB_DELIMS = r"[!$&'()*+,;=]"
URI_UNRESERVED = r"[A-Za-z0-9\-._~]"
# RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name. Matched
# loosely, as the characters they are made of (brackets and colons for IPv6
# literals included), possibly empty: a recipient only has to keep a Host
# from carrying anything else (white space, "/", "@", controls).
URI_HOST = f"(?:{URI_UNRESERVED}|{URI_PCT_ENCODED}|{URI_SUB_DELIMS}|[:\\[\\]])*"
# RFC 3986 §3.2.3: port = *DIGIT.
URI_PORT = r"[0-9]*"
# RFC 9110 §7.2: Host = uri-host [ ":" port ].
HOST = f"{URI_HOST}(?::{URI_PORT})?"


class ABNF:
    """The rules above compiled, named after the RFCs' rule names in
    snake_case (``field_name``, ``request_line``...). Use ``fullmatch``:
    the patterns are not anchored. ``squall.httputil._ABNF`` is this class
    (Tornado's test suite generates inputs from it)."""

    VCHAR = re.compile(VCHAR)
    obs_text = re.compile(OBS_TEXT)
    field_vchar = re.compile(FIELD_VCHAR)
    tchar = re.compile(TCHAR)
    token = re.compile(TOKEN)
    field_name = token
    method = token
    field_value = re.compile(FIELD_VALUE)
    HTTP_version = re.compile(HTTP_VERSION)
    request_target = re.compile(REQUEST_TARGET)
    request_line = re.compile(REQUEST_LINE)
    status_code = re.compile(STATUS_CODE)
    reason_phrase = re.compile(REASON_PHRASE)
    status_line = re.compile(STATUS_LINE)
    uri_pct_encoded = re.compile(URI_PCT_ENCODED)
    uri_sub_delims = re.compile(URI_SUB_DELIMS)
    uri_unreserved = re.compile(URI_UNRESERVED)
    uri_host = re.compile(URI_HOST)
    uri_port = re.compile(URI_PORT)
    host = re.compile(HOST)


TOKEN_RE = re.compile(TOKEN + r"\Z")
TOKEN_RE_BYTES = re.compile(TOKEN.encode() + rb"\Z")
# RFC 9110 §5.5: CR, LF and NUL are never allowed in a field value; a
# sender must not generate them (and one that did would inject a header).
FORBIDDEN_IN_FIELD = ("\r", "\n", "\x00")
# RFC 9110 §5.5: field-value characters a parser takes from the network:
# HTAB, SP, visible ASCII and obs-text. Anything else is refused.
VISIBLE_VALUE_RE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# RFC 9112 §3.2: the request target has no whitespace or control characters.
BAD_TARGET_RE = re.compile(r"[\x00-\x20\x7f]")
# RFC 3986 §3.2.2-3: reg-name (unreserved / pct-encoded / sub-delims) or an
# IP-literal in brackets, then an optional port.
HOST_RE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=%]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?\Z")

# Names already found to be tokens: the same few come back on every
# message. Bounded, so names invented by a peer cannot grow it.
_TOKENS_SEEN: set[str] = set()
_TOKENS_SEEN_MAX = 1024


def is_token(text: str) -> bool:
    if text in _TOKENS_SEEN:
        return True
    if not TOKEN_RE.match(text):
        return False
    if len(_TOKENS_SEEN) < _TOKENS_SEEN_MAX:
        _TOKENS_SEEN.add(text)
    return True


def has_forbidden_char(text: str) -> bool:
    """CR, LF or NUL anywhere in ``text`` (three scans beat a regex)."""
    return "\r" in text or "\n" in text or "\x00" in text


def comma_tokens(values: list[str] | str | None) -> set[str]:
    """The lower-cased members of a comma-separated list field (RFC 9110
    §5.6.1), such as Connection or Upgrade, across all its lines."""
    if not values:
        return set()
    if isinstance(values, str):
        values = [values]
    found = set()
    for value in values:
        for item in value.split(","):
            item = item.strip(" \t").lower()
            if item:
                found.add(item)
    return found
