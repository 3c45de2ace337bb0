"""What a handler reads from its request: arguments and cookies."""

from __future__ import annotations

import datetime
import http.cookies
import re
from typing import TYPE_CHECKING, Any, overload

from squall.escape import to_unicode
from squall.httputil import format_timestamp
from squall.web._errors import HTTPError, MissingArgumentError
from squall.web._host import HandlerHost

if TYPE_CHECKING:
    pass

# clear_cookie sets an expiry this far in the past (Tornado's choice: a
# year), far enough that no client clock skew keeps the cookie alive.
_CLEARED_COOKIE_AGE = datetime.timedelta(days=365)
# Keywords of set_cookie that clear_cookie fixes itself, in the order checked.
_EXPIRY_KEYWORDS = ("expires", "max_age", "expires_days")
# Control characters other than whitespace are replaced in argument values:
# they have no business in form input and confuse logs and templates.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
# What set_cookie accepts as ``expires``: a POSIX timestamp, a time tuple
# (as from time.gmtime) or a datetime.
_Expiry = float | tuple[int, ...] | datetime.datetime


def _clean_text(value: str, strip: bool) -> str:
    # A space in place of each control character keeps word breaks.
    cleaned = _CONTROL_CHARS.sub(" ", value)
    return cleaned.strip() if strip else cleaned


# Cookie attributes must not smuggle another attribute or a new line.
_UNSAFE_COOKIE_ATTR = re.compile(r"[\x00-\x1f\x7f;]")


# RFC 6265 section 4.1.1: a cookie name is an RFC 2616 token (no controls,
# separators or spaces).
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class InvalidCookieError(http.cookies.CookieError, ValueError):
    """A cookie name, value or attribute that cannot be sent safely."""


class _ArgDefaultMarker:
    pass


_ARG_DEFAULT: Any = _ArgDefaultMarker()


class InputMixin(HandlerHost):
    """Arguments (query and body) and cookies, for ``RequestHandler``."""

    # -- arguments -------------------------------------------------------------

    @overload
    def get_argument(self, name: str, default: str, strip: bool = True) -> str: ...

    @overload
    def get_argument(
        self, name: str, default: _ArgDefaultMarker = ..., strip: bool = True
    ) -> str: ...

    @overload
    def get_argument(self, name: str, default: None, strip: bool = True) -> str | None: ...

    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """The last value of argument ``name`` from the query or the body.

        Without a default, a missing argument is a ``MissingArgumentError``
        (answered with 400). Values are decoded as UTF-8 and stripped.
        """
        return self._last_value(self.request.arguments, name, default, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Every value of argument ``name`` (an empty list if none)."""
        if not isinstance(strip, bool):
            raise TypeError("strip must be a bool; did you mean get_argument?")
        return self._every_value(self.request.arguments, name, strip)

    def get_body_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like ``get_argument``, from the request body only."""
        return self._last_value(self.request.body_arguments, name, default, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._every_value(self.request.body_arguments, name, strip)

    def get_query_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """Like ``get_argument``, from the query string only."""
        return self._last_value(self.request.query_arguments, name, default, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._every_value(self.request.query_arguments, name, strip)

    def _last_value(
        self, source: dict[str, list[bytes]], name: str, default: Any, strip: bool
    ) -> Any:
        # The last occurrence wins, as with repeated query parameters in most frameworks.
        found = self._every_value(source, name, strip)
        if found:
            return found[-1]
        if default is _ARG_DEFAULT:
            raise MissingArgumentError(name)
        return default

    def _every_value(self, source: dict[str, list[bytes]], name: str, strip: bool) -> list[str]:
        decoded = [self.decode_argument(raw, name=name) for raw in source.get(name, ())]
        # decode_argument may be overridden to return non-text; only text is cleaned.
        return [_clean_text(value, strip) if isinstance(value, str) else value for value in decoded]

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Decode one argument (or path group) from bytes; override to change.

        Invalid UTF-8 is the client's error: 400.
        """
        try:
            return to_unicode(value)
        except UnicodeDecodeError:
            raise HTTPError(400, "Invalid unicode in %s: %r", name or "url", value[:40]) from None

    # -- cookies ---------------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[Any]]:
        """The request's cookies (``request.cookies``)."""
        return self.request.cookies

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The value of cookie ``name``, or ``default``."""
        morsel = self.request.cookies.get(name)
        return default if morsel is None else str(morsel.value)

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: _Expiry | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a cookie on the response (added to any set before).

        Every attribute is checked: a value that could end the header or
        start another attribute (``;``, control characters) is a
        ``ValueError`` rather than a cookie an attacker shaped.
        """
        name = to_unicode(name)
        value = to_unicode(value)
        if not _COOKIE_NAME.match(name):
            # Tornado's wording: http.cookies calls the name an attribute.
            raise InvalidCookieError(f"Invalid cookie attribute name={name!r} for cookie {name!r}")
        if re.search(r"[\x00-\x20]", value):
            raise InvalidCookieError(f"Invalid cookie {name!r}: {value!r}")
        if max_age is not None:
            # An int, or a ValueError: text here could smuggle attributes
            # ("1; Path=/x") into the header.
            max_age = int(max_age)
        for attr_name, attr in (("domain", domain), ("path", path), ("samesite", samesite)):
            if attr is not None and _UNSAFE_COOKIE_ATTR.search(str(attr)):
                raise InvalidCookieError(f"Invalid cookie attribute {attr_name}: {attr!r}")
        new_cookies = self.__dict__.setdefault("_new_cookie", http.cookies.SimpleCookie())
        if name in new_cookies:
            del new_cookies[name]
        new_cookies[name] = value
        morsel = new_cookies[name]
        # An explicit ``expires`` wins over ``expires_days``.
        if not expires and expires_days is not None:
            now = datetime.datetime.now(datetime.timezone.utc)
            expires = now + datetime.timedelta(days=expires_days)
        # Falsy settings are left off the header entirely; max-age is given
        # as text because the cookie module would write an int unchecked.
        standard: dict[str, Any] = {
            "domain": domain,
            "expires": format_timestamp(expires) if expires else None,
            "path": path,
            "max-age": str(max_age) if max_age else None,
            "httponly": httponly,
            "secure": secure,
            "samesite": samesite,
        }
        for attr_key, setting in standard.items():
            if setting:
                morsel[attr_key] = setting
        for key, attr_value in kwargs.items():
            if key == "max_age":
                key = "max-age"
            if attr_value is not None and _UNSAFE_COOKIE_ATTR.search(str(attr_value)):
                raise InvalidCookieError(f"Invalid cookie attribute {key}: {attr_value!r}")
            # Attributes named with underscores (expires_days...) are not
            # cookie attributes; Morsel refuses unknown names itself.
            morsel[key] = attr_value

    def clear_cookie(self, name: str, **kwargs: Any) -> None:
        """Delete a cookie: set it empty, already expired.

        Pass the same ``path`` and ``domain`` it was set with, or the
        browser keeps it.
        """
        # The expiry is ours to choose, so the caller may not pass one.
        clashing = [key for key in _EXPIRY_KEYWORDS if key in kwargs]
        if clashing:
            raise TypeError(f"clear_cookie() got an unexpected keyword argument '{clashing[0]}'")
        long_gone = datetime.datetime.now(datetime.timezone.utc) - _CLEARED_COOKIE_AGE
        self.set_cookie(name, "", expires=long_gone, **kwargs)

    def clear_all_cookies(self, **kwargs: Any) -> None:
        """Delete every cookie the request carried (same path/domain caveat)."""
        for cookie_name in self.request.cookies.keys():
            self.clear_cookie(cookie_name, **kwargs)
