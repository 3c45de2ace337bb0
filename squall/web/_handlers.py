"""Ready-made handlers: redirects, fixed errors, WSGI fallback."""

from __future__ import annotations

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
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
            raise HTTPError(400, "Redirect URL contains invalid characters")
        # The template's text before its first substitution fixes the scheme
        # and host; what the request fills in may only extend the path.
        fixed = _literal_prefix(self._url)
        try:
            changed = fixed is not None and _origin(target) != _origin(fixed)
        except ValueError:  # urlsplit: e.g. an unbalanced "[" in the host
            raise HTTPError(400, "Redirect URL contains invalid characters") from None
        if changed:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
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
    """Scheme and host a browser would take from ``url``.

    Browsers read ``/\\host`` like ``//host`` (a network-path reference).
    """
    if url.startswith("/\\"):
        url = "//" + url[2:]
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


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
