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
import datetime
import socket
import ssl
from collections.abc import Callable, Iterator
from functools import partial
from numbers import Real
from typing import Any

from squall.iostream import IOStream
from squall.netutil import Resolver
from squall.util import TimeoutError

__all__ = ["TCPClient"]

# The primary family's head start, in seconds: Tornado's value. RFC 6555
# section 5.5 recommends 150-250 ms; Tornado (and so squall) waits a bit
# longer before opening a second connection.
_INITIAL_CONNECT_TIMEOUT = 0.3

_Address = tuple[socket.AddressFamily, Any]
_Attempt = Callable[[socket.AddressFamily, Any], tuple[IOStream | None, "asyncio.Future[Any]"]]


class _Connector:
    """Races connection attempts over a list of resolved addresses.

    Addresses of the first family are tried one after another; those of
    the other families start after the head start, or as soon as a
    primary attempt fails. The first stream to connect wins and the
    attempts still under way are closed. If all fail, the last error is
    raised.
    """

    def __init__(self, addrinfo: list[_Address], attempt: _Attempt) -> None:
        # The current IOLoop's loop: a connector may be built before it runs.
        self.loop = _current_loop()
        self.attempt = attempt
        self.future: asyncio.Future[tuple[socket.AddressFamily, Any, IOStream]] = (
            self.loop.create_future()
        )
        self.timeout: asyncio.TimerHandle | None = None
        self.last_error: BaseException | None = None
        self.remaining = len(addrinfo)
        self.primary, self.secondary = self.split(addrinfo)
        self.streams: set[IOStream] = set()
        # A cancelled race (the caller's timeout) closes what it opened.
        self.future.add_done_callback(lambda f: self.close_streams() if f.cancelled() else None)

    @staticmethod
    def split(addrinfo: list[_Address]) -> tuple[list[_Address], list[_Address]]:
        """The addresses of the first family listed, and all the others."""
        primary: list[_Address] = []
        secondary: list[_Address] = []
        if not addrinfo:
            return primary, secondary
        family = addrinfo[0][0]
        for entry in addrinfo:
            (primary if entry[0] == family else secondary).append(entry)
        return primary, secondary

    def start(
        self, timeout: float = _INITIAL_CONNECT_TIMEOUT
    ) -> asyncio.Future[tuple[socket.AddressFamily, Any, IOStream]]:
        if not self.remaining:
            self.future.set_exception(OSError("no addresses to connect to"))
            return self.future
        self.try_connect(iter(self.primary))
        if not self.future.done():
            self.timeout = self.loop.call_later(timeout, self.on_timeout)
        return self.future

    def try_connect(self, addresses: Iterator[_Address]) -> None:
        candidate = next(addresses, None)
        if candidate is None:
            # Nothing left to try in this family: the overall attempt has
            # failed only once no other connection is still in flight.
            all_settled = self.remaining == 0
            if all_settled and not self.future.done():
                self.future.set_exception(self.last_error or OSError("connection failed"))
            return
        family, address = candidate
        try:
            stream, connected = self.attempt(family, address)
        except Exception as e:  # a bad source address, say
            stream = None
            connected = self.loop.create_future()
            connected.set_exception(e)
        if stream is not None:
            self.streams.add(stream)
        connected.add_done_callback(
            partial(self.on_connect_done, addresses, family, address, stream)
        )

    def on_connect_done(
        self,
        addresses: Iterator[_Address],
        family: socket.AddressFamily,
        address: Any,
        stream: IOStream | None,
        connected: asyncio.Future[Any],
    ) -> None:
        self.remaining -= 1
        error = connected.exception() if not connected.cancelled() else OSError("cancelled")
        if error is not None:
            if stream is not None:
                self.streams.discard(stream)
            if self.future.done():
                return
            self.last_error = error
            self.try_connect(addresses)
            if self.timeout is not None:
                # The primary family failed fast: do not wait out its head
                # start before trying the others.
                self.timeout.cancel()
                self.on_timeout()
            return
        assert stream is not None
        self.clear_timeout()
        self.streams.discard(stream)
        if self.future.done():
            # Another attempt won, or the caller gave up.
            stream.close()
            return
        self.future.set_result((family, address, stream))
        self.close_streams()

    def on_timeout(self) -> None:
        self.timeout = None
        if not self.future.done():
            self.try_connect(iter(self.secondary))

    def clear_timeout(self) -> None:
        if self.timeout is not None:
            self.timeout.cancel()
            self.timeout = None

    def close_streams(self) -> None:
        self.clear_timeout()
        for stream in self.streams:
            stream.close()
        self.streams.clear()


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
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
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
            if isinstance(timeout, datetime.timedelta):
                seconds = timeout.total_seconds()
            elif isinstance(timeout, Real):
                seconds = float(timeout)
            else:
                raise TypeError(f"Unsupported timeout {timeout!r}")
            deadline = loop.time() + seconds

        def attempt(
            family: socket.AddressFamily, address: Any
        ) -> tuple[IOStream, asyncio.Future[Any]]:
            return self._open_stream(family, address, max_buffer_size, source_ip, source_port)

        # The timeout messages say which step ran out of time, as Tornado's.
        addrinfo = await _before(
            deadline, self.resolver.resolve(host, port, af), f"Timeout while resolving {host}"
        )
        targets = ", ".join(_format_addr(address) for _family, address in addrinfo)
        winner = await _before(
            deadline,
            _Connector(addrinfo, attempt).start(),
            f"Timeout while connecting to {targets}",
        )
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

    @staticmethod
    def _open_stream(
        family: socket.AddressFamily,
        address: Any,
        max_buffer_size: int | None,
        source_ip: str | None,
        source_port: int | None,
    ) -> tuple[IOStream, asyncio.Future[Any]]:
        """A new stream for ``family`` and the future of its connect to ``address``."""
        sock = socket.socket(family, socket.SOCK_STREAM)
        if source_ip is not None or source_port:
            # A source port alone binds on every local address ("" is the
            # wildcard for both families).
            try:
                sock.bind((source_ip or "", source_port or 0))
            except BaseException:
                sock.close()
                raise
        stream = IOStream(sock, max_buffer_size=max_buffer_size)
        return stream, stream.connect(address)


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


def _current_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from squall.ioloop import IOLoop

        return IOLoop.current().asyncio_loop
