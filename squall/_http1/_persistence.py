"""The one keep-alive rule, for requests and responses alike.

RFC 9112 §9.3: an HTTP/1.1 connection persists unless a ``close`` option
is sent; an HTTP/1.0 one only when ``keep-alive`` is. Connection options
are tokens (RFC 9110 §7.6.1): ``no-keep-alive`` is not ``keep-alive``, and
``enclosed`` is not ``close``.
"""

from __future__ import annotations

from squall._http1._abnf import comma_tokens

__all__ = ["keeps_alive"]


def keeps_alive(version: str, connection: list[str] | str | None) -> bool:
    """Whether a message of ``version`` (``"HTTP/1.1"``) with these
    Connection field values lets the connection carry another message."""
    if not connection:
        return version == "HTTP/1.1"
    tokens = comma_tokens(connection)
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens and "close" not in tokens
