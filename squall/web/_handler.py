"""``RequestHandler``: one object per request, from routing to finish().

Lifecycle: the application builds a handler for each request, calls
``initialize(**kwargs)`` from the route, then ``prepare()``, then the method
named after the HTTP verb with the URL's groups, then ``on_finish()`` once
the response is sent. ``prepare`` and the verb methods may be plain
functions, ``async def`` or ``@gen.coroutine``: a synchronous handler runs
start to finish with no Task or Future created for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.cookies
import inspect
import re
import traceback
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from squall import gen, iostream
from squall._http1._abnf import is_token
from squall.concurrent import future_set_result_unless_cancelled
from squall.escape import json_encode, utf8, xhtml_escape
from squall.httputil import (
    HTTPHeaders,
    HTTPServerRequest,
    ResponseStartLine,
    format_timestamp,
    responses,
)
from squall.log import app_log, gen_log
from squall.web._errors import Finish, HTTPError
from squall.web._input import InputMixin
from squall.web._render import RenderMixin
from squall.web._security import SecurityMixin

if TYPE_CHECKING:
    import asyncio

    from squall.web._application import Application
    from squall.web._transforms import OutputTransform

# The first of the three values of sys.exc_info().
_ExceptionClass = type[BaseException]

_SERVER = "SquallServer/" + __import__("squall").version
# Header names already validated (a bounded cache: names come from code,
# not from requests, so they repeat).
_CHECKED_NAMES: set[str] = set()
_CHECKED_NAMES_MAX = 1000
# Response start lines, built once per (status, reason).
_START_LINES: dict[tuple[int, str], ResponseStartLine] = {}
# Header values may not carry control characters other than tab (CR and LF
# above all: they would start a new header on the wire).
_UNSAFE_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A reason phrase shown in an error page must not be able to inject markup;
# Tornado 6.6 falls back to "Unknown" for these, and so do we.
_UNSAFE_REASON = re.compile(r"[<>\x00-\x08\x0a-\x1f\x7f]")


def _no_route_arguments(self: Any) -> None:
    """The default ``initialize``: a route that passes no keyword arguments."""


class RequestHandler(InputMixin, RenderMixin, SecurityMixin):
    """Base class for HTTP request handlers: subclass and define ``get()``...

    Methods not defined answer 405. ``SUPPORTED_METHODS`` lists the verbs
    the handler accepts at all.
    """

    SUPPORTED_METHODS: tuple[str, ...] = tuple("GET HEAD POST DELETE PATCH PUT OPTIONS".split())

    _stream_request_body = False

    # Response state every handler starts with (instance attributes once
    # changed): nothing sent, nothing finished; finish() runs by itself
    # after the verb method unless @asynchronous turns that off.
    _finished = False
    _headers_written = False
    _auto_finish = True
    _prepared_future: asyncio.Future[None] | None = None
    _transforms: list[OutputTransform] = []  # replaced, never mutated

    path_args: list[str]
    path_kwargs: dict[str, str]

    def __init__(self, application: Application, request: HTTPServerRequest, **kwargs: Any) -> None:
        self.request = request
        self.application = application
        self.path_kwargs = {}
        self.path_args = []
        self.clear()
        connection = request.connection
        if connection is not None:
            connection.set_close_callback(self.on_connection_close)  # type: ignore[attr-defined]
        self.initialize(**kwargs)

    initialize: Callable[..., None] = _no_route_arguments
    """Hook for the route's keyword arguments: ``(r"/", H, {"db": db})``
    calls ``initialize(db=db)`` on each new handler."""

    @property
    def ui(self) -> Any:
        """Namespace of UI methods and modules for templates (built on use)."""
        ui = self.__dict__.get("_ui")
        if ui is None:
            ui = self._ui = self.application.ui_for(self)
        return ui

    @property
    def settings(self) -> dict[str, Any]:
        """The application's settings (``Application(**settings)``)."""
        return self.application.settings

    # -- hooks -----------------------------------------------------------------

    def prepare(self) -> Awaitable[None] | None:
        """Called before the verb method; may finish the request itself."""
        return None

    def on_finish(self) -> None:
        """Called after the response is sent (for cleanup and logging)."""

    def on_connection_close(self) -> None:
        """Called if the client goes away before the response is finished.

        Long-polling handlers override this to stop waiting. It is not
        called for connections closed after a finished response.
        """
        if self._stream_request_body:
            body_future = getattr(self.request, "_body_future", None)
            if body_future is not None and not body_future.done():
                body_future.set_exception(iostream.StreamClosedError())
                body_future.exception()  # nobody may be awaiting it: no warning

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Receives the body in pieces, for ``@stream_request_body`` handlers."""
        raise NotImplementedError()

    # -- status and headers ----------------------------------------------------

    def clear(self) -> None:
        """Reset the headers and buffered body to their defaults."""
        self._headers = HTTPHeaders._from_fields(
            {"Server": [_SERVER], "Content-Type": ["text/html; charset=UTF-8"]}
        )
        self.set_default_headers()
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = "OK"

    def set_default_headers(self) -> None:
        """Override to set headers on every response, errors included."""

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the response status. An unknown code needs a ``reason``.

        A reason that could inject markup or a line break is replaced by
        "Unknown".
        """
        self._status_code = status_code
        if reason is None:
            reason = responses.get(status_code, "Unknown")
        if not reason or _UNSAFE_REASON.search(reason):
            reason = "Unknown"
        self._reason = reason

    def get_status(self) -> int:
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        """Set a response header, replacing any of that name.

        ``value`` may be str, bytes, int or datetime. A name that is not a
        token or a value with a line break is a ``ValueError``: it never
        reaches the wire.
        """
        self._headers[self._check_header_name(name)] = self._convert_header_value(value)

    def add_header(self, name: str, value: Any) -> None:
        """Add a response header, keeping those of the same name."""
        self._headers.add(self._check_header_name(name), self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        """Remove a response header (e.g. one set by ``set_default_headers``)."""
        if name in self._headers:
            del self._headers[name]

    @staticmethod
    def _check_header_name(name: str) -> str:
        if name not in _CHECKED_NAMES:
            if not is_token(name):  # RFC 9110 §5.6.2, the HTTP/1 core's grammar
                raise ValueError(f"Invalid header name {name!r}")
            if len(_CHECKED_NAMES) < _CHECKED_NAMES_MAX:
                _CHECKED_NAMES.add(name)
        return name

    @staticmethod
    def _convert_header_value(value: Any) -> str:
        if isinstance(value, str):
            # Printable ASCII is the common case and needs no regex.
            if value.isascii() and value.isprintable():
                return value
            result = value
        elif isinstance(value, bytes):
            result = value.decode("latin-1")
        elif isinstance(value, int):
            return str(value)
        elif hasattr(value, "timetuple"):
            return format_timestamp(value)
        else:
            raise TypeError(f"Unsupported header value {value!r}")
        if _UNSAFE_HEADER_VALUE.search(result):
            raise ValueError(f"Unsafe header value {result!r}")
        return result

    # -- output ----------------------------------------------------------------

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Buffer ``chunk`` for the response body.

        A dict is sent as JSON (with ``Content-Type: application/json``).
        Lists are refused: a top-level JSON array could be read by another
        site through a ``<script>`` tag in old browsers.
        """
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if type(chunk) is str:  # the common case, checked first
            self._write_buffer.append(chunk.encode("utf-8"))
            return
        if not isinstance(chunk, (bytes, str, dict)):
            message = "write() only accepts bytes, unicode, and dict objects"
            if isinstance(chunk, list):
                message += (
                    ". Lists not accepted for security reasons; see "
                    "http://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
                )
            raise TypeError(message)
        if isinstance(chunk, dict):
            chunk = json_encode(chunk)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
        self._write_buffer.append(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)

    def flush(self, include_footers: bool = False) -> asyncio.Future[None]:
        """Send the buffered output now (headers first, the first time)."""
        conn = self.request.connection
        assert conn is not None
        pending, self._write_buffer = self._write_buffer, []
        chunk = b"".join(pending)
        if not self._headers_written:
            self._headers_written = True
            status, headers = self._status_code, self._headers
            for transform in self._transforms:
                status, headers, chunk = transform.transform_first_chunk(
                    status, headers, chunk, include_footers
                )
            if self.request.method == "HEAD":
                chunk = b""
            # Cookies set with set_cookie become Set-Cookie headers here.
            cookies: http.cookies.SimpleCookie | None = self.__dict__.get("_new_cookie")
            if cookies:
                for morsel in cookies.values():
                    headers.add("Set-Cookie", morsel.OutputString(None))
            key = (status, self._reason)
            start_line = _START_LINES.get(key)
            if start_line is None:
                start_line = ResponseStartLine("HTTP/1.1", status, self._reason)
                if len(_START_LINES) < 1000:  # bounded: reasons can be app-chosen
                    _START_LINES[key] = start_line
            return conn.write_headers(start_line, headers, chunk)
        for transform in self._transforms:
            chunk = transform.transform_chunk(chunk, include_footers)
        return conn.write(b"" if self.request.method == "HEAD" else chunk)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> asyncio.Future[None]:
        """End the response, writing ``chunk`` first if given.

        Adds an ``Etag`` (and answers 304 when the client already has that
        version) and a ``Content-Length`` when the body was not flushed.
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        connection = self.request.connection
        assert connection is not None
        if chunk is not None:
            self.write(chunk)
        if not self._headers_written:
            self._complete_headers()
        connection.set_close_callback(None)  # type: ignore[attr-defined]
        sent = self.flush(include_footers=True)
        connection.finish()
        self.application.log_request(self)
        # Only now is the handler finished: the access log above still sees
        # a handler in progress, on_finish below sees a finished one.
        self._finished = True
        self.on_finish()
        if "_ui" in self.__dict__:
            # The UI modules refer back to the handler: breaking that cycle
            # frees the handler by reference counting, which matters for
            # servers holding many long requests.
            del self._ui
        return sent

    def _complete_headers(self) -> None:
        """The headers only finish() can set: Etag (or a 304 instead of the
        body) and Content-Length."""
        buffer = self._write_buffer
        if len(buffer) > 1:
            # One piece from here on: hashed, measured and sent as it is.
            buffer = self._write_buffer = [b"".join(buffer)]
        fields = self._headers._lists
        request = self.request
        if self._status_code == 200 and request.method in ("GET", "HEAD") and "Etag" not in fields:
            self.set_etag_header()
            if "If-None-Match" in request.headers._lists and self.check_etag_header():
                self._write_buffer = []
                self.set_status(304)
        status = self._status_code
        if status in (204, 304) or 100 <= status < 200:
            assert not self._write_buffer, f"Cannot send body with {status}"
            self._clear_representation_headers()
        elif "Content-Length" not in fields:
            buffer = self._write_buffer
            size = len(buffer[0]) if len(buffer) == 1 else sum(map(len, buffer))
            fields["Content-Length"] = [str(size)]

    def _clear_representation_headers(self) -> None:
        # RFC 9110 §15.4.5: a 304 describes the representation by reference;
        # headers about the (absent) body would be wrong.
        for name in ("Content-Encoding", "Content-Language", "Content-Type"):
            self.clear_header(name)

    def detach(self) -> iostream.IOStream:
        """Take over the connection as an IOStream; HTTP stops serving it."""
        self._finished = True
        return self.request.connection.detach()  # type: ignore[union-attr, no-any-return]

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to ``url`` (302, or 301 if permanent, or ``status``)."""
        if self._headers_written:
            raise Exception("Cannot redirect after headers have been written")
        if status is not None and not 300 <= status <= 399:
            raise ValueError(f"redirect status must be 3xx, not {status}")
        # Without an explicit status, ``permanent`` picks 301 over 302.
        code = status if status is not None else (301 if permanent else 302)
        self.set_header("Location", utf8(url))
        self.set_status(code)
        self.finish()

    # -- ETags -----------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """The ETag for the buffered body (a SHA-1); None for no ETag."""
        digest = hashlib.sha1(b"".join(self._write_buffer)).hexdigest()
        return f'"{digest}"'

    def set_etag_header(self) -> None:
        """Set the ``Etag`` header from ``compute_etag()`` (unless it is None)."""
        tag = self.compute_etag()
        if tag is None:
            return
        if type(tag) is str and tag.isascii() and tag.isprintable():
            self._headers._lists["Etag"] = [tag]  # plain ASCII: no checks needed
        else:
            self.set_header("Etag", tag)

    def check_etag_header(self) -> bool:
        """Whether the request's If-None-Match matches our Etag (weakly).

        RFC 9110 §13.1.2: ``*`` matches anything; ``W/`` prefixes are
        ignored for this comparison.
        """
        computed = utf8(self._headers.get("Etag", ""))
        if not computed:
            return False
        header = utf8(self.request.headers.get("If-None-Match", ""))
        if not header:
            return False
        if header.strip() == b"*":
            return True
        tags = re.findall(rb'\*|(?:W/)?"[^"]*"', header)

        def strip_weak(tag: bytes) -> bytes:
            return tag[2:] if tag.startswith(b"W/") else tag

        target = strip_weak(computed)
        return any(strip_weak(tag) == target for tag in tags)

    # -- errors ----------------------------------------------------------------

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Answer with an error page (``write_error``) unless already sent."""
        if self._headers_written:
            # Too late for an error page: end what was started, if anything.
            gen_log.error("Cannot send error response after headers written")
            self._end_partial_response()
            return
        self.clear()
        self.set_status(status_code, reason=_error_reason(kwargs))
        if status_code in (204, 304) or 100 <= status_code < 200:
            # These answers never carry a body, so there is no page to write.
            self.finish()
            return
        try:
            if not _overrides(self, "get_error_html"):
                self.write_error(status_code, **kwargs)
            else:
                # The 1.x hook: it returns the page rather than writing it.
                page = self.get_error_html(status_code, **kwargs)  # type: ignore[attr-defined]
                self.finish(page)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if self._finished:
            return
        self.finish()

    def _end_partial_response(self) -> None:
        if self._finished:
            return
        try:
            self.finish()
        except Exception:
            gen_log.error("Failed to flush partial response", exc_info=True)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the error page. Override for custom pages.

        ``kwargs["exc_info"]`` holds the exception, if one caused the
        error. With ``serve_traceback`` (or ``debug``) the traceback is the
        page, as plain text.
        """
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and self.settings.get("serve_traceback"):
            # The whole traceback, as one plain-text body.
            self.set_header("Content-Type", "text/plain")
            self.finish("".join(traceback.format_exception(*exc_info)))
            return
        summary = f"{status_code}: {xhtml_escape(self._reason)}"
        self.finish(f"<html><title>{summary}</title><body>{summary}</body></html>")

    def log_exception(
        self, typ: _ExceptionClass | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Log an exception from a handler; override to change how.

        An ``HTTPError`` logs its ``log_message`` as a warning (no traceback);
        anything else is an error with its traceback.
        """
        if not isinstance(value, HTTPError):
            app_log.error(
                "Uncaught exception %s\n%r",
                self._request_summary(),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )
        elif value.log_message:
            # An expected failure, told in the handler's own words: no traceback.
            gen_log.warning(
                "%d %s: " + value.log_message,
                value.status_code,
                self._request_summary(),
                *value.args,
            )

    def _request_summary(self) -> str:
        return f"{self.request.method} {self.request.uri} ({self.request.remote_ip})"

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, Finish):
            self._finish_early(e)
            return
        if isinstance(e, iostream.StreamClosedError):
            # The client left mid-upload or mid-download: nobody to answer,
            # and a client's own disconnect is not an error of ours.
            gen_log.debug("%s: the client closed the connection", self._request_summary())
            return
        try:
            self.log_exception(type(e), e, e.__traceback__)
        except Exception:
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            return  # the response went out already; the log is all we can do
        status = e.status_code if isinstance(e, HTTPError) else 500
        self.send_error(status, exc_info=(type(e), e, e.__traceback__))

    def _finish_early(self, signal: Finish) -> None:
        # ``raise Finish(chunk)`` ends the response on purpose; a handler that
        # has already finished has nothing left to send.
        if not self._finished:
            self.finish(*signal.args)

    def _log(self) -> None:
        self.application.log_request(self)

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        """Raise unless the application has setting ``name``."""
        if not self.application.settings.get(name):
            raise Exception(
                f"You must define the '{name}' setting in your application to use {feature}"
            )

    def reverse_url(self, name: str, *args: Any) -> str:
        """``Application.reverse_url``."""
        return self.application.reverse_url(name, *args)

    # -- the 1.x idioms ----------------------------------------------------------

    def async_callback(
        self, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Callable[..., Any]:
        """Wrap a callback so that its exceptions become this request's error.

        The Tornado 1.x idiom for callbacks given to asynchronous APIs; with
        ``@asynchronous`` handlers squall also routes exceptions from plain
        callbacks this way.
        """
        if callback is None:
            return None

        def wrapper(*cb_args: Any, **cb_kwargs: Any) -> Any:
            try:
                return callback(*args, *cb_args, **kwargs, **cb_kwargs)
            except Exception as e:
                self._callback_error(e)
                return None

        return wrapper

    def _callback_error(self, e: Exception) -> None:
        """An exception from one of this request's callbacks: its error page."""
        if self._finished:
            app_log.error("Exception in callback after the request finished", exc_info=e)
        elif self._headers_written:
            app_log.error("Exception after headers written", exc_info=e)
            self._finished = True
            self.request.connection.finish()  # type: ignore[union-attr]
        else:
            self._handle_request_exception(e)

    # -- running a request -------------------------------------------------------

    def _execute(
        self, transforms: list[OutputTransform], *args: bytes, **kwargs: bytes
    ) -> Awaitable[None] | None:
        """Run the request: synchronously when every step is synchronous.

        Returns None when the handler has run to completion (or is left
        open by ``@asynchronous``), or a coroutine to await when a step
        returned an awaitable.
        """
        self._transforms = transforms
        try:
            method_name = self.request.method
            if method_name not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            if args:
                self.path_args = [self.decode_argument(arg) for arg in args]
            if kwargs:
                self.path_kwargs = {k: self.decode_argument(v, name=k) for k, v in kwargs.items()}
            if method_name not in ("GET", "HEAD", "OPTIONS"):
                settings = self.settings
                if settings.get("cross_origin_protection"):
                    self._check_cross_origin()
                if settings.get("xsrf_cookies"):
                    self.check_xsrf_cookie()
            result = self.prepare()
            if result is not None and inspect.isawaitable(result):
                return self._continue_async(result, prepared=False)
            if self._prepared_future is not None:
                future_set_result_unless_cancelled(self._prepared_future, None)
            if self._finished:
                return None
            if self._stream_request_body:
                return self._continue_async(None, prepared=True)
            method = self._verb_method()
            result = method(*self.path_args, **self.path_kwargs)
            if result is not None and inspect.isawaitable(result):
                return self._continue_async(result, prepared=True, called=True)
            if self._auto_finish and not self._finished:
                self.finish()
        except Exception as e:
            self._handle_request_exception(e)
            if self._prepared_future is not None and not self._prepared_future.done():
                self._prepared_future.set_result(None)
        except asyncio.CancelledError as e:
            # Raised by the handler's own code: an error like any other (a
            # 500), as in Tornado. There is no task here to be cancelled.
            self._handle_request_exception(e)
        return None

    async def _continue_async(self, pending: Any, prepared: bool, called: bool = False) -> None:
        awaited: Any = None
        try:
            if pending is not None:
                awaited = gen.convert_yielded(pending)
                await awaited
            if not prepared:
                if self._prepared_future is not None:
                    future_set_result_unless_cancelled(self._prepared_future, None)
                if self._finished:
                    return
            if not called:
                if self._stream_request_body:
                    await self.request._body_future  # type: ignore[attr-defined]
                method = self._verb_method()
                result = method(*self.path_args, **self.path_kwargs)
                if result is not None and inspect.isawaitable(result):
                    awaited = gen.convert_yielded(result)
                    await awaited
            if self._auto_finish and not self._finished:
                self.finish()
        except Exception as e:
            self._handle_request_exception(e)
        except asyncio.CancelledError as e:
            ours = _task_is_being_cancelled()
            if ours or _was_cancelled(awaited):
                # The handler's task was cancelled from outside: answer (a
                # 500, nothing logged, as Tornado does); that task ends
                # cancelled.
                if not self._finished and not self._headers_written:
                    self.send_error(500)
                if ours:
                    raise
                return
            self._handle_request_exception(e)
        finally:
            if self._prepared_future is not None and not self._prepared_future.done():
                self._prepared_future.set_result(None)

    def _verb_method(self) -> Callable[..., Any]:
        verb = self.request.method
        method = getattr(self, _VERB_ATTRIBUTES.get(verb) or verb.lower(), None)
        if method is None or getattr(method, "__func__", None) is _unimplemented_verb:
            raise HTTPError(405)
        return method  # type: ignore[no-any-return]

    def _unimplemented_method(self, *args: str, **kwargs: str) -> None:
        raise HTTPError(405)

    head = get = post = delete = patch = put = options = _unimplemented_method


_unimplemented_verb = RequestHandler._unimplemented_method
# Verb -> method name, for the verbs a handler may implement; any other
# verb (one a subclass adds to SUPPORTED_METHODS) is lower-cased on use.
_VERB_ATTRIBUTES = {verb: verb.lower() for verb in RequestHandler.SUPPORTED_METHODS}


def _error_reason(kwargs: dict[str, Any]) -> str | None:
    """The reason phrase for send_error: an HTTPError's own ``reason`` wins
    over a ``reason`` keyword."""
    exc_info = kwargs.get("exc_info")
    if exc_info is not None:
        raised = exc_info[1]
        if isinstance(raised, HTTPError) and raised.reason:
            return raised.reason
    return kwargs.get("reason")


def _overrides(handler: RequestHandler, name: str) -> bool:
    return callable(getattr(handler, name, None))


def _was_cancelled(awaited: Any) -> bool:
    """Whether ``awaited`` is a task someone called ``cancel()`` on (rather
    than one whose code raised ``CancelledError`` itself)."""
    cancelling = getattr(awaited, "cancelling", None)  # Task, Python 3.11+
    return bool(cancelling()) if cancelling is not None else False


def _task_is_being_cancelled() -> bool:
    """Whether the running task was asked to cancel (``Task.cancel``), as
    opposed to code inside it raising ``CancelledError`` itself."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling is not None else False
