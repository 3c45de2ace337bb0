"""Time limits of one client request: the per-request timer and the rules
for combining Tornado's two timeouts (``connect_timeout``,
``request_timeout``), where 0 and None both mean "no limit"."""

from __future__ import annotations

import asyncio

__all__ = ["MIN_WAIT", "Deadline", "min_timeout"]

# What is left of an expired deadline: positive, so that it still reads as
# "a limit" (0 means none) and the wait fails at once.
MIN_WAIT = 1e-3


class Deadline:
    """Cancels the running task after ``delay`` seconds (None: never) unless
    ``cancel``ed first: what ``asyncio.wait_for`` does, without a Task per
    request. The caller turns the CancelledError into its timeout error."""

    __slots__ = ("_handle", "_task", "expired")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float | None) -> None:
        self.expired = False
        self._task = asyncio.current_task(loop)
        self._handle = None if delay is None else loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    async def absorb(self, delivered: bool) -> None:
        """Consume the cancellation expiring sent: ``delivered`` when it
        arrived as the CancelledError being handled; otherwise it may still
        be pending (the awaited work finished in the same loop iteration)
        and is taken here, at a harmless await."""
        if not delivered:
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass
        # Python 3.11+ counts cancellation requests; this one is handled.
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is not None:
            uncancel()


def min_timeout(a: float | None, b: float | None) -> float | None:
    """The shorter of two limits; 0 and None both mean "no limit", as in
    Tornado."""
    values = [v for v in (a, b) if v]
    return min(values) if values else None
