"""Signed cookies, users, XSRF and static URLs for ``RequestHandler``
(filled by the security issue)."""

from __future__ import annotations


class SecurityMixin:
    """Signed cookies, ``current_user``, XSRF and ``static_url``, mixed into
    RequestHandler."""
