"""``BaseIOStream``: buffering, reads, writes and closing over a transport.

Private to squall.iostream, which adds the socket, TLS and pipe streams and
is the public import path. The transport side is an ``asyncio.BufferedProtocol``
(``_StreamProtocol``, in ``_iostream_protocol``) that forwards every event to its stream.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Union, cast

from squall._iostream_buffer import _StreamBuffer

# _mark_failed and _resolve are re-exported: squall.iostream imports them from here.
from squall._iostream_callbacks import _mark_failed as _mark_failed
from squall._iostream_callbacks import _resolve as _resolve
from squall._iostream_callbacks import _StreamCallbacks
from squall._iostream_errors import (
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
    _BufferFullClosedError,
    _UnsatisfiableReadClosedError,
)
from squall._iostream_protocol import _StreamProtocol
from squall._iostream_reads import (
    NOT_YET,
    ReadBytes,
    ReadInto,
    ReadLimitExceeded,
    ReadRequest,
    ReadUntil,
    ReadUntilClose,
    ReadUntilRegex,
)
from squall.ioloop import IOLoop
from squall.log import gen_log

__all__ = ["BaseIOStream"]

# -- limits -------------------------------------------------------------------

# Tornado's default max_buffer_size: the most a single read may gather.
DEFAULT_MAX_BUFFER_SIZE = 100 * 1024 * 1024

# Tornado's default read_chunk_size: the most taken from the transport at once.
DEFAULT_READ_CHUNK_SIZE = 64 * 1024

# With no read pending, the stream pauses its transport once this many bytes
# wait unread, and resumes below half of it. 256 KiB is what asyncio's and
# uvloop's transports receive per call, so an idle stream holds at most a
# few reads' worth however fast the peer sends.
READ_BUFFER_HIGH_WATER = 256 * 1024

# Below this size a slice of a bytearray is copied out directly; above it,
# through a memoryview, which avoids an intermediate copy.
_SMALL_COPY = 2048

_ExcInfo = Union[
    None,
    bool,
    BaseException,
    tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
]


class _Scratch(threading.local):
    """Receive space shared by the streams of one thread.

    A transport asks for a buffer, fills it and reports the count in one
    synchronous step, after which the stream copies the bytes out; so one
    buffer per thread (there is one loop per thread) serves every stream,
    instead of a read_chunk_size buffer per connection.
    """

    view: memoryview | None = None


_scratch = _Scratch()


def _scratch_view(size: int) -> memoryview:
    view = _scratch.view
    if view is None or len(view) < size:
        view = _scratch.view = memoryview(bytearray(max(size, DEFAULT_READ_CHUNK_SIZE)))
    return view[:size]


# Connection errors that end a stream the way a close does (peers often reset
# rather than close); read_until_close still returns what arrived.
_ORDINARY_CLOSE_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def _is_mutable(data: bytes | bytearray | memoryview) -> bool:
    return isinstance(data, bytearray) or (isinstance(data, memoryview) and not data.readonly)


def _as_bytes(value: str | bytes | bytearray | memoryview, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def _as_regex(regex: str | bytes | re.Pattern[Any]) -> re.Pattern[bytes]:
    if isinstance(regex, re.Pattern):
        if isinstance(regex.pattern, bytes):
            return regex
        # A str pattern carries re.UNICODE, which bytes patterns refuse.
        return re.compile(regex.pattern.encode("utf-8"), regex.flags & ~re.UNICODE)
    return re.compile(_as_bytes(regex, "regex"))


class BaseIOStream(_StreamCallbacks):
    """The reading, writing and closing shared by every stream kind."""

    socket: Any = None

    def __init__(
        self,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        io_loop: IOLoop | None = None,
    ) -> None:
        # io_loop is accepted for code written for Tornado 1.x-4.x; a stream
        # always lives on the current loop, as in Tornado 5+.
        current = IOLoop.current()
        assert current is not None
        self.io_loop: IOLoop = current
        self._loop = current.asyncio_loop
        self.max_buffer_size = max_buffer_size or DEFAULT_MAX_BUFFER_SIZE
        # At most half the buffer limit per chunk, as Tornado.
        self.read_chunk_size = max(
            1, min(read_chunk_size or DEFAULT_READ_CHUNK_SIZE, self.max_buffer_size // 2)
        )
        self.max_write_buffer_size = max_write_buffer_size
        self._read_high_water = min(READ_BUFFER_HIGH_WATER, self.max_buffer_size)
        # Lifetime: closed yet, why (``error``), and who to tell.
        self._closed = False
        self.error: BaseException | None = None
        self._close_callback: Callable[[], Any] | None = None
        # The asyncio side: our protocol object and, once made, its transport.
        self._protocol = _StreamProtocol(self)
        self._transport: Any = None
        # Reading: bytes received but not consumed, the one read waiting for
        # more, and whether the transport was asked to stop delivering.
        self._read_buffer = bytearray()
        self._read: ReadRequest | None = None
        self._reading_paused = False
        # What get_buffer lent the transport, and whether it is a read_into
        # caller's own buffer rather than the shared scratch space.
        self._scratch: memoryview | None = None
        self._lent: memoryview | None = None
        self._lent_into: ReadInto | None = None
        # Bytes written before the transport exists (handed to it once it
        # does; afterwards writes go straight to it), and the Futures of
        # writes not yet handed to the kernel.
        self._write_buffer = _StreamBuffer()
        self._write_waiters: list[asyncio.Future[None]] = []
        self._connect_future: asyncio.Future[Any] | None = None
        # The task that connects or attaches the transport; whether it began
        # (before that, nothing has taken ownership of the socket or pipe).
        self._setup_task: asyncio.Task[None] | None = None
        self._setup_started = False
        # Called once with the stream when its transport arrives (TCPServer).
        self._on_attach: Callable[[BaseIOStream], None] | None = None
        self._nodelay: bool | None = None
        # Callbacks given with callback= whose Future has not settled yet.
        self._callbacks_pending = 0

    # -- state ---------------------------------------------------------------

    def fileno(self) -> Any:
        """The socket (or pipe fd) under the stream."""
        return self.socket

    def closed(self) -> bool:
        """True once the stream is closed (locally, by the peer, or by an error)."""
        return self._closed

    def reading(self) -> bool:
        """True while a read is pending."""
        return self._read is not None

    def writing(self) -> bool:
        """True while written bytes are not yet handed to the kernel."""
        if self._write_buffer:
            return True
        transport = self._transport
        return transport is not None and transport.get_write_buffer_size() > 0

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` once the stream closes.

        Unlike Tornado, a callback set on a stream that is already closed
        runs too (on the next loop iteration): code that sets it late must
        not wait forever.
        """
        self._close_callback = callback
        if callback is not None and self._closed:
            self._schedule_close_callback()

    def set_nodelay(self, value: bool) -> None:
        """Turn Nagle's algorithm off (True) or on (False) for TCP streams.

        asyncio's and uvloop's TCP transports already set TCP_NODELAY.
        """
        self._nodelay = value
        if self._transport is not None:
            self._apply_nodelay()

    def _apply_nodelay(self) -> None:
        sock = self._transport.get_extra_info("socket") if self._transport else self.socket
        if sock is None or self._nodelay is None:
            return
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self._nodelay else 0)
        except OSError as e:
            # EINVAL: the peer already reset the connection (seen on macOS).
            if e.errno != errno.EINVAL:
                raise

    # -- reads ---------------------------------------------------------------

    def read_bytes(
        self,
        num_bytes: int,
        callback: Callable[[bytes], Any] | bool | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
        partial: bool = False,
    ) -> asyncio.Future[bytes]:
        """Read ``num_bytes`` bytes (with ``partial``, as soon as 1+ arrive).

        With ``streaming_callback``, the bytes go to it as they arrive and
        the Future resolves with ``b""`` once all were delivered. Tornado 6's
        ``read_bytes(n, True)`` (partial given by position) works too.
        """
        if isinstance(callback, bool):
            partial, callback = callback, None
        if not isinstance(num_bytes, int) or isinstance(num_bytes, bool):
            raise TypeError(f"num_bytes must be an int, not {type(num_bytes).__name__}")
        if num_bytes < 0:
            raise ValueError(f"num_bytes must not be negative: {num_bytes}")
        self._check_not_reading()
        request = ReadBytes(self._loop.create_future(), num_bytes, partial, streaming_callback)
        return self._start_read(request, callback)

    def read_until(
        self,
        delimiter: bytes | str,
        callback: Callable[[bytes], Any] | int | None = None,
        max_bytes: int | None = None,
    ) -> asyncio.Future[bytes]:
        """Read up to and including ``delimiter``.

        If it is not found within ``max_bytes`` bytes the stream closes and
        the read fails (``UnsatisfiableReadError`` / ``StreamClosedError``).
        Tornado 6's ``read_until(delimiter, max_bytes)`` by position works too.
        """
        if isinstance(callback, int):
            max_bytes, callback = callback, None
        delimiter = _as_bytes(delimiter, "delimiter")
        self._check_not_reading()
        request = ReadUntil(self._loop.create_future(), delimiter, max_bytes)
        return self._start_read(request, callback)

    def read_until_regex(
        self,
        regex: bytes | str | re.Pattern[Any],
        callback: Callable[[bytes], Any] | int | None = None,
        max_bytes: int | None = None,
    ) -> asyncio.Future[bytes]:
        """Read up to the end of the first match of ``regex`` (max_bytes as
        for ``read_until``, and also accepted in second position)."""
        if isinstance(callback, int):
            max_bytes, callback = callback, None
        pattern = _as_regex(regex)
        self._check_not_reading()
        request = ReadUntilRegex(self._loop.create_future(), pattern, max_bytes)
        return self._start_read(request, callback)

    def read_until_close(
        self,
        callback: Callable[[bytes], Any] | None = None,
        streaming_callback: Callable[[bytes], Any] | None = None,
    ) -> asyncio.Future[bytes]:
        """Read everything until the stream closes.

        With ``streaming_callback`` the data goes to it in chunks and the
        Future resolves with ``b""``. Without one, at most
        ``max_buffer_size`` bytes are gathered.
        """
        self._check_not_reading()
        request = ReadUntilClose(self._loop.create_future(), streaming_callback)
        return self._start_read(request, callback)

    def read_into(
        self, buf: Any, partial: bool = False, callback: Callable[[int], Any] | None = None
    ) -> asyncio.Future[int]:
        """Fill ``buf`` (any writable buffer); resolves with the byte count.

        With ``partial``, resolves as soon as at least one byte was stored.
        """
        self._check_not_reading()
        request = ReadInto(self._loop.create_future(), buf, partial)
        return self._start_read(request, callback)

    def _check_not_reading(self) -> None:
        if self._read is not None:
            raise AssertionError("Already reading")

    def _start_read(
        self, request: ReadRequest, callback: Callable[[Any], Any] | None
    ) -> asyncio.Future[Any]:
        future = request.future
        if callback is not None:
            self._call_on_success(future, callback, with_result=True)
        self._read = request
        if not self._read_buffer and not self._closed and self._transport is not None:
            self._try_inline_read()
        if (
            self._read_buffer
            or self._closed
            or type(request) is not ReadBytes
            or request.streaming_callback is not None
            or not request.remaining
        ):
            self._process_read()
            if self._read is request and self._closed:
                if not request.until_close and not self._read_buffer:
                    # Nothing buffered can ever satisfy it: as Tornado, the
                    # error is raised at once, not left in a future.
                    self._read = None
                    if callback is None:
                        request.future.cancel()  # nobody will see it
                        raise self._closed_error()
                self._settle_read_on_close()
        elif self._reading_paused:
            # The common case: nothing buffered, nothing to do but listen.
            self._update_flow()
        return future

    def _try_inline_read(self) -> None:
        """A read starts with nothing buffered: take what the kernel already
        holds (``read_from_fd``), so that it may complete at once.

        An error there (a reset, a descriptor closed under the stream)
        closes the stream and is raised to the reader, as in Tornado.
        """
        view = self._scratch
        if view is None:
            view = self._scratch = _scratch_view(self.read_chunk_size)
        try:
            count = self.read_from_fd(view)
        except _ORDINARY_CLOSE_ERRORS as e:
            # A reset ends the stream as when the transport reports it: the
            # read settles as on any close.
            self.close(exc_info=e)
            return
        except OSError as e:
            self._read = None
            self.close(exc_info=e)
            raise
        if count is None:
            return
        if count == 0:
            self.close()  # the peer closed: an orderly end, as a transport EOF
            return
        self._read_buffer += view[:count]

    def read_from_fd(self, buf: Any) -> int | None:
        """Read into ``buf`` what is waiting, outside the transport: the
        count (0 at EOF), or None when nothing is. Streams that cannot
        (TLS, pipes) have nothing to offer here: their transport reads."""
        return None

    def _get_buffer(self, sizehint: int = -1) -> memoryview:
        request = self._read
        if type(request) is ReadInto and not self._read_buffer:
            # Straight into the caller's buffer: no copy at all.
            self._lent_into = request
            view = request.target[request.filled :]
        else:
            self._lent_into = None
            scratch = self._scratch
            if scratch is None:
                scratch = self._scratch = _scratch_view(self.read_chunk_size)
            view = scratch
        self._lent = view
        return view

    def _buffer_updated(self, nbytes: int) -> None:
        view, self._lent = self._lent, None
        into, self._lent_into = self._lent_into, None
        if into is not None:
            into.filled += nbytes
            if into is self._read and into.complete():
                self._read = None
                _resolve(into.future, into.filled)
                self._update_flow()
            return
        assert view is not None
        self._received(view[:nbytes])

    def _received(self, data: bytes | memoryview) -> None:
        """New bytes from the transport: buffer them, complete the read."""
        if self._closed:
            return
        request = self._read
        buffer = self._read_buffer
        if not buffer and type(request) is ReadBytes and request.streaming_callback is None:
            # The common case of a fixed-size or partial read on an empty
            # buffer: hand the bytes over without going through the buffer.
            size = len(data)
            want = request.remaining
            if size >= want or (request.partial and size):
                count = min(size, want)
                result = bytes(data[:count]) if count < size else bytes(data)
                if count < size:
                    buffer += data[count:]
                self._read = None
                _resolve(request.future, result)
                if self._reading_paused or len(buffer) >= self._read_high_water:
                    self._update_flow()
                return
        buffer += data
        self._process_read()

    def _process_read(self) -> None:
        """Complete (or stream to) the pending read with what is buffered."""
        while True:
            request = self._read
            if request is None:
                break
            buffer = self._read_buffer
            if request.streaming_callback is not None:
                if request.streamed_to_end():
                    self._read = None
                    _resolve(request.future, b"")
                    break
                if not buffer:
                    break
                chunk = self._consume(request.chunk_ready(len(buffer)))
                self._run_callback(request.streaming_callback, chunk)
                if self._read is not request or self._closed:
                    break
                continue
            if type(request) is ReadInto:
                copied = request.copy_from(buffer)
                if copied:
                    del buffer[:copied]
                if request.complete():
                    self._read = None
                    _resolve(request.future, request.filled)
                break
            try:
                size = request.bytes_ready(buffer)
            except ReadLimitExceeded as e:
                gen_log.info("Unsatisfiable read, closing connection: %s", e)
                self.close(exc_info=UnsatisfiableReadError(str(e)))
                return
            if size == NOT_YET:
                if len(buffer) > self.max_buffer_size:
                    # Logged as Tornado logs it: the limit (an error: data was
                    # refused), then the read that failed because of it.
                    error = StreamBufferFullError("Reached maximum read buffer size")
                    gen_log.error("Reached maximum read buffer size")
                    gen_log.warning("error on read: %s", error)
                    self.close(exc_info=error)
                    return
                break
            self._read = None
            _resolve(request.future, self._consume(size))
            break
        self._update_flow()

    def _consume(self, size: int) -> bytes:
        buffer = self._read_buffer
        if size == len(buffer):
            data = bytes(buffer)
            buffer.clear()
            return data
        if size < _SMALL_COPY:
            data = bytes(buffer[:size])
        else:
            data = bytes(memoryview(buffer)[:size])
        # Deleting from the front of a bytearray only moves its start.
        del buffer[:size]
        return data

    def _update_flow(self) -> None:
        """Pause the transport while unread data piles up; resume when needed."""
        transport = self._transport
        if transport is None or self._closed or not self._readable():
            return
        if self._reading_paused:
            if self._read is not None or len(self._read_buffer) < self._read_high_water // 2:
                self._reading_paused = False
                transport.resume_reading()
        elif self._read is None and len(self._read_buffer) >= self._read_high_water:
            self._reading_paused = True
            transport.pause_reading()

    def _readable(self) -> bool:
        return True

    def _settle_read_on_close(self) -> None:
        """The stream closed: finish or fail the pending read."""
        request = self._read
        if request is None:
            return
        # Data that arrived before a close is the answer to read_until_close,
        # even after a reset; not when the stream closed for breaking a limit.
        limit_broken = isinstance(self.error, (StreamBufferFullError, UnsatisfiableReadError))
        # A close with an error (not a mere reset by the peer, which is how
        # peers often end) fails read_until_close: its data may be truncated.
        failed = self.error is not None and not isinstance(self.error, _ORDINARY_CLOSE_ERRORS)
        if request.until_close and not limit_broken and not failed:
            if request.streaming_callback is not None:
                if self._read_buffer:
                    chunk = self._consume(len(self._read_buffer))
                    self._run_callback(request.streaming_callback, chunk)
                result = b""
            else:
                result = self._consume(len(self._read_buffer))
            self._read = None
            _resolve(request.future, result)
            return
        self._read = None
        if type(request) is ReadInto:
            self._release_read_into(request)
        _mark_failed(request.future, self._closed_error())

    def _release_read_into(self, request: ReadInto) -> None:
        """Give the caller's buffer back: a failed read_into holds no view
        of it, so the caller may resize it (``del buf[:]``) afterwards."""
        lent, self._lent = self._lent, None
        self._lent_into = None
        for view in (lent, request.target):
            if view is not None:
                try:
                    view.release()
                except BufferError:
                    pass  # the transport still holds it; freed when it lets go

    def _closed_error(self) -> StreamClosedError:
        error = self.error
        if isinstance(error, UnsatisfiableReadError):
            return _UnsatisfiableReadClosedError(error)
        if isinstance(error, StreamBufferFullError):
            return _BufferFullClosedError(error)
        return StreamClosedError(real_error=error)

    # -- writes --------------------------------------------------------------

    def write(
        self,
        data: bytes | bytearray | memoryview | str,
        callback: Callable[[], Any] | None = None,
    ) -> asyncio.Future[None]:
        """Write ``data``; the Future resolves once it reached the kernel.

        More precisely, once the transport's buffer is empty: every byte
        written so far is then with the operating system. Raises
        ``StreamClosedError`` on a closed stream and ``StreamBufferFullError``
        if ``max_write_buffer_size`` would be exceeded.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        transport = self._transport
        if self._closed or (transport is not None and transport.is_closing()):
            raise StreamClosedError(real_error=self.error)
        if not self._writable:
            self._check_writable()
        if self.max_write_buffer_size is not None:
            pending = len(self._write_buffer)
            if transport is not None:
                pending += transport.get_write_buffer_size()
            if pending + len(data) > self.max_write_buffer_size:
                raise StreamBufferFullError("Reached maximum write buffer size")
        future: asyncio.Future[None] = self._loop.create_future()
        if callback is not None:
            self._call_on_success(future, callback, with_result=False)
        if transport is None:
            if data:
                # Copied: the caller may reuse a bytearray before we connect.
                self._write_buffer.append(bytes(data))
            self._write_waiters.append(future)
            return future
        if data:
            if type(data) is not bytes and _is_mutable(data):
                # uvloop keeps a view of what the kernel did not take at
                # once; a copy leaves the caller free to resize its buffer
                # as soon as write() returns, even if the stream then closes.
                data = bytes(data)
            transport.write(data)
        if transport.get_write_buffer_size() or transport.is_closing():
            # Still sending; or the write just failed (a broken pipe), and
            # connection_lost, coming next, fails the Future.
            self._write_waiters.append(future)
        else:
            # All with the kernel already (the usual case): so is whatever
            # earlier writes were waiting for.
            if self._write_waiters:
                self._on_drained()
            future.set_result(None)
        return future

    # Whether write() may be used; streams that cannot write say why in
    # _check_writable.
    _writable = True

    def _check_writable(self) -> None:
        pass

    def _on_drained(self) -> None:
        transport = self._transport
        if transport is None or transport.get_write_buffer_size():
            return
        if transport.is_closing():
            # An empty buffer on a transport going down (uvloop's write pipe
            # when the reader left) means dropped, not sent: connection_lost
            # fails the waiters instead.
            return
        waiters, self._write_waiters = self._write_waiters, []
        for future in waiters:
            _resolve(future, None)

    # -- transport lifecycle -------------------------------------------------

    def _attach(self, transport: asyncio.BaseTransport) -> None:
        """Start using ``transport`` (its connection_made, or a takeover)."""
        if self._closed:
            # Closed while the transport was being made.
            transport.close()
            return
        self._transport = transport
        if self.socket is None:
            self.socket = transport.get_extra_info("socket")
        if self._writable:
            # Pause while anything is buffered, resume once nothing is:
            # resume_writing then means "drained". TLS transports pause at
            # size >= high rather than > high, hence high=1 for them. (The
            # read end of a pipe has no write buffer: uvloop's raises here.)
            tls = transport.get_extra_info("ssl_object") is not None
            cast(asyncio.WriteTransport, transport).set_write_buffer_limits(
                high=1 if tls else 0, low=0
            )
        if self._nodelay is not None:
            self._apply_nodelay()
        if self._readable():
            self._reading_paused = not cast(asyncio.ReadTransport, transport).is_reading()
        self._on_attached()
        if self._connect_future is not None:
            # Connected, even if the peer closes before the caller hears.
            # Resolved before the writes made while connecting, as in
            # Tornado: connect() always completes first.
            _resolve(self._connect_future, self)
        early = self._write_buffer
        while early:
            with early.peek(len(early)) as piece:
                sent = len(piece)
                cast(asyncio.WriteTransport, transport).write(bytes(piece))
            early.advance(sent)
        if self._write_waiters:
            self._on_drained()
        hook, self._on_attach = self._on_attach, None
        if hook is not None:
            hook(self)
        if transport.is_closing():
            # Taken over after the peer had already gone.
            self._on_connection_lost(None)
            return
        self._process_read()

    def _on_attached(self) -> None:
        """Subclass hook: the transport is in place."""

    def _on_connection_lost(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        if exc is not None and self.error is None:
            self.error = exc
        self._closed = True
        self._signal_closed()

    def close(self, exc_info: _ExcInfo = False) -> None:
        """Close the stream.

        ``exc_info`` records why (stored in ``error`` and passed on as
        ``real_error``): True for the exception being handled, or an
        exception, or an exc_info tuple. An orderly close lets the transport
        send what it still buffers; a close with an error drops it.
        """
        if self._closed:
            return
        if exc_info:
            if isinstance(exc_info, tuple):
                error = exc_info[1]
            elif isinstance(exc_info, BaseException):
                error = exc_info
            else:
                error = sys.exc_info()[1]
            if error is not None:
                self.error = error
        self._closed = True
        transport = self._transport
        if transport is not None:
            if self.error is None:
                transport.close()
            else:
                try:
                    transport.abort()
                except NotImplementedError:
                    # uvloop's read-pipe transport cannot abort; nothing is
                    # waiting to be written there, so closing is the same.
                    transport.close()
        else:
            if self.error is None:
                self._deliver_early_writes()
            task = self._setup_task
            if task is not None and not task.done():
                task.cancel()
            if task is None or task.done() or not self._setup_started:
                # Nothing took ownership of the socket or pipe yet.
                self._release_unattached()
        self._signal_closed()

    def _release_unattached(self) -> None:
        """Subclass hook: close what the stream holds before a transport exists."""

    def _deliver_early_writes(self) -> None:
        """Subclass hook: an orderly close before the transport exists; send
        what was written meanwhile if the stream can without one."""

    def _start_setup(self, coro: Any) -> None:
        self._setup_task = self._loop.create_task(coro)

    def _signal_closed(self) -> None:
        self._settle_read_on_close()
        self._write_buffer.clear()
        waiters, self._write_waiters = self._write_waiters, []
        for future in waiters:
            _mark_failed(future, StreamClosedError(real_error=self.error))
        if self._connect_future is not None:
            _mark_failed(self._connect_future, StreamClosedError(real_error=self.error))
        self._on_closed()
        if self._close_callback is not None:
            self._schedule_close_callback()

    def _on_closed(self) -> None:
        """Subclass hook: the stream just closed."""
