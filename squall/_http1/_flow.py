"""Flow control for one server connection, both ways.

Reading is paused for as long as any reason to pause holds, and resumed
when the last one goes: the application is behind (pipelined requests or
body bytes queued for a busy delegate), or the peer is behind (the
transport's write buffer is over its high-water mark: it stopped reading
our answers). The second is what keeps a client that pipelines requests
and never reads their responses from growing the server without bound.

Writers wait for the transport to drain through ``drain()``. uvicorn's
``flow_control.py`` is the model; this one adds the pause reasons.
"""

from __future__ import annotations

import asyncio

from squall.concurrent import future_set_result_unless_cancelled

__all__ = ["APPLICATION_BEHIND", "PEER_BEHIND", "FlowControl"]

# Reasons to pause reading (bit flags: several may hold at once).
APPLICATION_BEHIND = 1
PEER_BEHIND = 2


class FlowControl:
    __slots__ = ("_transport", "_waiters", "reasons", "writing_paused")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        # Why reading is paused (a bit per reason; 0: it is not). Read
        # directly on the hot path, where a method call would cost more.
        self.reasons = 0
        self._waiters: list[asyncio.Future[None]] = []
        self.writing_paused = False

    def attach(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    @property
    def reading_paused(self) -> bool:
        return self.reasons != 0

    def pause_reading(self, reason: int) -> None:
        was = self.reasons
        self.reasons = was | reason
        if not was and self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self, reason: int) -> None:
        was = self.reasons
        if not was & reason:
            return
        self.reasons = was & ~reason
        if not self.reasons and self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    # -- the transport's write buffer (asyncio.Protocol's callbacks) ---------

    def pause_writing(self) -> None:
        self.writing_paused = True
        self.pause_reading(PEER_BEHIND)

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.wake_writers()
        self.resume_reading(PEER_BEHIND)

    def drain(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future that resolves once the write buffer is below its mark."""
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def wake_writers(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            future_set_result_unless_cancelled(waiter, None)

    def release(self) -> None:
        """Hand the transport on (detach): reading back on, no reasons left."""
        transport, self._transport = self._transport, None
        if self.reasons and transport is not None:
            self.reasons = 0
            transport.resume_reading()
