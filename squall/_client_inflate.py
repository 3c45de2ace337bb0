"""The HTTP client's gzip inflater for ``Content-Encoding: gzip`` bodies.

Output is produced lazily, in pieces of at most ``INFLATE_STEP`` bytes, and
handed on one piece at a time (``pieces`` is a generator), so a small body
that expands enormously (a "gzip bomb") never sits in memory expanded: at
most one piece does, and the total is held to a limit.

A body may hold several gzip members one after another (RFC 1952 §2.2);
anything after a member that does not start a new one (trailing NULs,
garbage) is an error, and so is a body ending inside a member. The error
texts are Tornado's ("expected a gzip member, got b'..'", "incomplete or
truncated gzip stream"), since its tests and its users' logs look for them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from squall._http1._inflate import INFLATE_STEP

__all__ = ["GzipBodyError", "GzipBodyTooLarge", "ResponseInflater"]

# RFC 1952 §2.3.1: every gzip member starts with ID1 ID2 = 0x1f 0x8b.
_GZIP_MAGIC = b"\x1f\x8b"
# zlib's window bits for "a gzip header and trailer around deflate data".
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class GzipBodyError(ValueError):
    """The body is not valid gzip; ``str()`` says how."""


class GzipBodyTooLarge(GzipBodyError):
    """The inflated body is larger than the limit."""


class ResponseInflater:
    """Inflates one response body, holding its output to ``limit`` bytes."""

    __slots__ = ("_held", "_member", "_produced", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._produced = 0
        # The member being inflated; None between members (and at the start).
        self._member: zlib._Decompress | None = None
        # Bytes after a member, too few yet to tell whether another starts.
        self._held = b""

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """The output for ``data``, one piece at a time, made as it is asked
        for. Raises ``GzipBodyError`` / ``GzipBodyTooLarge``."""
        pending = bool(data)
        while pending:
            member = self._member
            if member is None:
                data = self._held + data
                self._held = b""
                if len(data) < len(_GZIP_MAGIC):
                    self._held = data  # the rest of the magic may follow
                    return
                if not data.startswith(_GZIP_MAGIC):
                    raise GzipBodyError(f"expected a gzip member, got {data[:2]!r}")
                member = self._member = zlib.decompressobj(_GZIP_WBITS)
            try:
                out = member.decompress(data, INFLATE_STEP)
            except zlib.error as e:
                raise GzipBodyError(str(e)) from None
            if member.eof:
                data = member.unused_data
                self._member = None
                pending = bool(data)
            else:
                data = member.unconsumed_tail
                # A full piece may leave output inside zlib with no input
                # left over: ask again, with nothing more to give it.
                pending = bool(data) or len(out) == INFLATE_STEP
            if out:
                self._produced += len(out)
                if self._produced > self.limit:
                    raise GzipBodyTooLarge("decompressed body too large")
                yield out

    def finish(self) -> None:
        """The body has ended: check that it did not end inside a member."""
        if self._held:
            raise GzipBodyError(f"expected a gzip member, got {self._held!r}")
        if self._member is not None:
            raise GzipBodyError("incomplete or truncated gzip stream")
