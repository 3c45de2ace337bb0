"""Decorators for handler methods and classes."""

from __future__ import annotations

import functools
import inspect
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from squall import gen
from squall.ioloop import callback_error_route
from squall.web._errors import HTTPError

if TYPE_CHECKING:
    from squall.web._handler import RequestHandler

_H = TypeVar("_H", bound="type[RequestHandler]")
_M = TypeVar("_M", bound=Callable[..., Any])


def stream_request_body(cls: _H) -> _H:
    """Deliver the request body to ``data_received`` as it arrives.

    ``prepare()`` runs when the headers are in (it may raise the size limit
    with ``self.request.connection.set_max_body_size``); the verb method
    runs once the whole body has been received.
    """
    from squall.web._handler import RequestHandler

    if not (isinstance(cls, type) and issubclass(cls, RequestHandler)):
        raise TypeError(f"expected subclass of RequestHandler, got {cls!r}")
    cls._stream_request_body = True
    return cls


def asynchronous(method: _M) -> _M:
    """The Tornado 1.x way to keep a request open: finish() ends it.

    Exceptions raised by callbacks the method schedules (directly or via
    ``async_callback``) reach this request's error page. If the method is a
    coroutine, the request finishes when it does.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> None:
        self._auto_finish = False
        token = callback_error_route.set(self._callback_error)
        try:
            result = method(self, *args, **kwargs)
        finally:
            callback_error_route.reset(token)
        if result is not None and inspect.isawaitable(result):
            future = gen.convert_yielded(result)

            def done(f: Any) -> None:
                if f.cancelled():
                    return
                exc = f.exception()
                if exc is not None:
                    self._handle_request_exception(exc)
                elif not self._finished:
                    self.finish()

            future.add_done_callback(done)
        return None

    return wrapper  # type: ignore[return-value]


def authenticated(method: _M) -> _M:
    """Require a logged-in user (``current_user``) for this method.

    Anonymous GET and HEAD requests are redirected to the ``login_url``
    setting with ``?next=`` the requested URL; other methods get 403.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        if self.current_user:
            return method(self, *args, **kwargs)
        if self.request.method not in _REDIRECTABLE:
            raise HTTPError(403)
        self.redirect(_login_target(self))
        return None

    return wrapper  # type: ignore[return-value]


def removeslash(method: _M) -> _M:
    """Redirect ``/path/`` to ``/path`` (GET and HEAD; 404 otherwise).

    Only the path changes: a target that would leave this site (``//evil``)
    is refused.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        current = self.request.path
        assert current is not None
        if not current.endswith("/"):
            return method(self, *args, **kwargs)
        if self.request.method not in _REDIRECTABLE:
            raise HTTPError(404)
        trimmed = current.rstrip("/")
        if not trimmed:  # the site root keeps its slash
            return method(self, *args, **kwargs)
        _move_permanently(self, trimmed)
        return None

    return wrapper  # type: ignore[return-value]


def addslash(method: _M) -> _M:
    """Redirect ``/path`` to ``/path/`` (GET and HEAD; 404 otherwise)."""

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        current = self.request.path
        assert current is not None
        if current.endswith("/"):
            return method(self, *args, **kwargs)
        if self.request.method not in _REDIRECTABLE:
            raise HTTPError(404)
        _move_permanently(self, current + "/")
        return None

    return wrapper  # type: ignore[return-value]


# Only safe methods are answered with a redirect by these decorators.
_REDIRECTABLE = ("GET", "HEAD")


def _login_target(handler: RequestHandler) -> str:
    """The login URL, with ``next`` added unless it already has a query."""
    login_url = handler.get_login_url()
    if "?" in login_url:
        return login_url
    if urllib.parse.urlsplit(login_url).scheme:
        # The login page is on another origin: it needs the full URL back.
        came_from = handler.request.full_url()
    else:
        assert handler.request.uri is not None
        came_from = handler.request.uri
    return f"{login_url}?{urllib.parse.urlencode({'next': came_from})}"


def _move_permanently(handler: RequestHandler, new_path: str) -> None:
    """301 to ``new_path`` on this site, keeping the query string.

    A path starting ``//`` or ``/\\`` would be read by browsers as another
    host, so it is refused with 403 instead (Tornado's status and message).
    """
    if new_path.startswith(("//", "/\\")):
        raise HTTPError(403, "cannot redirect path with two initial slashes")
    query = handler.request.query
    handler.redirect(f"{new_path}?{query}" if query else new_path, permanent=True)
