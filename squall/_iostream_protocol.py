"""The asyncio protocol behind every IOStream: transport events, forwarded.

Kept apart from the stream itself (``_iostream_base``): it is the one piece
that speaks asyncio's protocol interface.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from squall.ioloop import track_transport, untangle_transport

if TYPE_CHECKING:
    from squall._iostream_base import BaseIOStream

__all__ = ["_StreamProtocol"]


class _StreamProtocol(asyncio.BufferedProtocol):
    """The asyncio side of a stream: forwards transport events to it.

    Pipe transports of the standard loop only know ``data_received``; the
    others use ``get_buffer``/``buffer_updated``. Both are handled.
    """

    def __init__(self, stream: BaseIOStream) -> None:
        self._stream = stream
        # The per-read calls go straight to the stream: instance attributes
        # win over the methods below, saving a call on every read.
        self.get_buffer = stream._get_buffer  # type: ignore[method-assign]
        self.buffer_updated = stream._buffer_updated  # type: ignore[method-assign]
        self.data_received = stream._received  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        track_transport(transport, self)
        self._stream._attach(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._stream._get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._stream._buffer_updated(nbytes)

    def data_received(self, data: bytes) -> None:
        self._stream._received(data)

    def eof_received(self) -> bool:
        # A peer's EOF closes the stream, as in Tornado (no half-open
        # streams); False lets the transport close itself.
        self._stream._on_connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        untangle_transport(self._stream._transport)
        self._stream._on_connection_lost(exc)

    def pause_writing(self) -> None:
        # Write limits are set so that the transport pauses whenever its
        # buffer is not empty and resumes once it is: resume_writing is the
        # "drained" signal write Futures wait for.
        pass

    def resume_writing(self) -> None:
        self._stream._on_drained()
