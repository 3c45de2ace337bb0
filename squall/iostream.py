"""Buffered, awaitable byte streams over asyncio transports.

``IOStream`` wraps a stream socket, ``SSLIOStream`` a TLS connection and
``PipeIOStream`` a pipe. Each is backed by an ``asyncio.BufferedProtocol``
on a transport of the running loop (uvloop's by default): the loop does the
socket calls and the TLS work, the stream buffers what arrives and completes
one pending read at a time::

    stream = IOStream(socket.socket())
    await stream.connect(("127.0.0.1", 8888))
    await stream.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
    head = await stream.read_until(b"\\r\\n\\r\\n", max_bytes=65536)
    body = await stream.read_until_close()

Every read and write returns a Future; the ``callback=`` and
``streaming_callback=`` forms of older Tornado code work as well.

Memory stays bounded both ways. While nobody is reading, the stream stops
reading from its transport once ``READ_BUFFER_HIGH_WATER`` bytes wait
unread; a single read may gather up to ``max_buffer_size`` bytes. A write's
Future resolves once the transport has handed every byte written so far to
the kernel, so ``await stream.write(...)`` in a loop never outruns the peer.

A stream can take over a transport that another protocol was driving (the
HTTP server does this for WebSocket upgrades and ``detach()``): see
``IOStream._from_transport``.

Where squall differs from Tornado, on purpose:

- ``close()`` without an error lets the transport send what it still
  buffers (Tornado drops it); Futures of writes not yet drained still fail
  with ``StreamClosedError``. ``close(exc_info=...)`` aborts.
- ``read_until(..., max_bytes=n)`` fails as soon as ``n`` bytes are buffered
  without the delimiter, rather than one byte later.
- A close callback set on an already closed stream still runs; and while
  ``callback=`` reads are chained on buffered data, it waits for them.
- Tornado 6 calls that pass ``partial``, ``max_bytes`` or
  ``server_hostname`` by position (where the old API had ``callback``) are
  recognised by type and work.
- ``write()`` copies a bytearray (or writable memoryview) it is given, so
  the caller may resize it at once; bytes and read-only views are not copied.

And where it cannot follow Tornado: the transport does the reading, so a
``read_from_fd`` override only serves reads that start with nothing buffered
(``_try_inline_read``); and on a TLS stream under uvloop, a write's Future
resolves once the TLS layer has handed the bytes to the TCP transport, whose
own buffer it cannot see.

Error tree (defined in ``squall._iostream_errors``)::

    OSError
     └── StreamClosedError        the stream is closed; ``real_error`` says why
    Exception
     ├── UnsatisfiableReadError   a read cannot finish within its max_bytes
     └── StreamBufferFullError    a read or write buffer limit was reached

When a read breaks a limit the stream closes, as in Tornado, and the read's
Future fails with an exception that is both a ``StreamClosedError`` (whose
``real_error`` is the limit error) and the limit error itself, so either
``except`` clause catches it.
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import io
import os
import socket
import ssl
import termios
from collections.abc import Callable
from typing import Any, TypeVar, Union, cast

from squall._iostream_base import (
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_READ_CHUNK_SIZE,
    READ_BUFFER_HIGH_WATER,
    BaseIOStream,
    _mark_failed,
    _resolve,
)
from squall._iostream_buffer import _StreamBuffer  # noqa: F401  (Tornado's private name)
from squall._iostream_errors import (
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
)
from squall._iostream_protocol import _StreamProtocol
from squall._iostream_tls import _TLSSocket
from squall.ioloop import IOLoop
from squall.log import gen_log

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_READ_CHUNK_SIZE",
    "READ_BUFFER_HIGH_WATER",
    "BaseIOStream",
    "IOStream",
    "PipeIOStream",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
]

_S = TypeVar("_S", bound="IOStream")
_SSLOptions = Union[dict[str, Any], ssl.SSLContext, None]


class IOStream(BaseIOStream):
    """A stream over a connected (or to-be-connected) stream socket.

    ``IOStream(sock)`` with an unconnected socket: call ``connect``. With a
    connected one (say, from ``accept()``), the stream takes it over at
    once; reads and writes made before the transport is ready wait for it.
    """

    def __init__(
        self,
        socket: socket.socket,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        io_loop: IOLoop | None = None,
    ) -> None:
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size)
        self._init_unattached()
        self.socket = socket
        # The stream owns the socket until a transport takes it over.
        self._owns_socket = True
        socket.setblocking(False)
        if _is_connected(socket):
            self._start_setup(self._attach_connected(socket))

    @classmethod
    def _unattached(
        cls: type[_S],
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> _S:
        """A stream with no socket yet, to be given a transport."""
        stream = cls.__new__(cls)
        BaseIOStream.__init__(stream, max_buffer_size, read_chunk_size, max_write_buffer_size)
        stream._init_unattached()
        return stream

    def _init_unattached(self) -> None:
        self._owns_socket = False
        # read_from_fd's FIONREAD answer.
        self._waiting = array.array("i", [0])

    @classmethod
    def _from_transport(
        cls,
        transport: asyncio.BaseTransport,
        initial_data: bytes = b"",
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> IOStream:
        """Take over a transport another protocol was driving.

        The HTTP server uses this to hand a connection to WebSocket code or
        to ``detach()``. ``initial_data`` is what the old protocol received
        but did not consume; it is read first. The transport's protocol
        becomes the stream's (``transport.set_protocol``); a TLS transport
        gives an ``SSLIOStream`` when called on ``IOStream``. The old
        protocol gets no further events.
        """
        if cls is IOStream and transport.get_extra_info("ssl_object") is not None:
            cls = SSLIOStream
        stream = cls._unattached(max_buffer_size, read_chunk_size, max_write_buffer_size)
        if initial_data:
            stream._read_buffer += initial_data
        transport.set_protocol(stream._protocol)
        stream._attach(transport)
        return stream

    def fileno(self) -> Any:
        return self.socket

    def read_from_fd(self, buf: Any) -> int | None:
        """Read what the kernel holds for this socket into ``buf``, now.

        The count read (0: the peer closed), or None when nothing is
        waiting. Errors (a reset, a closed descriptor) raise ``OSError``.
        The transport does the stream's reading; this is for a read that
        starts with nothing buffered, which can then complete at once.
        """
        sock = self.socket
        fd = sock.fileno() if sock is not None else -1
        if fd < 0:
            return None  # the transport alone knows this connection
        # Asking how much is waiting costs a third of a read that finds
        # nothing (no exception to raise and catch), and it fails the same
        # way on a descriptor that is no longer valid.
        waiting = self._waiting
        fcntl.ioctl(fd, termios.FIONREAD, waiting, True)
        if not waiting[0]:
            return None
        try:
            return os.readv(fd, [buf])
        except (BlockingIOError, InterruptedError):
            return None

    def get_fd_error(self) -> Exception | None:
        """The socket's pending error (SO_ERROR), if any."""
        if self.socket is None:
            return None
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return OSError(code, os.strerror(code)) if code else None

    async def _attach_connected(self, sock: socket.socket) -> None:
        self._setup_started = True
        try:
            await self._loop.connect_accepted_socket(lambda: self._protocol, sock=sock)
        except asyncio.CancelledError:
            sock.close()
            raise
        except Exception as e:
            sock.close()
            self._setup_task = None
            self.close(exc_info=e)

    def _release_unattached(self) -> None:
        if self._owns_socket and self.socket is not None:
            self.socket.close()

    def _deliver_early_writes(self) -> None:
        # A connected socket closed before its transport took it over
        # (write() then close() at once): Tornado writes to the socket as
        # write() is called, so a program may count on those bytes leaving.
        # Hand the kernel what it takes now, as Tornado would have.
        sock, buffered = self.socket, self._write_buffer
        if sock is None or not buffered or not _is_connected(sock):
            return
        while buffered:
            with buffered.peek(len(buffered)) as piece:
                try:
                    sent = sock.send(piece)
                except OSError:  # full (BlockingIOError) or gone: the rest is dropped
                    return
            buffered.advance(sent)

    def connect(
        self,
        address: Any,
        callback: Callable[[], Any] | str | None = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[Any]:
        """Connect the socket to ``address``; resolves with the stream.

        On failure the stream closes and the Future fails with
        ``StreamClosedError`` (``real_error``: the ``OSError``). Writes made
        before the connection is up are sent once it is.
        """
        if isinstance(callback, str):
            # Tornado 6's connect(address, server_hostname) by position.
            server_hostname, callback = callback, None
        if self._setup_task is not None or self._transport is not None or self.socket is None:
            raise RuntimeError("IOStream is already connected or connecting")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._connect_future = future
        if callback is not None:
            self._call_on_success(future, callback, with_result=False)
        if self._closed:
            _mark_failed(future, StreamClosedError(real_error=self.error))
            return future
        self._start_setup(self._connect(address, server_hostname))
        return future

    async def _connect(self, address: Any, server_hostname: str | None) -> None:
        self._setup_started = True
        sock = self.socket
        endpoint: tuple[int, Any] | None = None
        try:
            await self._loop.sock_connect(sock, address)
            endpoint = _fd_and_peer(sock)
            await self._open_transport(sock, address, server_hostname)
        except asyncio.CancelledError:
            sock.close()
            raise
        except Exception as e:
            tls_failed = isinstance(e, ssl.SSLError)
            if tls_failed:
                _log_tls_failure(sock, e, endpoint)
            sock.close()
            self._setup_task = None
            if tls_failed and self._connect_future is not None:
                # A failed TLS handshake (a bad certificate, a host name
                # mismatch) is reported as itself, as Tornado does, not
                # wrapped in StreamClosedError.
                _mark_failed(self._connect_future, e)
            self.close(exc_info=e)

    async def _open_transport(
        self, sock: socket.socket, address: Any, server_hostname: str | None
    ) -> None:
        await self._loop.connect_accepted_socket(lambda: self._protocol, sock=sock)

    def start_tls(
        self,
        server_side: bool,
        ssl_options: _SSLOptions = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[SSLIOStream]:
        """Upgrade to TLS; resolves with a new ``SSLIOStream``.

        The stream must be idle (no pending read or write, nothing
        buffered); afterwards it is closed and only the new stream is used.
        Its close callback moves to the new stream. A failed handshake
        fails the Future with the ``ssl.SSLError``.
        """
        transport = self._transport
        if (
            transport is None
            or self._closed
            or self._read is not None
            or self._read_buffer
            or self._write_waiters
            or self.writing()
        ):
            raise ValueError("IOStream is not idle; cannot convert to SSL")
        if server_side:
            context = _server_context(ssl_options)
        else:
            context = _client_context(ssl_options)
        tls_stream = SSLIOStream._unattached(
            self.max_buffer_size, self.read_chunk_size, self.max_write_buffer_size
        )
        tls_stream.socket = self.socket
        tls_stream._ssl_context = context
        tls_stream._nodelay = self._nodelay
        tls_stream._close_callback, self._close_callback = self._close_callback, None
        # Keep whatever the peer sends next (its TLS hello) in the kernel
        # until the TLS protocol is in place.
        transport.pause_reading()
        self._transport = None
        self._closed = True
        result: asyncio.Future[SSLIOStream] = self._loop.create_future()
        tls_stream._upgrade_from(transport, server_side, server_hostname, result)
        return result


def _log_tls_failure(sock: Any, error: BaseException, known: tuple[int, Any] | None = None) -> None:
    """A failed TLS handshake is logged as Tornado logs it ("SSL Error on
    <fd> <peer>: <error>"), at warning level: usually the peer's doing.

    ``known``: the fd and peer noted before the loop took the socket over
    (uvloop detaches it, after which it answers -1).
    """
    if not isinstance(error, ssl.SSLError):
        return
    fd, peer = known if known is not None else _fd_and_peer(sock)
    gen_log.warning("SSL Error on %s %s: %s", fd, peer, error)


def _fd_and_peer(sock: Any) -> tuple[int, Any]:
    try:
        return sock.fileno(), sock.getpeername()
    except (AttributeError, OSError):
        return -1, None


def _is_connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


_default_client_context: ssl.SSLContext | None = None


def _client_context(ssl_options: _SSLOptions) -> ssl.SSLContext:
    """The client-side context: certificates and host names checked by default."""
    global _default_client_context
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    if ssl_options is None:
        if _default_client_context is None:
            _default_client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        return _default_client_context
    from squall.netutil import ssl_options_to_context

    return ssl_options_to_context(ssl_options, server_side=False)


def _server_context(ssl_options: _SSLOptions) -> ssl.SSLContext:
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    if ssl_options is None:
        raise ValueError("server-side TLS needs ssl_options with a certificate")
    from squall.netutil import ssl_options_to_context

    return ssl_options_to_context(ssl_options, server_side=True)


class SSLIOStream(IOStream):
    """An ``IOStream`` speaking TLS.

    Client side: ``SSLIOStream(sock, ssl_options=...)`` then ``connect``,
    which does the handshake (certificates and host name are verified
    unless ``ssl_options`` says otherwise). Server side: ``TCPServer`` with
    ``ssl_options`` makes these; a connected socket given here is taken to
    be an accepted one and the server handshake runs (``server_side=False``
    and ``server_hostname`` make it a client instead). An ``ssl.SSLSocket``
    not yet handshaken is unwrapped and its context and side are used.
    """

    def __init__(
        self,
        socket: socket.socket,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        io_loop: IOLoop | None = None,
        *,
        ssl_options: _SSLOptions = None,
        server_side: bool | None = None,
        server_hostname: str | None = None,
    ) -> None:
        ssl_socket_options: _SSLOptions = None
        if isinstance(socket, ssl.SSLSocket):
            ssl_socket_options = socket.context
            if server_side is None:
                server_side = socket.server_side
            if server_hostname is None:
                server_hostname = socket.server_hostname
            socket = _unwrap_ssl_socket(socket)
        if ssl_options is None:
            ssl_options = ssl_socket_options
        connected = _is_connected(socket)
        if server_side is None:
            server_side = connected and server_hostname is None
        context = None
        if connected:
            context = _server_context(ssl_options) if server_side else _client_context(ssl_options)
        BaseIOStream.__init__(self, max_buffer_size, read_chunk_size, max_write_buffer_size)
        self._init_unattached()
        self._ssl_options = ssl_options
        self._server_hostname = server_hostname
        self._server_side = server_side
        self._ssl_context = context
        self.socket = socket
        self._owns_socket = True
        socket.setblocking(False)
        if connected:
            self._start_setup(self._attach_connected(socket))

    _ssl_options: _SSLOptions
    _server_hostname: str | None
    _ssl_context: ssl.SSLContext | None
    _handshake_future: asyncio.Future[SSLIOStream] | None

    def _init_unattached(self) -> None:
        super()._init_unattached()
        self._ssl_options = None
        self._server_hostname = None
        self._server_side = True
        self._ssl_context = None
        self._handshake_future = None
        self._handshake_done = False
        # The plain transport being upgraded by start_tls, until it is.
        self._pending_transport: asyncio.BaseTransport | None = None

    def read_from_fd(self, buf: Any) -> int | None:
        """Never reads: the bytes on the socket are the TLS layer's to
        decrypt. It still fails, as a read would, on a socket whose
        descriptor is gone; otherwise None (nothing to offer)."""
        sock = self.socket
        fd = sock.fileno() if sock is not None else -1
        if fd >= 0:
            fcntl.ioctl(fd, termios.FIONREAD, self._waiting, True)
        return None

    def wait_for_handshake(
        self, callback: Callable[[], Any] | None = None
    ) -> asyncio.Future[SSLIOStream]:
        """Resolves with the stream once the TLS handshake is done.

        As in Tornado, one caller waits at a time: a second call while the
        first one's Future is pending raises ``RuntimeError``; once it has
        resolved, a new call gets a new (already resolved) Future.
        """
        if self._handshake_future is not None:
            raise RuntimeError("Already waiting")
        future: asyncio.Future[SSLIOStream] = self._loop.create_future()
        self._handshake_future = future
        if callback is not None:
            self._call_on_success(future, callback, with_result=False)
        if self._handshake_done:
            self._settle_handshake_waiter()
        elif self._closed:
            self._settle_handshake_waiter(StreamClosedError(real_error=self.error))
        return future

    def _settle_handshake_waiter(self, error: BaseException | None = None) -> None:
        future, self._handshake_future = self._handshake_future, None
        if future is None:
            return
        if error is None:
            _resolve(future, self)
        else:
            _mark_failed(future, error)

    def _on_attached(self) -> None:
        # Every TLS transport reaches the stream only after its handshake;
        # from now on the socket also answers for the session (cipher()...).
        transport = self._transport
        raw = self.socket._sock if isinstance(self.socket, _TLSSocket) else self.socket
        self.socket = _TLSSocket(raw, transport.get_extra_info("ssl_object"))
        self._handshake_done = True
        self._settle_handshake_waiter()

    def _on_closed(self) -> None:
        self._settle_handshake_waiter(StreamClosedError(real_error=self.error))

    async def _attach_connected(self, sock: socket.socket) -> None:
        self._setup_started = True
        context = self._ssl_context
        try:
            if self._server_side:
                await self._loop.connect_accepted_socket(
                    lambda: self._protocol, sock=sock, ssl=context
                )
            else:
                await self._tls_client_transport(sock, self._server_hostname or "")
        except asyncio.CancelledError:
            sock.close()
            raise
        except Exception as e:
            _log_tls_failure(sock, e)
            sock.close()
            self._setup_task = None
            self.close(exc_info=e)

    def connect(
        self,
        address: Any,
        callback: Callable[[], Any] | str | None = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[Any]:
        """Connect and do the TLS handshake (as a client).

        The certificate is checked against ``server_hostname``, by default
        the host in ``address``.
        """
        self._server_side = False
        self._ssl_context = _client_context(self._ssl_options)
        return super().connect(address, callback, server_hostname)

    async def _open_transport(
        self, sock: socket.socket, address: Any, server_hostname: str | None
    ) -> None:
        if server_hostname is None:
            server_hostname = self._server_hostname
        if server_hostname is None and isinstance(address, tuple) and isinstance(address[0], str):
            server_hostname = address[0]
        await self._tls_client_transport(sock, server_hostname or "")

    async def _tls_client_transport(self, sock: socket.socket, server_hostname: str) -> None:
        context = self._ssl_context
        if sock.family == socket.AF_UNIX:
            await self._loop.create_unix_connection(
                lambda: self._protocol, sock=sock, ssl=context, server_hostname=server_hostname
            )
        else:
            await self._loop.create_connection(
                lambda: self._protocol, sock=sock, ssl=context, server_hostname=server_hostname
            )

    def _upgrade_from(
        self,
        transport: asyncio.BaseTransport,
        server_side: bool,
        server_hostname: str | None,
        result: asyncio.Future[SSLIOStream],
    ) -> None:
        """Run the handshake on a plain transport (``IOStream.start_tls``)."""
        self._server_side = server_side
        self._pending_transport = transport
        # A caller that stops waiting (a timeout) abandons the connection.
        result.add_done_callback(lambda f: self.close() if f.cancelled() else None)
        self._start_setup(self._upgrade(transport, server_side, server_hostname, result))

    async def _upgrade(
        self,
        transport: asyncio.BaseTransport,
        server_side: bool,
        server_hostname: str | None,
        result: asyncio.Future[SSLIOStream],
    ) -> None:
        self._setup_started = True
        assert self._ssl_context is not None
        try:
            tls_transport = await self._loop.start_tls(
                cast(asyncio.WriteTransport, transport),
                self._protocol,
                self._ssl_context,
                server_side=server_side,
                server_hostname=server_hostname,
            )
        except BaseException as e:
            _log_tls_failure(transport.get_extra_info("socket"), e)
            transport.close()
            self._setup_task = None
            self.close(exc_info=e)
            if isinstance(e, asyncio.CancelledError):
                result.cancel()
                raise
            _mark_failed(result, e)
            return
        assert tls_transport is not None
        self._pending_transport = None
        self._attach(tls_transport)
        _resolve(result, self)

    def _release_unattached(self) -> None:
        pending = self._pending_transport
        if pending is not None:
            pending.close()
        super()._release_unattached()

    def _deliver_early_writes(self) -> None:
        # What is buffered is plaintext: without TLS in place nothing may go
        # on the raw socket, so it is dropped (the handshake never happened).
        return


def _unwrap_ssl_socket(sock: ssl.SSLSocket) -> socket.socket:
    """The plain socket under an SSLSocket that has not done its handshake."""
    plain = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    return plain


class _PipeEnd:
    """The file object a pipe transport is given: one fd, closed once.

    The standard loop's pipe transports close the object they were given;
    uvloop's close the fd themselves (libuv) and then call ``close()`` on
    the object as well. Closing the fd there too would close whatever file
    reused the number in between, so with uvloop ``close()`` only records it.
    """

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.fd = fd
        self.closed = False
        self._loop_closes_fd = type(loop).__module__.partition(".")[0] == "uvloop"

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        """The transport is done with the pipe."""
        if self.closed:
            return
        self.closed = True
        if not self._loop_closes_fd:
            os.close(self.fd)

    def release(self) -> None:
        """Close the fd when no transport ever took it."""
        if not self.closed:
            self.closed = True
            os.close(self.fd)


class PipeIOStream(BaseIOStream):
    """A stream over a pipe file descriptor (which it owns and closes).

    The read end of a pipe gives a readable stream, the write end a
    writable one; an fd opened read-write is read from.
    """

    def __init__(
        self,
        fd: int,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        io_loop: IOLoop | None = None,
    ) -> None:
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size)
        self.fd = fd
        self._writes = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
        os.set_blocking(fd, False)
        self._pipe = _PipeEnd(fd, self._loop)
        self._start_setup(self._attach_pipe())

    def fileno(self) -> int:
        return self.fd

    def _readable(self) -> bool:
        return not self._writes

    @property
    def _writable(self) -> bool:  # type: ignore[override]
        return self._writes

    def _check_writable(self) -> None:
        if not self._writes:
            raise io.UnsupportedOperation("PipeIOStream on a pipe's read end cannot write")

    def _check_not_reading(self) -> None:
        if self._writes:
            raise io.UnsupportedOperation("PipeIOStream on a pipe's write end cannot read")
        super()._check_not_reading()

    async def _attach_pipe(self) -> None:
        self._setup_started = True
        protocol = self._protocol

        def factory() -> _StreamProtocol:
            return protocol

        try:
            if self._writes:
                await self._loop.connect_write_pipe(factory, self._pipe)
            else:
                await self._loop.connect_read_pipe(factory, self._pipe)
        except BaseException as e:
            # As the loop would close it (it may have taken it already).
            self._pipe.close()
            if isinstance(e, asyncio.CancelledError):
                raise
            self._setup_task = None
            self.close(exc_info=e)

    def _release_unattached(self) -> None:
        self._pipe.release()
