"""``_CurlStreamingBuffer``: the curl client's hand-over of a streamed body.

Private to squall.curl_httpclient, which imports it back under the name
Tornado's tests reach (``curl_httpclient._CurlStreamingBuffer``). Kept
apart because it is the client's one self-contained piece: it talks to the
client only through ``io_loop``, ``max_body_size`` and ``_set_timeout``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pycurl

if TYPE_CHECKING:
    from squall.curl_httpclient import CurlAsyncHTTPClient

__all__: list[str] = []


class _CurlStreamingBuffer:
    """Hands a streamed body to ``callback`` on the IOLoop, pausing curl
    while too much of it waits (Tornado's private class of this name, with
    its attributes and behaviour: its tests drive it directly).

    ``write`` is curl's WRITEFUNCTION: it refuses (returns 0, so curl
    aborts) a chunk that takes the body past ``client.max_body_size``, asks
    curl to pause (``WRITEFUNC_PAUSE``: curl offers the chunk again later)
    while ``max_buffer_size`` bytes or more are held, and otherwise keeps
    the chunk and schedules ``flush``. ``flush`` hands every held chunk to
    the callback and unpauses curl (an error unpausing is ignored: the
    transfer may be gone). ``finish`` flushes what is left at the end.
    """

    # Bytes held for the callback before curl is paused: 1 MiB (Tornado's).
    max_buffer_size = 1024 * 1024

    def __init__(
        self, client: CurlAsyncHTTPClient, curl: pycurl.Curl, callback: Callable[[bytes], Any]
    ) -> None:
        self.callback = callback
        self.curl = curl
        self.client = client
        self.io_loop = client.io_loop
        # Chunks curl gave us that the callback has not seen yet.
        self.chunks: collections.deque[bytes] = collections.deque()
        # Bytes held (``size``) and bytes accepted since the transfer began.
        self.size = self.total = 0
        # ``paused``: curl was answered WRITEFUNC_PAUSE and waits for us.
        self.paused = self.flush_scheduled = self.body_too_large = False

    def write(self, chunk: bytes) -> int:
        refusal = self._refusal(len(chunk))
        if refusal is not None:
            return refusal
        self._hold(chunk)
        return len(chunk)

    def _refusal(self, incoming: int) -> int | None:
        """What to answer curl instead of taking ``incoming`` bytes, if anything."""
        if incoming + self.total > self.client.max_body_size:
            # Any number other than the chunk's length aborts the transfer.
            self.body_too_large = True
            return 0
        if self.size < self.max_buffer_size:
            return None
        # Curl keeps the chunk and offers it again once unpaused.
        self.paused = True
        return int(pycurl.WRITEFUNC_PAUSE)

    def _hold(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.total += len(chunk)
        self.size += len(chunk)
        # One flush per IOLoop iteration takes everything held by then.
        if not self.flush_scheduled:
            self.io_loop.add_callback(self.flush)
            self.flush_scheduled = True

    def flush(self) -> None:
        self.flush_scheduled = False
        # Curl is resumed even when the callback raised (the IOLoop logs
        # that) so the transfer goes on, as in Tornado; whatever is still
        # held then waits for the next flush.
        try:
            self._drain()
        finally:
            self._resume()

    def _drain(self) -> None:
        while self.chunks:
            self._deliver(self.chunks.popleft())

    def _deliver(self, piece: bytes) -> None:
        self.size -= len(piece)
        self.callback(piece)

    def _resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        try:
            self.curl.pause(pycurl.PAUSE_CONT)
        except pycurl.error:
            return  # the transfer ended meanwhile
        # Unpausing does not wake curl's socket handling by itself.
        self.client._set_timeout(0)

    def finish(self) -> None:
        self.paused = False  # the transfer is over: nothing to resume
        self.flush()
