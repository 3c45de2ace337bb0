"""``SimpleAsyncHTTPClient``: the default ``AsyncHTTPClient``, in Python.

Beyond Tornado's client of the same name it keeps connections alive: each
(scheme, host, port, proxy, TLS settings) has a pool of idle connections,
reused newest first and closed after ``IDLE_CONNECTION_TIMEOUT``. A
connection returns to its pool only after a response read to its end, with
no error, no ``Connection: close`` and a persistent HTTP version. HTTP
proxies work for ``http`` URLs (absolute-form request target) and ``https``
ones (a ``CONNECT`` tunnel). At most ``max_clients`` requests run at once;
the rest wait in order, and the wait counts in their ``request_timeout``.

Errors (all delivered as ``HTTPResponse.error``, code 599)::

    httpclient.HTTPClientError
        HTTPTimeoutError        connect_timeout / request_timeout expired
        HTTPStreamClosedError   the connection closed before the response
                                was complete; also how a malformed response
                                (logged at INFO on ``gen_log``) and an
                                exception in a callback (logged at ERROR on
                                ``app_log``) end, as in Tornado
        httpclient.HTTPConnectionError  connecting failed
    ssl.SSLError                the TLS handshake failed (logged at WARNING)
    iostream.UnsatisfiableReadError  a response head over max_header_size
    ValueError                  a URL (or redirect) with a scheme other
                                than http and https

This module holds the client, its connection pool and connection setup;
the pieces it shares with the curl client or that stand on their own are
private modules: ``_client_request`` (options, target, head fields),
``_client_redirects`` (redirects, digest retries), ``_client_body`` (the
``body_producer`` writer), ``_client_deadline`` (timeouts), and
``_http1_client`` (one exchange over the sans-I/O core, ``squall._http1``).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import io
import os
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from squall._client_auth import parse_digest_challenge
from squall._client_body import produce_body
from squall._client_deadline import MIN_WAIT, Deadline, min_timeout
from squall._client_redirects import REDIRECT_CODES, is_intermediate, redirected_request
from squall._client_request import (
    PoolKey,
    ResolvedRequest,
    Target,
    default_user_agent,
    proxy_authorization,
    request_headers,
)

# Re-exported: the curl client imports it from here.
from squall._client_request import check_method_and_body as check_method_and_body
from squall._http1_client import (
    CallbackError,
    Exchange,
    ResponseError,
    ResponseHead,
    check_request_head,
    format_request_head,
)
from squall.httpclient import (
    NETWORK_ERROR_CODE,
    AsyncHTTPClient,
    HTTPClientError,
    HTTPConnectionError,
    HTTPRequest,
    HTTPResponse,
)
from squall.httputil import HTTPHeaders
from squall.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from squall.log import app_log, gen_log
from squall.netutil import OverrideResolver, Resolver, is_valid_ip, ssl_options_to_context
from squall.tcpclient import TCPClient

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]

# Tornado's SimpleAsyncHTTPClient defaults.
DEFAULT_MAX_CLIENTS = 10
DEFAULT_MAX_BUFFER_SIZE = 100 * 1024 * 1024
# Response head limit when none is given: the server's (Tornado's) 64 KiB.
DEFAULT_MAX_HEADER_SIZE = 64 * 1024
# How long an idle pooled connection is kept: aiohttp's keepalive_timeout
# (15 s), safely under nginx's keepalive_timeout (75 s) and Apache's
# KeepAliveTimeout (5 s is shorter: a connection the server closed while
# idle is noticed by its close callback, or retried once, see below).
# Read at each use (not bound into the pool), so that it can be changed.
IDLE_CONNECTION_TIMEOUT = 15.0

# RFC 9110 §9.2.2: only these may be retried automatically, which is done
# once when a reused connection turns out to have been closed by the server.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# A body up to this size goes out in the same write as the head (one send,
# one packet for small requests); larger ones are written after it rather
# than copied. 64 KiB: the read chunk size of squall's (and Tornado's) server.
_COALESCED_BODY_MAX = 64 * 1024
# The message of the HTTPStreamClosedError that ends a response the client
# gave up on (malformed, or a callback raised) or that the server cut short
# after its head: Tornado's.
_ABANDONED = "Connection closed"
# How much later than the connect timeout the whole connection setup is cut
# off, so that the TCP client's own, more precise, timeout fires first.
_STEP_TIMEOUT_MARGIN = 0.05

# The helpers' names as this module had them: the curl client, the
# ``tornado.simple_httpclient`` alias and older tests import them from here.
_REDIRECT_CODES = REDIRECT_CODES
_Target = Target
_redirected_request = redirected_request
_default_user_agent = default_user_agent
_Deadline = Deadline


def _connect_error_text(error: BaseException) -> str:
    """The error as the OS words it ("[Errno 111] Connection refused"), which
    asyncio's own text ("Connect call failed ...") leaves out."""
    code = getattr(error, "errno", None)
    if isinstance(error, OSError) and code:
        return f"[Errno {code}] {os.strerror(code)}"
    return str(error)


class HTTPTimeoutError(HTTPClientError):
    """A timeout expired (599); ``str()`` is the message alone, as in Tornado."""

    def __init__(self, message: str) -> None:
        super().__init__(NETWORK_ERROR_CODE, message=message or "Timeout")

    def __str__(self) -> str:
        return self.message


class HTTPStreamClosedError(HTTPClientError):
    """The connection closed before the response was complete (599)."""

    def __init__(self, message: str) -> None:
        super().__init__(NETWORK_ERROR_CODE, message=message or "Stream closed")

    def __str__(self) -> str:
        return self.message


class _Connection:
    __slots__ = ("idle_since", "key", "stream", "uses")

    def __init__(self, key: PoolKey, stream: IOStream) -> None:
        self.key = key
        self.stream = stream
        self.uses = 0
        self.idle_since = 0.0


class _ConnectionPool:
    """Idle keep-alive connections by pool key, newest last.

    Expiry is checked when a connection is taken, and by one sweeping timer
    for the whole pool (not a timer per request: they cost a heap entry
    each on the hot path).
    """

    def __init__(self, max_idle_per_key: int) -> None:
        self.max_idle_per_key = max_idle_per_key
        self.idle: dict[PoolKey, list[_Connection]] = {}
        self.closed = False
        self._sweeper: asyncio.TimerHandle | None = None

    def take(self, key: PoolKey) -> _Connection | None:
        connections = self.idle.get(key)
        if not connections:
            return None
        now = asyncio.get_running_loop().time()
        while connections:
            connection = connections.pop()
            connection.stream.set_close_callback(None)
            if connection.stream.closed():
                continue
            if now - connection.idle_since >= IDLE_CONNECTION_TIMEOUT:
                connection.stream.close()  # the older ones expired too
                continue
            if not connections:
                del self.idle[key]
            return connection
        del self.idle[key]
        return None

    def put(self, connection: _Connection) -> None:
        if self.closed or connection.stream.closed():
            connection.stream.close()
            return
        connections = self.idle.setdefault(connection.key, [])
        if len(connections) >= self.max_idle_per_key:
            self._drop(connections[0])
        connections.append(connection)
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        if self._sweeper is None:
            self._sweeper = loop.call_later(IDLE_CONNECTION_TIMEOUT, self._sweep)
        # A server closing an idle connection is noticed here, not by the
        # next request.
        connection.stream.set_close_callback(functools.partial(self._drop, connection))

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        oldest: float | None = None
        for connections in list(self.idle.values()):
            for connection in list(connections):
                if now - connection.idle_since >= IDLE_CONNECTION_TIMEOUT:
                    self._drop(connection)
                elif oldest is None or connection.idle_since < oldest:
                    oldest = connection.idle_since
        if oldest is not None:
            delay = oldest + IDLE_CONNECTION_TIMEOUT - now
            self._sweeper = loop.call_later(max(delay, 0.0), self._sweep)

    def _drop(self, connection: _Connection) -> None:
        connection.stream.set_close_callback(None)
        connections = self.idle.get(connection.key)
        if connections is not None and connection in connections:
            connections.remove(connection)
            if not connections:
                del self.idle[connection.key]
        connection.stream.close()

    def close(self) -> None:
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connections in list(self.idle.values()):
            for connection in list(connections):
                self._drop(connection)


class SimpleAsyncHTTPClient(AsyncHTTPClient):
    """HTTP/1.1 over squall's IOStream, with keep-alive pooling and proxies.

    ``max_clients`` requests run at once. ``hostname_mapping`` maps host
    names (or ``(host, port)``) to others, as ``OverrideResolver`` does.
    ``max_buffer_size`` bounds a response body held in memory,
    ``max_header_size`` a response head, ``max_body_size`` a body, counted
    after decompression (default: ``max_buffer_size``).
    """

    def initialize(  # type: ignore[override]
        self,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        hostname_mapping: dict[str, str] | None = None,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        resolver: Resolver | None = None,
        defaults: dict[str, Any] | None = None,
        max_header_size: int | None = None,
        max_body_size: int | None = None,
    ) -> None:
        # Size limits; a missing body limit falls back to the buffer limit.
        self.max_buffer_size = max_buffer_size
        self.max_body_size = max_body_size or max_buffer_size
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        self.max_clients = max_clients
        super().initialize(defaults=defaults)
        # A resolver we create is ours to close; one passed in is not.
        self.own_resolver = resolver is None
        self.resolver = Resolver() if resolver is None else resolver
        if hostname_mapping is not None:
            self.resolver = OverrideResolver(resolver=self.resolver, mapping=hostname_mapping)
        self.tcp_client = TCPClient(resolver=self.resolver)
        self._active = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pool = _ConnectionPool(max_idle_per_key=max_clients)
        self._tasks: set[asyncio.Future[None]] = set()
        self._ssl_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}

    @property
    def queue(self) -> collections.deque[asyncio.Future[None]]:
        """The requests waiting for one of the ``max_clients`` slots (Tornado's
        attribute; its length is what callers look at)."""
        return self._queue

    @property
    def active(self) -> int:
        """How many requests hold a slot now."""
        return self._active

    def close(self) -> None:
        """Close idle connections; requests in flight finish on their own."""
        if self._closed:
            return
        super().close()
        self._pool.close()
        if self.own_resolver:
            self.resolver.close()
        self.tcp_client.close()

    # -- scheduling ------------------------------------------------------------

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        task = asyncio.ensure_future(self._run(request, callback), loop=self.io_loop.asyncio_loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: Any, callback: Callable[[HTTPResponse], None]) -> None:
        start_time = time.time()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._wait_for_slot(request, started)
            try:
                response = await self._fetch(request, started, start_time)
            finally:
                self._release_slot()
        except Exception as e:
            response = HTTPResponse(
                request,
                NETWORK_ERROR_CODE,
                error=e,
                request_time=time.time() - start_time,
                start_time=start_time,
            )
        callback(response)

    async def _wait_for_slot(self, request: Any, started: float) -> None:
        if self._active < self.max_clients and not self._queue:
            self._active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        timeout = min_timeout(request.connect_timeout, request.request_timeout)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            if waiter.done():  # granted just as the timer fired: give it back
                self._release_slot()
            else:
                waiter.cancel()
                self._queue.remove(waiter)
            raise HTTPTimeoutError("Timeout in request queue") from None

    def _release_slot(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: _active unchanged
                return
        self._active -= 1

    # -- one fetch, redirects and auth retries included -------------------------

    async def _fetch(self, request: Any, started: float, start_time: float) -> HTTPResponse:
        original: HTTPRequest = request.request
        current: HTTPRequest = original
        hop_started = started
        redirects_left = request.max_redirects
        digest_tried = False
        while True:
            proxied = ResolvedRequest(current, self.defaults)

            intermediate = functools.partial(is_intermediate, proxied, redirects_left, False)
            head, body = await self._fetch_once(
                proxied, hop_started, digest_challenge=None, intermediate=intermediate
            )
            if (
                head.code == 401
                and not digest_tried
                and proxied.auth_username is not None
                and proxied.auth_mode == "digest"
            ):
                challenge = parse_digest_challenge(head.headers.get("WWW-Authenticate", ""))
                if challenge is not None:
                    digest_tried = True
                    head, body = await self._fetch_once(
                        proxied,
                        asyncio.get_running_loop().time(),
                        digest_challenge=challenge,
                        intermediate=functools.partial(
                            is_intermediate, proxied, redirects_left, True
                        ),
                    )
            location = head.headers.get("Location")
            if (
                head.code in REDIRECT_CODES
                and location is not None
                and proxied.follow_redirects
                and redirects_left > 0
            ):
                current = redirected_request(current, head.code, location)
                redirects_left -= 1
                hop_started = asyncio.get_running_loop().time()
                continue
            return HTTPResponse(
                original,
                head.code,
                reason=head.reason,
                headers=head.headers,
                buffer=None if body is None else io.BytesIO(body),
                effective_url=current.url,
                request_time=time.time() - start_time,
                start_time=start_time,
            )

    async def _fetch_once(
        self,
        request: Any,
        hop_started: float,
        digest_challenge: dict[str, str] | None,
        intermediate: Callable[[ResponseHead], bool],
    ) -> tuple[ResponseHead, bytes | None]:
        """One request and response, on a pooled or new connection."""
        target = Target(request)
        headers = request_headers(request, target, digest_challenge)
        check_request_head(request.method, target.request_target, headers)
        loop = asyncio.get_running_loop()
        request_timeout = request.request_timeout
        deadline = hop_started + request_timeout if request_timeout else None
        for attempt in (0, 1):
            connection = self._pool.take(target.pool_key)
            if connection is None:
                connection = await self._connect(request, target, deadline)
            remaining = None if deadline is None else max(deadline - loop.time(), MIN_WAIT)
            exchange = self._exchange(connection, request, intermediate)
            timer = Deadline(loop, remaining)
            try:
                head = await self._send_and_receive(exchange, request, target, headers)
            except BaseException as e:
                timer.cancel()
                connection.stream.close()
                if timer.expired:
                    await timer.absorb(delivered=isinstance(e, asyncio.CancelledError))
                    raise HTTPTimeoutError("Timeout during request") from None
                if isinstance(e, UnsatisfiableReadError):
                    # A head over max_header_size: the stream logged it and
                    # closed; the caller gets the read's error, as in Tornado.
                    real = getattr(e, "real_error", None)
                    raise (real if isinstance(real, UnsatisfiableReadError) else e) from None
                if isinstance(e, StreamClosedError):
                    if (
                        attempt == 0
                        and connection.uses > 0
                        and not exchange.response_started
                        and request.method in _IDEMPOTENT_METHODS
                    ):
                        continue  # the server closed the idle connection: once more
                    if exchange.response_started:  # cut short after its head
                        raise HTTPStreamClosedError(_ABANDONED) from None
                    raise HTTPStreamClosedError(_closed_message(e)) from None
                if isinstance(e, ResponseError):
                    # Tornado's words; its client connection has no peer
                    # name to put after "from".
                    gen_log.info("Malformed HTTP message from None: %s", e.reason)
                    raise HTTPStreamClosedError(_ABANDONED) from None
                if isinstance(e, CallbackError):
                    cause = e.__cause__
                    assert cause is not None
                    app_log.error(
                        "Uncaught exception", exc_info=(type(cause), cause, cause.__traceback__)
                    )
                    raise HTTPStreamClosedError(_ABANDONED) from None
                raise
            timer.cancel()
            if timer.expired:  # answered just as the timer fired: too late
                connection.stream.close()
                await timer.absorb(delivered=False)
                raise HTTPTimeoutError("Timeout during request")
            connection.uses += 1
            if exchange.reusable:
                self._pool.put(connection)
            else:
                connection.stream.close()
            body = None if request.streaming_callback else b"".join(exchange.body_parts)
            return head, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(
        self,
        connection: _Connection,
        request: Any,
        intermediate: Callable[[ResponseHead], bool],
    ) -> Exchange:
        return Exchange(
            connection.stream,
            request.method,
            max_header_size=self.max_header_size,
            max_body_size=self.max_body_size,
            decompress=bool(request.decompress_response),
            streaming_callback=request.streaming_callback,
            header_callback=request.header_callback,
            intermediate=intermediate,
        )

    async def _send_and_receive(
        self, exchange: Exchange, request: Any, target: Target, headers: HTTPHeaders
    ) -> ResponseHead:
        stream = exchange.stream
        head_bytes = format_request_head(request.method, target.request_target, headers)
        body: bytes | None = request.body
        producer = request.body_producer
        expect_continue = bool(request.expect_100_continue) and (
            body is not None or producer is not None
        )

        async def send_body() -> None:
            if producer is not None:
                await produce_body(stream, producer, headers.get("Content-Length"))
            elif body:
                await stream.write(body)

        if expect_continue:
            await stream.write(head_bytes)
            return await exchange.read_response(on_continue=send_body)
        if body is not None and len(body) <= _COALESCED_BODY_MAX:
            await stream.write(head_bytes + body)
        else:
            stream.write(head_bytes)
            await send_body()
        return await exchange.read_response()

    # -- connecting ------------------------------------------------------------

    async def _connect(self, request: Any, target: Target, deadline: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        remaining = None if deadline is None else max(deadline - loop.time(), MIN_WAIT)
        timeout = min_timeout(request.connect_timeout, request.request_timeout and remaining)
        message = (
            "Timeout while connecting"
            if request.connect_timeout
            and (remaining is None or request.connect_timeout <= remaining)
            else "Timeout during request"
        )
        source_ip = request.network_interface
        if source_ip is not None and not is_valid_ip(source_ip):
            raise ValueError(
                f"Unrecognized IPv4 or IPv6 address for network_interface, got {source_ip!r}"
            )
        af = socket.AF_UNSPEC if request.allow_ipv6 is not False else socket.AF_INET
        ssl_context = self._ssl_context(request) if target.scheme == "https" else None
        host, port = target.proxy or (target.host, target.port)
        # The TCP client gets the timeout too, so that its error can say
        # which step ran out (resolving, connecting, the TLS handshake); the
        # outer wait, a little later, bounds what follows (a proxy tunnel).
        step_timeout = timeout if message == "Timeout while connecting" else None
        outer = None if timeout is None else timeout + _STEP_TIMEOUT_MARGIN
        try:
            stream = await asyncio.wait_for(
                self._open(request, target, host, port, af, ssl_context, source_ip, step_timeout),
                outer,
            )
        except (asyncio.TimeoutError, TimeoutError) as e:
            detail = str(e)
            if step_timeout is not None and detail.startswith(("Timeout while", "Timeout during")):
                message = detail
            raise HTTPTimeoutError(message) from None
        except StreamClosedError as e:
            real = e.real_error
            raise HTTPConnectionError(_connect_error_text(real or e), real_error=real) from None
        except ssl.SSLError:
            raise  # as Tornado: the stream has logged it (WARNING)
        return _Connection(target.pool_key, stream)

    async def _open(
        self,
        request: Any,
        target: Target,
        host: str,
        port: int,
        af: socket.AddressFamily,
        ssl_context: ssl.SSLContext | None,
        source_ip: str | None,
        timeout: float | None = None,
    ) -> IOStream:
        tunnel = target.proxy is not None and ssl_context is not None
        stream = await self.tcp_client.connect(
            host,
            port,
            af=af,
            ssl_options=None if tunnel else ssl_context,
            max_buffer_size=self.max_buffer_size,
            source_ip=source_ip,
            timeout=timeout,
        )
        stream.set_nodelay(True)
        if not tunnel:
            return stream
        try:
            await self._open_tunnel(stream, request, target)
            return await stream.start_tls(
                False, ssl_options=ssl_context, server_hostname=target.host
            )
        except BaseException:
            stream.close()
            raise

    async def _open_tunnel(self, stream: IOStream, request: Any, target: Target) -> None:
        """RFC 9110 §9.3.6: ask the proxy for a tunnel to the origin."""
        authority = f"{target.host_literal}:{target.port}"
        headers = HTTPHeaders({"Host": authority})
        if request.proxy_username:
            headers["Proxy-Authorization"] = proxy_authorization(request)
        check_request_head("CONNECT", authority, headers)
        await stream.write(format_request_head("CONNECT", authority, headers))
        exchange = Exchange(
            stream,
            "CONNECT",
            max_header_size=self.max_header_size,
            max_body_size=self.max_header_size,
            decompress=False,
            streaming_callback=None,
            header_callback=None,
        )
        try:
            head, _parser = await exchange.read_head()
        except ResponseError as e:
            raise HTTPConnectionError(f"proxy CONNECT failed: {e}") from None
        if not 200 <= head.code < 300:
            raise HTTPConnectionError(f"proxy CONNECT failed: {head.code} {head.reason}")

    def _ssl_context(self, request: Any) -> ssl.SSLContext:
        options = request.ssl_options
        if isinstance(options, ssl.SSLContext):
            return options
        if options is not None:
            return ssl_options_to_context(options, server_side=False)
        key = (
            bool(request.validate_cert),
            request.ca_certs,
            request.client_cert,
            request.client_key,
        )
        context = self._ssl_contexts.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=request.ca_certs)
            if not request.validate_cert:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if request.client_cert is not None:
                context.load_cert_chain(request.client_cert, request.client_key)
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_contexts[key] = context
        return context


def _closed_message(error: StreamClosedError) -> str:
    real = error.real_error
    return f"Stream closed: {real}" if real else "Stream closed"
