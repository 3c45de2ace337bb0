"""What the ``RequestHandler`` mixins may use of the handler they are mixed
into, declared once: each mixin subclasses ``HandlerHost`` instead of
re-declaring ``settings``, ``request`` and the rest for the type checker.

At run time ``HandlerHost`` is plain ``object``: nothing is added to the
handler's class or its method lookups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["HandlerHost"]

if TYPE_CHECKING:
    import asyncio

    from squall.httputil import HTTPServerRequest
    from squall.web._application import Application

    class HandlerHost(Protocol):
        application: Application
        request: HTTPServerRequest
        _finished: bool

        @property
        def settings(self) -> dict[str, Any]: ...

        @property
        def ui(self) -> Any: ...

        @property
        def current_user(self) -> Any: ...

        def require_setting(self, name: str, feature: str = ...) -> None: ...

        def get_cookie(self, name: str, default: str | None = None) -> str | None: ...

        def set_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None: ...

        def get_argument(self, name: str, default: Any = ..., strip: bool = True) -> Any: ...

        def finish(self, chunk: Any = None) -> asyncio.Future[None]: ...

        def reverse_url(self, name: str, *args: Any) -> str: ...

else:
    HandlerHost = object
