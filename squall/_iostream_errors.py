"""The errors of squall.iostream (private module; import them from there).

Error tree::

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

__all__ = ["StreamBufferFullError", "StreamClosedError", "UnsatisfiableReadError"]


class StreamClosedError(IOError):
    """The stream is closed: a read, write or connect cannot go on.

    ``real_error`` holds the exception that closed it (a ``ConnectionResetError``,
    an ``ssl.SSLError``, a limit error...), or None after an orderly close.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UnsatisfiableReadError(Exception):
    """A read cannot complete: its delimiter or pattern is not within max_bytes."""


class StreamBufferFullError(Exception):
    """A buffer reached its limit (``max_buffer_size`` or ``max_write_buffer_size``)."""


class _UnsatisfiableReadClosedError(StreamClosedError, UnsatisfiableReadError):
    """What a read gets when the stream closed because a read broke max_bytes."""

    def __str__(self) -> str:
        return f"Stream is closed: {self.real_error}"


class _BufferFullClosedError(StreamClosedError, StreamBufferFullError):
    """What a read gets when the stream closed because its buffer overflowed."""

    def __str__(self) -> str:
        return f"Stream is closed: {self.real_error}"
