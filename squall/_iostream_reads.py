"""What each kind of ``IOStream`` read waits for (private to squall.iostream).

A stream has at most one pending read. The stream owns the buffer and the
Future; a request only answers "how many bytes at the front of the buffer
complete me?" (``bytes_ready``), and for streaming reads "how many may I
hand over now?" (``chunk_ready``). Keeping the matching rules here, away
from the transport plumbing, keeps both sides small and testable.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

__all__: list[str] = []

# bytes_ready() answer when the buffer does not yet complete the read.
NOT_YET = -1


class ReadLimitExceeded(Exception):
    """A read cannot complete within its ``max_bytes``.

    The stream turns it into the public ``UnsatisfiableReadError``.
    """


class ReadRequest:
    """One pending read: its Future and the rule that completes it."""

    __slots__ = ("future", "streaming_callback")

    # Requests that end only when the stream closes (read_until_close).
    until_close = False

    def __init__(
        self,
        future: asyncio.Future[Any],
        streaming_callback: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.future = future
        self.streaming_callback = streaming_callback

    def bytes_ready(self, buffer: bytearray) -> int:
        """Bytes at the front of ``buffer`` that complete the read, or NOT_YET.

        Raises ``ReadLimitExceeded`` when no amount of further data can
        complete it within its limit.
        """
        raise NotImplementedError

    def chunk_ready(self, available: int) -> int:
        """For streaming reads: how many of ``available`` bytes to hand over."""
        return available

    def streamed_to_end(self) -> bool:
        """For streaming reads: has everything asked for been handed over?"""
        return False


class ReadBytes(ReadRequest):
    """``read_bytes(n)``: exactly ``n`` bytes, or with ``partial`` 1..n."""

    __slots__ = ("partial", "remaining")

    def __init__(
        self,
        future: asyncio.Future[Any],
        num_bytes: int,
        partial: bool,
        streaming_callback: Callable[[bytes], Any] | None = None,
    ) -> None:
        super().__init__(future, streaming_callback)
        self.remaining = num_bytes
        self.partial = partial

    def bytes_ready(self, buffer: bytearray) -> int:
        size = len(buffer)
        if size >= self.remaining:
            return self.remaining
        if self.partial and size:
            return size
        return NOT_YET

    def chunk_ready(self, available: int) -> int:
        chunk = min(available, self.remaining)
        self.remaining -= chunk
        return chunk

    def streamed_to_end(self) -> bool:
        return self.remaining == 0


class ReadUntil(ReadRequest):
    """``read_until(delimiter)``: up to and including the delimiter."""

    __slots__ = ("delimiter", "max_bytes", "scanned")

    def __init__(
        self, future: asyncio.Future[Any], delimiter: bytes, max_bytes: int | None
    ) -> None:
        super().__init__(future)
        self.delimiter = delimiter
        self.max_bytes = max_bytes
        # Where the next search may start: the buffer only grows while this
        # read is pending, so bytes already searched need no second look
        # (less the delimiter's length, in case it straddles the old end).
        self.scanned = 0

    def bytes_ready(self, buffer: bytearray) -> int:
        width = len(self.delimiter)
        found = buffer.find(self.delimiter, self.scanned)
        if found == -1:
            self.scanned = max(0, len(buffer) - width + 1)
            # No match in the first max_bytes bytes means any later match
            # ends beyond the limit: give up now rather than wait.
            if self.max_bytes is not None and len(buffer) >= self.max_bytes:
                raise ReadLimitExceeded(
                    f"delimiter {self.delimiter!r} not found within {self.max_bytes} bytes"
                )
            return NOT_YET
        end = found + width
        if self.max_bytes is not None and end > self.max_bytes:
            raise ReadLimitExceeded(
                f"delimiter {self.delimiter!r} not found within {self.max_bytes} bytes"
            )
        return end


class ReadUntilRegex(ReadRequest):
    """``read_until_regex(regex)``: up to the end of the first match."""

    __slots__ = ("max_bytes", "regex")

    def __init__(
        self, future: asyncio.Future[Any], regex: re.Pattern[bytes], max_bytes: int | None
    ) -> None:
        super().__init__(future)
        self.regex = regex
        self.max_bytes = max_bytes

    def bytes_ready(self, buffer: bytearray) -> int:
        # The whole buffer is searched each time: a pattern may match
        # differently once more bytes arrive (lookaheads, greedy tails).
        match = self.regex.search(buffer)
        if match is None:
            # Strictly more than max_bytes, as Tornado: a lookahead may need
            # the byte just past a match that ends at the limit.
            if self.max_bytes is not None and len(buffer) > self.max_bytes:
                raise ReadLimitExceeded(
                    f"regex {self.regex.pattern!r} not matched within {self.max_bytes} bytes"
                )
            return NOT_YET
        if self.max_bytes is not None and match.end() > self.max_bytes:
            raise ReadLimitExceeded(
                f"regex {self.regex.pattern!r} not matched within {self.max_bytes} bytes"
            )
        return match.end()


class ReadUntilClose(ReadRequest):
    """``read_until_close()``: everything until the stream closes."""

    __slots__ = ()

    until_close = True

    def bytes_ready(self, buffer: bytearray) -> int:
        return NOT_YET


class ReadInto(ReadRequest):
    """``read_into(buf)``: fill a caller's buffer (with ``partial``, 1+ bytes).

    The result is the number of bytes written into the buffer. While the
    stream's own buffer is empty, the transport receives straight into the
    caller's (``target``): no copy at all.
    """

    __slots__ = ("filled", "partial", "target")

    def __init__(self, future: asyncio.Future[Any], buf: Any, partial: bool) -> None:
        super().__init__(future)
        view = memoryview(buf)
        if view.readonly:
            raise TypeError("read_into needs a writable buffer")
        self.target = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        self.filled = 0
        self.partial = partial

    def copy_from(self, buffer: bytearray) -> int:
        """Copy what fits from the front of ``buffer``; the count copied."""
        count = min(len(buffer), len(self.target) - self.filled)
        if count:
            self.target[self.filled : self.filled + count] = memoryview(buffer)[:count]
            self.filled += count
        return count

    def complete(self) -> bool:
        if self.filled == len(self.target):
            return True
        return self.partial and self.filled > 0

    def bytes_ready(self, buffer: bytearray) -> int:  # pragma: no cover - streams use copy_from
        return NOT_YET
