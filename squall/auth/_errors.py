"""The error of ``squall.auth``.

    Exception
     └── AuthError   a sign-in that cannot be trusted or completed: a state,
                     nonce, token or signature that does not check out, a
                     missing request-token cookie, or a provider that
                     answered with an error or something unreadable.

Tornado's ``AuthError`` is a plain ``Exception``; so is ours, so code that
catches one catches the other. Flows used with a ``callback=`` (the 1.x
style) do not raise it: the failure is logged as a warning and the callback
receives ``None``, as 1.x applications expect (``if not user: ...``).
"""

from __future__ import annotations

__all__ = ["AuthError"]


class AuthError(Exception):
    """A third-party sign-in failed; the message says which check refused it."""
