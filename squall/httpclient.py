"""The non-blocking HTTP client: ``AsyncHTTPClient`` and its blocking twin.

``AsyncHTTPClient()`` returns one client per IOLoop (``force_instance=True``
for a private one); which implementation it builds is chosen with
``AsyncHTTPClient.configure`` (``SimpleAsyncHTTPClient`` by default)::

    response = await AsyncHTTPClient().fetch("http://example.com/")

``fetch`` also takes the callback of the seeds' era: ``fetch(url, callback)``
calls ``callback(response)`` on the IOLoop, with ``response.error`` set
instead of raising. ``HTTPClient`` runs the same machinery on a private loop
for code that may block. ``python -m squall.httpclient URL`` prints a page.

Errors::

    HTTPClientError (alias HTTPError)   code, message, response
        code 4xx/5xx   the server answered with an error status
        code 599       no answer: network error, timeout, bad response
        HTTPConnectionError (also OSError)    connecting failed
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import weakref
from collections.abc import Awaitable, Callable
from contextlib import closing
from io import BytesIO
from sys import argv as _process_argv
from sys import stdout as _stdout
from time import time as _wall_clock
from typing import Any, cast

from squall.concurrent import future_set_exception_unless_cancelled
from squall.escape import utf8
from squall.httputil import HTTPHeaders, responses
from squall.ioloop import IOLoop, new_event_loop
from squall.util import Configurable

__all__ = [
    "AsyncHTTPClient",
    "HTTPClient",
    "HTTPClientError",
    "HTTPConnectionError",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "main",
]

# The status code of an error no server sent (network failure, timeout):
# Tornado's (and curl's) convention.
NETWORK_ERROR_CODE = 599


class HTTPClientError(Exception):
    """A fetch failed: an error status from the server, or ``code`` 599.

    ``response`` is the ``HTTPResponse`` when there was one. ``str()`` is
    ``"HTTP <code>: <message>"``, the message defaulting to the status's
    standard reason phrase.
    """

    def __init__(
        self, code: int, message: str | None = None, response: HTTPResponse | None = None
    ) -> None:
        super().__init__(code, message, response)
        self.code, self.response = code, response
        # The standard reason phrase stands in for a missing message.
        self.message = message if message else responses.get(code, "Unknown")

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"

    # Exception's repr would show the args tuple; the str is more useful.
    __repr__ = __str__


HTTPError = HTTPClientError


class HTTPConnectionError(HTTPClientError, OSError):
    """Connecting to the server failed (599). Also an ``OSError``, so code
    written for Tornado's ``ConnectionRefusedError`` still catches it;
    ``real_error`` is the underlying exception."""

    def __init__(self, message: str, real_error: BaseException | None = None) -> None:
        super().__init__(NETWORK_ERROR_CODE, message)
        self.real_error = real_error
        err = getattr(real_error, "errno", None)
        self.errno = err

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"


# Shapes of HTTPRequest's options. Every option but a few takes None for
# "not set here": the client's defaults (then _DEFAULTS) decide.
_Text = str | None
_Switch = bool | None
_Seconds = float | None
_Count = int | None
_Timestamp = float | datetime.datetime | None
_HeaderSource = dict[str, str] | HTTPHeaders | None
_BodySource = bytes | str | None
_TLSConfig = dict[str, Any] | ssl.SSLContext | None
# Receives each body chunk; may return an awaitable to slow the reader.
_ChunkSink = Callable[[bytes], Awaitable[None] | None] | None
# Receives each raw header line, the status line first.
_LineSink = Callable[[str], None] | None
_CurlHook = Callable[[Any], None] | None
# Called with a write function; writes the body through it.
_BodyProducer = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]] | None


class HTTPRequest:
    """One request and its options (see ``__init__`` for each one).

    Options left as ``None`` take the client's ``defaults``, then the
    values in ``_DEFAULTS``, through ``_RequestProxy``.
    """

    # Fallback values for the options that are not ``None`` by default
    # (documented Tornado behaviour); every other option falls back to None.
    _DEFAULTS: dict[str, Any] = {
        # seconds
        "request_timeout": 20.0,
        "connect_timeout": 20.0,
        # redirect handling
        "max_redirects": 5,
        "follow_redirects": True,
        # everything else
        "validate_cert": True,
        "decompress_response": True,
        "allow_nonstandard_methods": False,
        "proxy_password": "",
    }

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: _HeaderSource = None,
        body: _BodySource = None,
        auth_username: _Text = None,
        auth_password: _Text = None,
        auth_mode: _Text = None,
        connect_timeout: _Seconds = None,
        request_timeout: _Seconds = None,
        if_modified_since: _Timestamp = None,
        follow_redirects: _Switch = None,
        max_redirects: _Count = None,
        user_agent: _Text = None,
        use_gzip: _Switch = None,
        network_interface: _Text = None,
        streaming_callback: _ChunkSink = None,
        header_callback: _LineSink = None,
        prepare_curl_callback: _CurlHook = None,
        proxy_host: _Text = None,
        proxy_port: _Count = None,
        proxy_username: _Text = None,
        proxy_password: _Text = None,
        proxy_auth_mode: _Text = None,
        allow_nonstandard_methods: _Switch = None,
        validate_cert: _Switch = None,
        ca_certs: _Text = None,
        allow_ipv6: _Switch = None,
        client_key: _Text = None,
        client_cert: _Text = None,
        body_producer: _BodyProducer = None,
        expect_100_continue: bool = False,
        decompress_response: _Switch = None,
        ssl_options: _TLSConfig = None,
    ) -> None:
        """``url``, ``method``, ``headers`` and ``body`` (str is UTF-8
        encoded) make the request; ``body_producer(write)`` streams a body
        instead (``write`` returns an awaitable; send ``Content-Length`` or
        it goes chunked). ``auth_mode`` is ``"basic"`` (default) or
        ``"digest"``. Timeouts are in seconds: ``connect_timeout`` for the
        connection, ``request_timeout`` for the whole exchange including
        time queued. ``streaming_callback(chunk)`` receives the body instead
        of ``response.body``; ``header_callback(line)`` each header line.
        ``validate_cert``, ``ca_certs``, ``client_key``, ``client_cert``,
        ``ssl_options`` configure TLS; ``proxy_*`` an HTTP proxy.
        """
        # Creation time; request_timeout also covers the time spent queued.
        self.start_time = _wall_clock()

        # What is sent: target, verb, head and body (or a body producer).
        self.url, self.method = url, method
        self.headers = headers
        if if_modified_since:
            self._add_if_modified_since(if_modified_since)
        self.body = body
        self.body_producer = body_producer
        self.expect_100_continue = expect_100_continue
        self.user_agent = user_agent
        # ``use_gzip`` is accepted as an older spelling and wins when given.
        self.decompress_response = use_gzip if use_gzip is not None else decompress_response

        # Credentials for the origin server.
        self.auth_mode = auth_mode
        self.auth_username, self.auth_password = auth_username, auth_password

        # Time limits and redirect policy.
        self.request_timeout, self.connect_timeout = request_timeout, connect_timeout
        self.max_redirects = max_redirects
        self.follow_redirects = follow_redirects
        self.allow_nonstandard_methods = allow_nonstandard_methods

        # Where and how to connect.
        self.network_interface = network_interface
        self.allow_ipv6 = allow_ipv6
        self.proxy_host, self.proxy_port = proxy_host, proxy_port
        self.proxy_auth_mode = proxy_auth_mode
        self.proxy_username, self.proxy_password = proxy_username, proxy_password

        # TLS settings.
        self.ssl_options = ssl_options
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.client_cert, self.client_key = client_cert, client_key

        # Hooks called while the response arrives (or, for curl, before).
        self.header_callback = header_callback
        self.streaming_callback = streaming_callback
        self.prepare_curl_callback = prepare_curl_callback

    def _add_if_modified_since(self, when: float | datetime.datetime) -> None:
        from squall.httputil import format_timestamp

        self.headers["If-Modified-Since"] = format_timestamp(when)

    @property
    def headers(self) -> HTTPHeaders:
        """The request's header fields. As in Tornado, a mapping given here
        is kept as it is (a plain ``dict`` stays one) until ``fetch``
        turns it into ``HTTPHeaders``; ``None`` gives empty ``HTTPHeaders``."""
        return self._headers  # type: ignore[no-any-return]

    @headers.setter
    def headers(self, value: dict[str, str] | HTTPHeaders | None) -> None:
        self._headers: Any = HTTPHeaders() if value is None else value

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | str | None) -> None:
        self._body = utf8(value)

    def __repr__(self) -> str:
        return f"HTTPRequest({self.method} {self.url})"


class _RequestProxy:
    """A request whose unset (``None``) options read from ``defaults``,
    then from ``HTTPRequest._DEFAULTS``."""

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any] | None) -> None:
        self.request, self.defaults = request, defaults

    def __getattr__(self, name: str) -> Any:
        explicit = getattr(self.request, name)
        if explicit is None:
            # Fall back layer by layer; a key present in the client's table
            # wins even when it maps to None.
            for layer in (self.defaults or {}, HTTPRequest._DEFAULTS):
                if name in layer:
                    return layer[name]
        return explicit


class HTTPResponse:
    """What a fetch produced.

    ``code`` and ``reason`` (the status), ``headers``, ``buffer`` (a
    ``BytesIO`` of the body) and ``body`` (its bytes, ``b""`` when none),
    ``effective_url`` (after redirects), ``error`` (an exception, or None
    for a 2xx/3xx answer), ``request_time`` (seconds from ``start_time``),
    ``time_info`` (extra timings, possibly empty).
    """

    def __init__(
        self,
        request: HTTPRequest,
        code: int,
        headers: HTTPHeaders | None = None,
        buffer: BytesIO | None = None,
        effective_url: str | None = None,
        error: BaseException | None = None,
        request_time: float | None = None,
        time_info: dict[str, float] | None = None,
        reason: str | None = None,
        start_time: float | None = None,
    ) -> None:
        # Always keep the caller's own request, never the defaults wrapper.
        original = request.request if isinstance(request, _RequestProxy) else request
        self.request = original
        self.effective_url = original.url if effective_url is None else effective_url
        self.start_time, self.request_time = start_time, request_time
        self.time_info = {} if not time_info else time_info

        self.code = code
        self.reason = reason or responses.get(code, "Unknown")
        self.headers = HTTPHeaders() if headers is None else headers
        self.buffer = buffer
        self._body: bytes | None = None

        # Without an explicit error, any non-2xx status becomes one (a 3xx
        # seen here is a redirect that was not followed).
        status_failed = error is None and not 200 <= code < 300
        self._error_is_response_code = status_failed
        self.error = (
            HTTPClientError(code, message=self.reason, response=self) if status_failed else error
        )

    @property
    def body(self) -> bytes:
        source = self.buffer
        if source is None:
            return b""
        cached = self._body
        if cached is None:
            cached = self._body = source.getvalue()
        return cached

    def rethrow(self) -> None:
        """Raise ``error`` if there is one."""
        failure = self.error
        if failure:
            raise failure

    def __repr__(self) -> str:
        fields = f"code={self.code}, reason={self.reason!r}, url={self.effective_url!r}"
        return "HTTPResponse(" + fields + ")"


class AsyncHTTPClient(Configurable):
    """A non-blocking HTTP client; one shared instance per IOLoop.

    ``AsyncHTTPClient()`` returns the IOLoop's instance (created on first
    use) unless ``force_instance=True``. Keyword arguments go to the
    implementation's ``initialize``; ``defaults`` holds option values for
    every ``HTTPRequest`` it fetches.
    """

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        # Implementations are chosen, and their arguments stored, here,
        # whichever subclass the call comes through.
        root: type[Configurable] = AsyncHTTPClient
        return root

    # The per-loop table this instance is shared through (None if private).
    _instance_cache: weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient] | None

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        # Imported late: simple_httpclient itself imports this module.
        import squall.simple_httpclient as builtin_impl

        return builtin_impl.SimpleAsyncHTTPClient

    @classmethod
    def _async_clients(cls) -> weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient]:
        # One cache per implementation class, so that configuring another
        # implementation does not hand back an instance of the old one.
        # Looking in the class's own __dict__ skips tables inherited from a base.
        per_loop = cls.__dict__.get("_clients_by_loop")
        if per_loop is None:
            per_loop = weakref.WeakKeyDictionary()
            type.__setattr__(cls, "_clients_by_loop", per_loop)
        return cast("weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient]", per_loop)

    def __new__(cls, force_instance: bool = False, **kwargs: Any) -> AsyncHTTPClient:
        loop_now = IOLoop.current()
        # One shared client per IOLoop unless the caller asks for a private one.
        shared = None if force_instance else cls._async_clients()
        reused = shared.get(loop_now) if shared is not None else None
        if reused is not None:
            return reused
        client: AsyncHTTPClient = super().__new__(cls, **kwargs)
        # Recorded after initialize(), so close() knows which cache to leave.
        client._instance_cache = shared
        if shared is not None:
            shared[loop_now] = client
        return client

    def initialize(self, defaults: dict[str, Any] | None = None) -> None:
        # Per-client values override the built-in fallbacks key by key.
        self.io_loop = IOLoop.current()
        self.defaults = {**HTTPRequest._DEFAULTS, **(defaults or {})}
        self._closed = False

    def close(self) -> None:
        """Release the client's resources; ``fetch`` then raises RuntimeError.

        The shared instance is forgotten, so ``AsyncHTTPClient()`` makes a
        fresh one afterwards.
        """
        was_open, self._closed = not self._closed, True
        shared = getattr(self, "_instance_cache", None)
        if was_open and shared is not None and shared.get(self.io_loop) is self:
            shared.pop(self.io_loop)

    def fetch(
        self,
        request: str | HTTPRequest,
        raise_error: bool | Callable[[HTTPResponse], Any] = True,
        **kwargs: Any,
    ) -> asyncio.Future[HTTPResponse]:
        """Fetch ``request`` (an ``HTTPRequest`` or a URL, with ``kwargs``
        as its options); a Future of the ``HTTPResponse``.

        By default a non-2xx answer fails the Future with ``HTTPClientError``;
        ``raise_error=False`` resolves it with the response instead (network
        errors and timeouts still raise). With ``callback=`` (or a callable
        in ``raise_error``'s place: the seeds' ``fetch(url, callback)``),
        the callback receives the response on the IOLoop, errors of every
        kind as ``response.error``, and the Future never fails.
        """
        callback: Callable[[HTTPResponse], Any] | None = kwargs.pop("callback", None)
        if callable(raise_error):
            if callback is not None:
                raise TypeError("fetch() got two callbacks")
            callback, raise_error = raise_error, True
        if self._closed:
            raise RuntimeError("fetch() called on closed AsyncHTTPClient")
        if isinstance(request, HTTPRequest):
            if kwargs:
                unused = ", ".join(sorted(kwargs))
                raise ValueError(
                    f"kwargs can't be used if request is an HTTPRequest object: {unused}"
                )
        else:
            request = HTTPRequest(url=request, **kwargs)
        request.headers = HTTPHeaders(request.headers)
        proxied = _RequestProxy(request, self.defaults)
        loop = self.io_loop
        future: asyncio.Future[HTTPResponse] = loop.asyncio_loop.create_future()

        def handle_response(response: HTTPResponse) -> None:
            if future.done() and not future.cancelled():
                return
            # A cancelled fetch still reports an error it would have raised
            # (logged, as Tornado does), so that it does not vanish.
            failure = response.error
            fails_future = callback is None and (
                raise_error or not response._error_is_response_code
            )
            if failure and fails_future:
                future_set_exception_unless_cancelled(future, failure)
            elif not future.done():
                future.set_result(response)

        self.fetch_impl(cast(HTTPRequest, proxied), handle_response)
        if callback is not None:
            # Through the IOLoop (not a bare done-callback), in the caller's
            # context: an exception from the callback then goes where the
            # caller's errors go (an @asynchronous handler's 500).
            loop.add_future(future, lambda f: callback(f.result()))
        return future

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        """Run ``request``; call ``callback`` exactly once with the response."""
        raise NotImplementedError()

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the implementation ``AsyncHTTPClient()`` builds, and its
        constructor arguments (``max_clients=``, ``defaults=``...)."""
        super().configure(impl, **kwargs)


class HTTPClient:
    """A blocking client: ``HTTPClient().fetch(url)`` returns the response.

    It runs an ``AsyncHTTPClient`` on a private event loop, so it must not
    be used from inside a running loop's callbacks.
    """

    def __init__(
        self, async_client_class: type[AsyncHTTPClient] | None = None, **kwargs: Any
    ) -> None:
        self._closed = True
        self._asyncio_loop = new_event_loop()
        previous = IOLoop.current(instance=False)
        self._io_loop = IOLoop(asyncio_loop=self._asyncio_loop, make_current=False)
        if async_client_class is None:
            async_client_class = AsyncHTTPClient

        client_class = async_client_class

        async def make_client() -> AsyncHTTPClient:
            client: AsyncHTTPClient = client_class(force_instance=True, **kwargs)
            return client

        try:
            self._async_client: AsyncHTTPClient = self._asyncio_loop.run_until_complete(
                make_client()
            )
        except BaseException:
            self._io_loop.close()
            raise
        finally:
            # Building the client may have made the private loop current.
            if previous is not None and previous is not IOLoop.current(instance=False):
                previous.make_current()
        self._closed = False

    def close(self) -> None:
        """Close the client and its private loop."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._async_client.close()

        async def settle() -> None:
            # Let transports closed just now run their connection_lost.
            await asyncio.sleep(0)

        self._asyncio_loop.run_until_complete(settle())
        self._io_loop.close()

    def fetch(self, request: str | HTTPRequest, **kwargs: Any) -> HTTPResponse:
        """Fetch ``request``; the ``HTTPResponse``, or ``HTTPClientError``
        raised for an error status (unless ``raise_error=False``)."""
        if self._closed:
            raise RuntimeError("fetch() called on closed HTTPClient")

        async def run() -> HTTPResponse:
            return await self._async_client.fetch(request, **kwargs)

        return self._asyncio_loop.run_until_complete(run())

    def __del__(self) -> None:
        self.close()


# The command line's switches: (name, type, default).
_CLI_SWITCHES: tuple[tuple[str, type, Any], ...] = (
    ("print_headers", bool, False),
    ("print_body", bool, True),
    ("follow_redirects", bool, True),
    ("validate_cert", bool, True),
    ("proxy_host", str, None),
    ("proxy_port", int, None),
)


def main(argv: list[str] | None = None) -> None:
    """``python -m squall.httpclient [options] URL...``: print each page."""
    from squall.options import OptionParser

    opts = OptionParser()
    for switch, kind, fallback in _CLI_SWITCHES:
        opts.define(switch, type=kind, default=fallback)
    urls = opts.parse_command_line(_process_argv if argv is None else argv)
    fetch_options = {
        key: getattr(opts, key)
        for key in ("follow_redirects", "validate_cert", "proxy_host", "proxy_port")
    }
    with closing(HTTPClient()) as blocking:
        for url in urls:
            try:
                reply = blocking.fetch(url, **fetch_options)
            except HTTPClientError as failure:
                # An error status still has a page worth printing.
                if failure.response is None:
                    raise
                reply = failure.response
            if opts.print_headers:
                print(reply.headers)
            if opts.print_body:
                text = reply.body.decode("utf-8", "replace")
                print(text, end="", file=_stdout, flush=True)


if __name__ == "__main__":
    main()
