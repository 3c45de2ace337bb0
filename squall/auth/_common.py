"""What every protocol module shares: the HTTP client, the provider's
answer turned into data or an ``AuthError``, and the two calling styles.

Calling styles: every ``get_authenticated_user`` and ``*_request`` returns
an awaitable (Tornado 6), and also accepts ``callback=`` (Tornado 1.x). With
a callback the result is delivered through the IOLoop, in the caller's
context, so an exception raised by the callback becomes the error page of
an ``@asynchronous`` handler, exactly as ``self.async_callback`` did.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from squall.auth._errors import AuthError
from squall.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from squall.ioloop import IOLoop, callback_error_route
from squall.log import gen_log

_T = TypeVar("_T")

# How long one call to a provider may take: half of Tornado's client
# default (20 s), because a visitor is waiting on a sign-in page meanwhile
# and providers answer token and user-info calls in well under a second.
PROVIDER_REQUEST_TIMEOUT = 10.0


class HandlerBase:
    """What the mixins use of the RequestHandler they are mixed into.

    Only for the type checker: at run time the handler provides these.
    """

    if TYPE_CHECKING:
        request: Any

        @property
        def settings(self) -> dict[str, Any]: ...

        def get_argument(self, name: str, default: Any = ..., strip: bool = ...) -> Any: ...

        def get_arguments(self, name: str, strip: bool = ...) -> list[str]: ...

        def get_cookie(self, name: str, default: str | None = None) -> str | None: ...

        def set_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None: ...

        def clear_cookie(self, name: str, **kwargs: Any) -> None: ...

        def set_signed_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None: ...

        def get_signed_cookie(self, name: str, **kwargs: Any) -> bytes | None: ...

        def redirect(
            self, url: str, permanent: bool = False, status: int | None = None
        ) -> None: ...

        def require_setting(self, name: str, feature: str = ...) -> None: ...

    def get_auth_http_client(self) -> AsyncHTTPClient:
        """The HTTP client the mixin talks to the provider with.

        Override to use another one (with other defaults or a proxy).
        """
        return AsyncHTTPClient()


def absolute_url(handler: HandlerBase, uri: str | None) -> str:
    """``uri`` resolved against the URL of the current request."""
    full: str = handler.request.full_url()
    target: str = uri if uri is not None else handler.request.uri
    return urllib.parse.urljoin(full, target)


async def provider_fetch(
    client: AsyncHTTPClient, request: HTTPRequest | str, what: str, **kwargs: Any
) -> HTTPResponse:
    """Fetch from the provider; any failure (network, timeout, a non-2xx
    status) is an ``AuthError`` naming the step."""
    if isinstance(request, HTTPRequest):
        if request.request_timeout is None:
            request.request_timeout = PROVIDER_REQUEST_TIMEOUT
    else:
        kwargs.setdefault("request_timeout", PROVIDER_REQUEST_TIMEOUT)
    try:
        return await client.fetch(request, raise_error=True, **kwargs)
    except HTTPClientError as e:
        raise AuthError(f"{what} failed: provider answered {e.code}") from e
    except (OSError, asyncio.TimeoutError) as e:
        raise AuthError(f"{what} failed: {e}") from e


def json_body(response: HTTPResponse, what: str) -> Any:
    """The response body as JSON; anything else is an ``AuthError``."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as e:
        raise AuthError(f"{what}: the provider's answer is not JSON") from e


def json_object(response: HTTPResponse, what: str) -> dict[str, Any]:
    """The response body as a JSON object (a dict)."""
    value = json_body(response, what)
    if not isinstance(value, dict):
        raise AuthError(f"{what}: the provider's answer is not a JSON object")
    return value


def deliver(
    coro: Coroutine[Any, Any, _T], callback: Callable[[Any], Any] | None
) -> asyncio.Future[_T] | None:
    """Run a flow in one of the two calling styles.

    Without a callback: the running Task, to await. With one: None; the
    callback later receives the result, or ``None`` if the flow failed with
    an ``AuthError`` or an API call with an ``HTTPClientError`` (logged as a
    warning: the 1.x behaviour). Other exceptions are programming errors and
    go where the caller's errors go.
    """
    task = asyncio.ensure_future(coro)
    if callback is None:
        return task

    def done(future: asyncio.Future[_T]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, (AuthError, HTTPClientError)):
            gen_log.warning("Third-party sign-in or API call failed: %s", error)
            callback(None)
            return
        if error is not None:
            raise error
        callback(future.result())

    IOLoop.current().add_future(task, done)
    return None


def start_redirect(coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
    """Run a redirecting step that must fetch first (OAuth 1.0a's request
    token, OpenID Connect discovery).

    Tornado 6 code awaits the result. Tornado 1.x code called it and
    returned from an ``@asynchronous`` method without waiting; there a
    failure must still reach the handler's error page, so it is sent to the
    error route the handler set for its callbacks.
    """
    task = asyncio.ensure_future(coro)
    route = callback_error_route.get()
    if route is not None:

        def report(future: asyncio.Future[None]) -> None:
            if not future.cancelled() and future.exception() is not None:
                error = future.exception()
                assert error is not None
                route(error if isinstance(error, Exception) else Exception(str(error)))

        task.add_done_callback(report)
    return task
