"""Ready-made handlers: redirects, fixed errors, WSGI fallback."""

from __future__ import annotations

import urllib.parse
from typing import Any

from squall.httputil import qs_to_qsl, url_concat
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler


class ErrorHandler(RequestHandler):
    """Answers every request with ``status_code`` (404 for unknown URLs)."""

    def check_xsrf_cookie(self) -> None:
        """Skipped: a POST to a missing URL should be a 404, not a 403."""

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
        # The same template filled with harmless text shows where it points.
        intended = self._url.format(*["x"] * len(args), **dict.fromkeys(kwargs, "x"))
        if _origin(target) != _origin(intended):
            raise HTTPError(400, "redirect substitution would change scheme or host")
        if self.request.query_arguments:
            target = url_concat(target, list(qs_to_qsl(self.request.query_arguments)))  # type: ignore[arg-type]
        self.redirect(target, permanent=self._permanent)


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
