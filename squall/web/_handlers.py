"""Ready-made handlers: redirects, fixed errors, WSGI fallback."""

from __future__ import annotations

import re
import string
import urllib.parse
from typing import Any

from squall.httputil import qs_to_qsl, url_concat
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler


class ErrorHandler(RequestHandler):
    """Answers every request with ``status_code`` (404 for unknown URLs)."""

    def check_xsrf_cookie(self) -> None:
        """Skipped: a POST to a missing URL should be a 404, not a 403."""

    def _check_cross_origin(self) -> None:
        """Skipped too: the error status is the answer, whoever asks."""

    def initialize(self, status_code: int) -> None:
        self._fixed_status = status_code
        self.set_status(status_code)

    def prepare(self) -> None:
        # Fail before any verb method runs, whatever the method.
        raise HTTPError(self._fixed_status)


class RedirectHandler(RequestHandler):
    """Redirects to ``url``, substituting the route's groups.

    ``(r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"})``; named groups
    fill ``{name}``. The query string is kept. The groups can only fill in
    the path: a substitution that would change scheme or host (``//evil``)
    is refused with 400.
    """

    def initialize(self, url: str, permanent: bool = True) -> None:
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        target = self._url.format(*args, **kwargs)
        # The template's text before its first substitution fixes the scheme
        # and host; what the request fills in may only extend the path.
        fixed = _literal_prefix(self._url)
        try:
            changed = fixed is not None and _origin(target) != _origin(fixed)
        except ValueError:  # urlsplit: e.g. an unbalanced "[" in the host
            raise HTTPError(400, "Redirect URL contains invalid characters") from None
        if changed:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
        if _BREAKS_HEADER.search(target):
            raise HTTPError(400, "Redirect URL contains invalid characters")
        if self.request.query_arguments:
            target = url_concat(target, list(qs_to_qsl(self.request.query_arguments)))  # type: ignore[arg-type]
        self.redirect(target, permanent=self._permanent)


def _literal_prefix(template: str) -> str | None:
    """The text of ``template`` before its first ``{field}`` (None: no fields)."""
    prefix = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        prefix.append(literal)
        if field is not None:
            return "".join(prefix)
    return None


def _origin(url: str) -> tuple[str, str]:
    """Scheme and host a browser would take from ``url`` (WHATWG URL rules).

    Browsers drop tabs and newlines, read ``\\`` as ``/``, and skip any
    number of slashes before the host of an http(s) URL, so ``/\\host``,
    ``///host`` and ``https:host`` all name a host.
    """
    url = url.translate(_DROPPED_BY_BROWSERS).replace("\\", "/")
    scheme, colon, rest = url.partition(":")
    if colon and scheme.lower() in ("http", "https") and "/" not in scheme:
        url = f"{scheme}://{rest.lstrip('/')}"
    elif url.startswith("//"):
        url = "//" + url.lstrip("/")
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


# What set_header refuses in a value (control characters but tab): in a
# redirect target it is the client's doing, so a 400 rather than a 500.
_BREAKS_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Characters the WHATWG URL parser removes before parsing.
_DROPPED_BY_BROWSERS = str.maketrans("", "", "\t\n\r")


class FallbackHandler(RequestHandler):
    """Hands requests to a plain ``callable(request)`` (a WSGI container)."""

    def initialize(self, fallback: Any) -> None:
        """``fallback`` answers the request completely by itself."""
        self.fallback = fallback

    def prepare(self) -> None:
        respond = self.fallback
        respond(self.request)
        # The response is already written; this handler only wraps up.
        self._finished = True
        self.on_finish()
