"""Signed cookies, users, XSRF and static URLs for ``RequestHandler``.

The pieces live in their own modules (``_signing``, ``_xsrf``, ``_static``);
this one composes them and adds the user: ``current_user`` comes from
``get_current_user`` (override it, typically reading a signed cookie), is
computed once per request and may be assigned (e.g. in an async
``prepare``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from squall.web._signing import SigningMixin
from squall.web._xsrf import XsrfMixin

if TYPE_CHECKING:
    pass


class SecurityMixin(SigningMixin, XsrfMixin):
    """Signed cookies, ``current_user``, XSRF and ``static_url``, mixed into
    RequestHandler."""

    # -- users -------------------------------------------------------------------

    @property
    def current_user(self) -> Any:
        """The logged-in user (anything truthy), or None.

        Computed by ``get_current_user`` on first use, then cached for the
        request; assign it to set it some other way.
        """
        if "_current_user" not in self.__dict__:
            self.__dict__["_current_user"] = self.get_current_user()
        return self.__dict__["_current_user"]

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self.__dict__["_current_user"] = value

    def get_current_user(self) -> Any:
        """Override to identify the user (e.g. from a signed cookie)."""
        return None

    def get_login_url(self) -> str:
        """Where ``@authenticated`` sends anonymous visitors (``login_url``)."""
        self.require_setting("login_url", "@squall.web.authenticated")
        return str(self.settings["login_url"])

    # -- static files ------------------------------------------------------------

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """The URL of static file ``path``, with ``?v=<hash>`` for caching.

        ``include_host`` (default: the handler's ``include_host`` attribute,
        else False) makes it absolute. Keyword arguments go to the static
        handler class's ``make_static_url``.
        """
        self.require_setting("static_path", "static_url")
        # Application sets the default (StaticFileHandler): reaching it
        # through the settings keeps this module free of an import circle.
        handler_class = self.settings["static_handler_class"]
        url = handler_class.make_static_url(self.settings, path, **kwargs)
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        if include_host:
            return f"{self.request.protocol}://{self.request.host}{url}"
        return str(url)
