"""``_StreamBuffer``: a FIFO of bytes that avoids copying large pieces.

Private to squall.iostream (Tornado has a class of this name and shape, and
code written against Tornado's internals reaches for it). Small pieces are
gathered into shared bytearrays, so many tiny appends do not make a long
queue; a piece above ``_large_buf_threshold`` bytes is kept as a view of the
caller's object, not copied. Consuming it (``advance``) or ``clear()``
releases that view, so a caller's bytearray can be resized again once the
bytes it held have left the buffer.
"""

from __future__ import annotations

from collections import deque

__all__ = ["_StreamBuffer"]

# Above this many bytes a piece is referenced rather than copied: Tornado's
# threshold for its stream buffer (copying below it is cheaper than the
# bookkeeping of one more queue entry).
LARGE_PIECE_THRESHOLD = 2048


class _StreamBuffer:
    """Bytes appended at the back, looked at (``peek``) and dropped
    (``advance``) at the front."""

    # Per instance it may be lowered (tests do, to exercise both paths).
    _large_buf_threshold = LARGE_PIECE_THRESHOLD

    def __init__(self) -> None:
        # Entries are (is_large, piece): a large piece is a memoryview of the
        # caller's data, a small one a bytearray of ours.
        self._buffers: deque[tuple[bool, bytearray | memoryview]] = deque()
        # How much of the first piece, when it is a large one, is consumed.
        # (Small pieces are trimmed in place instead.)
        self._first_pos = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` (any buffer-compatible object) at the back."""
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        if not size:
            return
        if size > self._large_buf_threshold:
            view = memoryview(data)
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B")
            self._buffers.append((True, view))
        else:
            last = self._buffers[-1] if self._buffers else None
            if (
                last is not None
                and not last[0]
                and len(last[1]) + size <= self._large_buf_threshold
            ):
                piece = last[1]
                assert isinstance(piece, bytearray)
                piece += data
            else:
                self._buffers.append((False, bytearray(data)))
        self._size += size

    def peek(self, size: int) -> memoryview:
        """A view of at most ``size`` bytes at the front (fewer when the
        first piece is shorter; empty when the buffer is).

        Release it (``with buf.peek(n) as view:``) before changing the buffer.
        """
        if size <= 0:
            raise ValueError(f"peek size must be positive, not {size}")
        if not self._buffers:
            return memoryview(b"")
        is_large, piece = self._buffers[0]
        start = self._first_pos if is_large else 0
        return memoryview(piece)[start : start + size]

    def advance(self, size: int) -> None:
        """Drop ``size`` bytes (at least one, at most ``len(self)``) from the front."""
        if not 0 < size <= self._size:
            raise ValueError(f"cannot advance by {size} bytes in a buffer of {self._size}")
        self._size -= size
        while size:
            is_large, piece = self._buffers[0]
            start = self._first_pos if is_large else 0
            left_in_piece = len(piece) - start
            if size < left_in_piece:
                if is_large:
                    self._first_pos += size
                else:
                    assert isinstance(piece, bytearray)
                    del piece[:size]
                return
            size -= left_in_piece
            self._drop_first()

    def clear(self) -> None:
        """Drop everything, releasing the views of callers' data."""
        while self._buffers:
            self._drop_first()
        self._size = 0

    def _drop_first(self) -> None:
        is_large, piece = self._buffers.popleft()
        self._first_pos = 0
        if is_large:
            assert isinstance(piece, memoryview)
            # Let go of the caller's object now, not whenever the view is
            # collected: a bytearray cannot be resized while it is exported.
            try:
                piece.release()
            except BufferError:
                pass  # a peek() view is still held; the object goes with it
