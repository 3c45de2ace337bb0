"""The HTTP/1.1 grammar squall checks against: one copy, for every role.

RFC 9110 §5.6.2 (token), §5.5 (field values), RFC 9112 §3 (request line),
§4 (status line), RFC 3986 §3.2.2 (Host). Everything that validates a
method, a field name, a field value or a Connection list imports it from
here.
"""

from __future__ import annotations

import re

__all__ = [
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

# RFC 9110 §5.6.2: token = 1*tchar; methods and field names are tokens.
# TOKEN is the pattern, for larger expressions built on it.
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
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
