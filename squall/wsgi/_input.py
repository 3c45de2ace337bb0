"""``wsgi.input``: the request body, streamed from the event loop to a worker.

The loop side ``feed``s body chunks as the connection delivers them; the
application's thread reads them with the blocking file-like calls PEP 3333
asks for. At most ``BODY_BUFFER_LIMIT`` bytes wait between the two: past
that, ``feed`` returns a future the connection waits for before it reads
more from the socket, so a large upload streams through in bounded memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

from squall.wsgi._errors import ClientDisconnected

__all__ = ["BODY_BUFFER_LIMIT", "WSGIInput"]

# Body bytes held for the application before the connection stops reading:
# four of the 64 KiB chunks the HTTP server reads at a time (Tornado's
# default read chunk size), so the socket stays busy while the app reads.
BODY_BUFFER_LIMIT = 256 * 1024

# How often (seconds) a thread waiting on the event loop checks that the
# loop still exists. It only matters when a server is torn down under a
# running application; normally the loop wakes the thread first.
LOOP_CHECK_INTERVAL = 1.0

# Size of the pieces readline() scans when the application gives no limit.
_LINE_SCAN = 64 * 1024


class WSGIInput:
    """A request body as a read-only binary stream (``wsgi.input``).

    ``read``, ``readline``, ``readlines`` and iteration block the calling
    thread until enough of the body has arrived; they return ``b""`` at the
    end of the body and raise ``ClientDisconnected`` if the client goes
    away first.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None, complete: bool = False) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._eof = complete
        self._failed = False
        self._discarding = False
        self._cond = threading.Condition(threading.Lock())
        # Loop side only: the future the connection waits on while we are full.
        self._waiter: asyncio.Future[None] | None = None
        # Set (under the lock) while the connection waits for us to read.
        self._paused = False
        self.bytes_received = 0

    @classmethod
    def from_bytes(cls, body: bytes) -> WSGIInput:
        """A stream over a body that is already complete."""
        stream = cls(None, complete=True)
        stream._buffer += body
        stream.bytes_received = len(body)
        return stream

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived."""
        return self._eof

    # -- the event loop's side -------------------------------------------------

    def feed(self, chunk: bytes) -> asyncio.Future[None] | None:
        """Add a body chunk; a future to wait for when the buffer is full."""
        with self._cond:
            if self._discarding or self._failed:
                return None
            self._buffer += chunk
            self.bytes_received += len(chunk)
            self._cond.notify_all()
            if len(self._buffer) < BODY_BUFFER_LIMIT:
                return None
            assert self._loop is not None
            self._waiter = self._loop.create_future()
            self._paused = True
            return self._waiter

    def finish(self) -> None:
        """The whole body has arrived."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self) -> None:
        """The client went away: readers get ClientDisconnected."""
        with self._cond:
            if not self._eof:
                self._failed = True
            self._cond.notify_all()
        self._wake_connection()

    def discard(self) -> None:
        """The application is done: drop what it did not read, and the rest."""
        with self._cond:
            self._discarding = True
            self._buffer = bytearray()
            self._cond.notify_all()
            self._resume_connection()

    def _wake_connection(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _resume_connection(self) -> None:
        # Called from the application's thread with the lock held; the
        # future belongs to the loop, so the loop resolves it.
        if not self._paused or self._loop is None:
            return
        self._paused = False
        try:
            self._loop.call_soon_threadsafe(self._wake_connection)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # -- the application's side ------------------------------------------------

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        if len(self._buffer) < BODY_BUFFER_LIMIT:
            self._resume_connection()
        return data

    def _wait(self) -> None:
        """Block until more data, the end, or a disconnect (lock held)."""
        if self._failed:
            raise ClientDisconnected("the client disconnected while sending the request body")
        if not self._cond.wait(LOOP_CHECK_INTERVAL) and self._loop is not None:
            if self._loop.is_closed():
                # The server is gone without telling us: nothing more comes.
                self._failed = True
                raise ClientDisconnected("the server's event loop stopped")

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes (fewer only at the end); all that is left if negative."""
        with self._cond:
            if size is None or size < 0:
                # Take what is there as it comes: leaving it in the buffer
                # would hold the connection paused while we wait for the end.
                parts = []
                while True:
                    parts.append(self._take(len(self._buffer)))
                    if self._eof:
                        return b"".join(parts)
                    self._wait()
            # Consumed as it arrives, so a read larger than the buffer
            # limit completes instead of holding the connection paused.
            parts = []
            needed = size
            while needed > 0:
                if self._buffer:
                    part = self._take(min(needed, len(self._buffer)))
                    parts.append(part)
                    needed -= len(part)
                elif self._eof:
                    break
                else:
                    self._wait()
            return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        """Read up to and including the next newline (or ``size`` bytes)."""
        limit = size if size is not None and size >= 0 else None
        with self._cond:
            scanned = 0
            while True:
                end = self._buffer.find(b"\n", scanned)
                if end >= 0:
                    count = end + 1
                    if limit is not None:
                        count = min(count, limit)
                    return self._take(count)
                if limit is not None and len(self._buffer) >= limit:
                    return self._take(limit)
                if self._eof:
                    return self._take(len(self._buffer))
                scanned = len(self._buffer)
                if limit is None and scanned >= BODY_BUFFER_LIMIT:
                    # A line longer than the buffer: hand out what we have,
                    # as a file does when given a size, rather than stall.
                    return self._take(min(scanned, _LINE_SCAN))
                self._wait()

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """The remaining lines (stopping once ``hint`` bytes are read, if given)."""
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Nothing to release; present because servers' streams have it."""
