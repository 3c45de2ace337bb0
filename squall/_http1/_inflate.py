"""One bounded gzip inflater, for request bodies (server) and response
bodies (client): output comes in steps, and the total is held to a limit,
so a small compressed body cannot expand into gigabytes (a gzip bomb).
"""

from __future__ import annotations

from squall.util import GzipDecompressor

__all__ = ["INFLATE_STEP", "BoundedInflater", "InflateError", "InflateLimitError"]

# Output produced per decompression call: the server's chunk size (64 KiB,
# Tornado's chunk_size default), so at most this much is made past a limit.
INFLATE_STEP = 64 * 1024


class InflateError(ValueError):
    """The body is not valid gzip."""


class InflateLimitError(InflateError):
    """The inflated body is larger than the limit."""


class BoundedInflater:
    """Inflates one gzip body; ``limit`` (bytes of output in total) may be
    raised between calls, as a server delegate may raise its body limit."""

    __slots__ = ("_decompressor", "_produced", "limit")

    def __init__(self, limit: int) -> None:
        self._decompressor = GzipDecompressor()
        self._produced = 0
        self.limit = limit

    def inflate(self, data: bytes) -> list[bytes]:
        """The output for ``data``, in pieces of at most ``INFLATE_STEP``."""
        pieces = []
        decompressor = self._decompressor
        while data:
            try:
                out = decompressor.decompress(data, INFLATE_STEP)
            except Exception as e:  # zlib.error, and EOFError after the end
                raise InflateError(f"invalid gzip body: {e}") from None
            data = decompressor.unconsumed_tail
            if out:
                self._produced += len(out)
                if self._produced > self.limit:
                    raise InflateLimitError(f"inflated body larger than {self.limit} bytes")
                pieces.append(out)
            elif data:  # pragma: no cover - zlib always progresses with output room
                break
        return pieces

    def finish(self) -> list[bytes]:
        """The last of the output, once the whole body has been inflated;
        raises ``InflateError`` if the gzip stream was cut short or bytes
        that are no gzip member follow it."""
        try:
            rest = self._decompressor.flush()
        except Exception as e:  # zlib.error
            raise InflateError(f"invalid gzip body: {e}") from None
        return [rest] if rest else []
