"""``TCPClient``: open a connection by host name, the "happy eyeballs" way.

``await TCPClient().connect("example.com", 443, ssl_options={})`` resolves
the name, connects and returns an ``IOStream`` (an ``SSLIOStream`` with
``ssl_options``). When the name has addresses of two families, the first
family listed gets a head start (``_INITIAL_CONNECT_TIMEOUT``); if it has
not connected by then, or fails, the other family is tried alongside it and
the first connection made wins (RFC 6555, "Happy Eyeballs").
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from numbers import Real
from ssl import SSLContext
from typing import Any

from squall.concurrent import Future
from squall.ioloop import IOLoop
from squall.iostream import IOStream
from squall.netutil import Resolver
from squall.util import TimeoutError

__all__ = ["TCPClient"]

# The primary family's head start, in seconds: Tornado's value. RFC 6555
# section 5.5 recommends 150-250 ms; Tornado (and so squall) waits a bit
# longer before opening a second connection.
_INITIAL_CONNECT_TIMEOUT = 0.3

_Address = tuple[socket.AddressFamily, Any]
# Shapes of connect()'s options: TLS settings (a dict of ssl options, or
# a context), a size or port, a local address, and a duration (seconds or a
# timedelta); None leaves each unset.
_TLSConfig = dict[str, Any] | SSLContext | None
_OptionalInt = int | None
_OptionalHost = str | None
_OptionalDuration = float | timedelta | None
# What the race ends with: the winner's family, address and stream.
_Winner = tuple[socket.AddressFamily, Any, IOStream]
# Opens one attempt: the stream and the future of its connection.
_Attempt = Callable[[socket.AddressFamily, Any], tuple[Any, "Future[Any]"]]


class _Connector:
    """Races connection attempts over a list of resolved addresses (RFC 6555).

    The addresses are split by family (``split``). Those of the first family
    listed are tried one after another; the other family joins in when the
    head start (``start``'s ``timeout``) runs out or as soon as a primary
    attempt fails, and then goes through its own list the same way, so at
    most one attempt per family is in flight. The first stream to connect
    wins; every other attempt is closed. When all have failed, the future
    fails with the last error; at ``connect_timeout`` it fails with
    ``TimeoutError`` naming the addresses still being tried.

    ``connect(family, address)`` opens one attempt: a stream and the future
    of its connection, which resolves with the stream.
    """

    def __init__(self, addrinfo: list[_Address], connect: _Attempt) -> None:
        self.connect = connect
        self.primary_addrs, self.secondary_addrs = self.split(addrinfo)
        # Attempts still owed an outcome, the ones not yet begun included.
        self.remaining = len(addrinfo)
        # Every stream ever opened (closing a failed one again does no harm)
        # and the addresses with an attempt in flight right now.
        self.streams: set[Any] = set()
        self.pending_addrs: set[Any] = set()
        self.last_error: BaseException | None = None
        # The two timer handles: the primary family's head start and the
        # deadline for the whole race. Cleared handles are cancelled, not
        # forgotten.
        self.timeout: object | None = None
        self.connect_timeout: object | None = None
        self.io_loop = IOLoop.current()
        self.future: Future[_Winner] = self.io_loop.asyncio_loop.create_future()

    @staticmethod
    def split(addrinfo: list[_Address]) -> tuple[list[_Address], list[_Address]]:
        """The entries of the first entry's family, and all the others."""
        if not addrinfo:
            return [], []
        first_family = addrinfo[0][0]
        primary = [entry for entry in addrinfo if entry[0] == first_family]
        secondary = [entry for entry in addrinfo if entry[0] != first_family]
        return primary, secondary

    def start(
        self,
        timeout: float = _INITIAL_CONNECT_TIMEOUT,
        connect_timeout: float | timedelta | None = None,
    ) -> Future[_Winner]:
        """Begin; the future of ``(family, address, stream)``.

        ``timeout``: the primary family's head start, in seconds.
        ``connect_timeout``: an ``IOLoop.time()`` deadline or a ``timedelta``
        for the whole race.
        """
        if not self.remaining:
            self.future.set_exception(OSError("no addresses to connect to"))
            return self.future
        # The timers go first: an attempt failing at once (a socket that
        # cannot be made) must find the head start there to cut it short.
        self.set_timeout(timeout)
        deadline = connect_timeout
        if deadline is not None:
            self.set_connect_timeout(deadline)
        # (Done callbacks are only ever scheduled, so registering this one
        # first changes nothing when the first attempts fail at once.)
        self.future.add_done_callback(self.on_future_done)
        self.try_connect(iter(self.primary_addrs))
        return self.future

    def try_connect(self, addrs: Iterator[_Address]) -> None:
        """Start an attempt on the next address of ``addrs``, if any is left."""
        entry = next(addrs, None)
        if entry is None:
            # This family is exhausted; the race is lost once nothing else
            # is still in flight either.
            if self.remaining == 0 and not self.future.done():
                self.future.set_exception(self.last_error or OSError("connection failed"))
                # Lost: no timer needs to keep the connector alive.
                self.clear_timeouts()
                self.close_streams()
            return
        family, address = entry
        try:
            stream, connected = self.connect(family, address)
        except Exception as e:  # no socket for this family, a bad source address...
            self.remaining -= 1
            self._attempt_failed(addrs, e)
            return
        self.streams.add(stream)
        self.pending_addrs.add(address)
        connected.add_done_callback(partial(self.on_connect_done, addrs, family, address))

    def on_connect_done(
        self,
        addrs: Iterator[_Address],
        af: socket.AddressFamily,
        addr: Any,
        future: Future[Any],
    ) -> None:
        """One attempt has finished: a winner, or move on to the next address."""
        self.remaining -= 1
        self.pending_addrs.discard(addr)
        if future.cancelled():
            # A cancelled attempt counts as failed, with no error to report.
            self._attempt_failed(addrs, None)
            return
        error = future.exception()
        if error is not None:
            self._attempt_failed(addrs, error)
            return
        connected = future.result()
        # Whatever happens next, neither timer has work left to do.
        self.clear_timeouts()
        if not self.future.done():
            # The winner is taken out of the set before the losers are swept
            # up; the race is settled first so that losers failing as they
            # close do not start new attempts.
            self.streams.discard(connected)
            self.future.set_result((af, addr, connected))
            self.close_streams()
        else:
            # Another attempt won, or the caller gave up: not wanted.
            connected.close()

    def _attempt_failed(self, addrs: Iterator[_Address], error: BaseException | None) -> None:
        if self.future.done():
            return
        # A cancelled attempt (no error) keeps the previous one to report.
        self.last_error = self.last_error if error is None else error
        self.try_connect(addrs)
        head_start = self.timeout
        if head_start is not None:
            # A primary attempt failed within its head start: the other
            # family need not wait it out.
            self._cancel_timer(head_start)
            self.on_timeout()

    def on_future_done(self, future: Future[_Winner]) -> None:
        # Only a cancellation matters here: the caller stopped waiting (its
        # own timeout, say), so nothing still in flight is wanted.
        if not future.cancelled():
            return
        self.clear_timeouts()
        self.close_streams()

    # -- the two timers --------------------------------------------------

    def _cancel_timer(self, handle: object | None) -> None:
        if handle is None:
            return
        self.io_loop.remove_timeout(handle)

    def set_timeout(self, timeout: float) -> None:
        head_start_ends = self.io_loop.time() + timeout
        self.timeout = self.io_loop.add_timeout(head_start_ends, self.on_timeout)

    def set_connect_timeout(self, connect_timeout: float | timedelta) -> None:
        # IOLoop.add_timeout takes either shape of deadline as it is.
        handle = self.io_loop.add_timeout(connect_timeout, self.on_connect_timeout)
        self.connect_timeout = handle

    def clear_timeout(self) -> None:
        self._cancel_timer(self.timeout)

    def clear_timeouts(self) -> None:
        self.clear_timeout()
        self._cancel_timer(self.connect_timeout)

    def on_timeout(self) -> None:
        """The head start is over: the secondary family joins the race."""
        self.timeout = None
        if self.future.done():
            return
        self.try_connect(iter(self.secondary_addrs))

    def on_connect_timeout(self) -> None:
        """The whole race has run out of time: fail it, naming who was late."""
        if not self.future.done():
            message = "Timeout while connecting to " + self._describe_pending()
            self.future.set_exception(TimeoutError(message))
        self.close_streams()

    def _describe_pending(self) -> str:
        return ", ".join(map(_format_addr, _ordered(self.pending_addrs)))

    def close_streams(self) -> None:
        # Copied first: closing a stream may run callbacks that touch the set.
        for each in list(self.streams):
            each.close()


class TCPClient:
    """Opens TCP (and TLS) connections. ``resolver``: a ``netutil.Resolver``."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        # A resolver handed in belongs to the caller; only one made here is
        # closed by close().
        self._own_resolver = resolver is None
        self.resolver = Resolver() if resolver is None else resolver

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: _TLSConfig = None,
        max_buffer_size: _OptionalInt = None,
        source_ip: _OptionalHost = None,
        source_port: _OptionalInt = None,
        timeout: _OptionalDuration = None,
    ) -> IOStream:
        """Connect to ``host``:``port``; the connected stream.

        ``ssl_options`` (a dict, possibly empty, or an ``SSLContext``) makes
        it TLS, verifying the certificate for ``host`` unless the options
        say otherwise. ``source_ip``/``source_port`` bind the local end.
        ``timeout`` (seconds or a timedelta) bounds the whole operation,
        name resolution and TLS handshake included: ``TimeoutError``.
        A refused or unreachable address fails with ``StreamClosedError``
        (``real_error``: the ``OSError``) once every address has failed.
        """
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        if timeout is not None:
            if isinstance(timeout, timedelta):
                seconds = timeout.total_seconds()
            elif isinstance(timeout, Real):
                seconds = float(timeout)
            else:
                raise TypeError(f"Unsupported timeout {timeout!r}")
            deadline = loop.time() + seconds

        # Tornado's shape for the attempts: one stream per (family, address),
        # made by _create_stream (which tests and subclasses may replace).
        attempt = partial(
            self._create_stream, max_buffer_size, source_ip=source_ip, source_port=source_port
        )

        # The timeout messages say which step ran out of time, as Tornado's.
        addrinfo = await _before(
            deadline, self.resolver.resolve(host, port, af), f"Timeout while resolving {host}"
        )
        # The connector enforces the deadline itself, so that its message
        # names the addresses still being tried when time ran out.
        connect_timeout = None
        if deadline is not None:
            connect_timeout = timedelta(seconds=max(deadline - loop.time(), 0))
        winner = await _Connector(addrinfo, attempt).start(connect_timeout=connect_timeout)
        plain: IOStream = winner[2]
        if ssl_options is None:
            return plain
        wrapping = plain.start_tls(False, ssl_options=ssl_options, server_hostname=host)
        peer = _format_addr(plain.socket.getpeername()) if plain.socket else host
        secured: IOStream = await _before(
            deadline, wrapping, f"Timeout during TLS handshake with {peer}"
        )
        return secured

    def close(self) -> None:
        """Close the resolver if this client created it; a caller's is left open."""
        if not self._own_resolver:
            return
        self.resolver.close()

    def _create_stream(
        self,
        max_buffer_size: int | None,
        af: socket.AddressFamily,
        addr: Any,
        source_ip: str | None = None,
        source_port: int | None = None,
    ) -> tuple[IOStream, Future[Any]]:
        """A new stream of family ``af`` and the future of its connect to ``addr``."""
        sock = socket.socket(af, socket.SOCK_STREAM)
        if source_ip is not None or source_port:
            # A source port alone binds on every local address ("" is the
            # wildcard for both families).
            try:
                sock.bind((source_ip or "", source_port or 0))
            except BaseException:
                sock.close()
                raise
        stream = IOStream(sock, max_buffer_size=max_buffer_size)
        return stream, stream.connect(addr)


async def _before(deadline: float | None, awaitable: Any, message: str = "Timeout") -> Any:
    """Await ``awaitable``, cancelling it at ``deadline`` (loop time):
    ``TimeoutError(message)``."""
    if deadline is None:
        return await awaitable
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        return await asyncio.wait_for(awaitable, max(remaining, 0))
    except asyncio.TimeoutError:
        raise TimeoutError(message) from None


def _format_addr(address: Any) -> str:
    """``host:port``, with an IPv6 host in brackets, for error messages."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def _ordered(addresses: set[Any]) -> list[Any]:
    """``addresses`` in a stable order for messages: sorted where they compare."""
    try:
        return sorted(addresses)
    except TypeError:  # a resolver handing back addresses of mixed shapes
        return sorted(addresses, key=repr)
