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
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                url = self.get_login_url()
                if "?" not in url:
                    if urllib.parse.urlsplit(url).scheme:
                        # An absolute login URL: send the full next URL.
                        next_url = self.request.full_url()
                    else:
                        assert self.request.uri is not None
                        next_url = self.request.uri
                    url += "?" + urllib.parse.urlencode({"next": next_url})
                self.redirect(url)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def removeslash(method: _M) -> _M:
    """Redirect ``/path/`` to ``/path`` (GET and HEAD; 404 otherwise).

    Only the path changes: a target that would leave this site (``//evil``)
    is refused.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        assert self.request.path is not None
        if self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path.rstrip("/")
                if uri:
                    if uri.startswith("//") or uri.startswith("/\\"):
                        raise HTTPError(404)
                    if self.request.query:
                        uri += "?" + self.request.query
                    self.redirect(uri, permanent=True)
                    return None
            else:
                raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def addslash(method: _M) -> _M:
    """Redirect ``/path`` to ``/path/`` (GET and HEAD; 404 otherwise)."""

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Any:
        assert self.request.path is not None
        if not self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path + "/"
                if uri.startswith("//") or uri.startswith("/\\"):
                    raise HTTPError(404)
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
            raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
