"""Subscribers: an async iterator with a bounded queue, or a callback.

Each subscriber holds at most ``queue_size`` undelivered messages. Past
that, new messages are dropped and counted in one ``Gap(reason="overflow")``
that waits at the end of the queue: the subscriber learns it missed some,
and a stuck consumer costs a fixed amount of memory, never more.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from squall.log import app_log
from squall.pubsub._events import Event, Gap, Message, id_order

if TYPE_CHECKING:
    from squall.pubsub._hub import Hub

__all__ = ["Callback", "CallbackSubscription", "Subscription"]

Callback = Callable[[Event], "Awaitable[Any] | None"]


def _merge_gap(into: Gap, gap: Gap) -> None:
    into.channels = into.channels | gap.channels
    if into.missed is None or gap.missed is None:
        into.missed = None
    else:
        into.missed += gap.missed
    if into.reason != gap.reason:
        # An outage loses an unknown number: it says more than a count.
        into.reason = "reconnected" if "reconnected" in (into.reason, gap.reason) else gap.reason


def push_bounded(queue: collections.deque[Event], event: Event, limit: int) -> None:
    """Append ``event``, keeping at most ``limit`` messages (plus one Gap
    that stands for the ones dropped)."""
    tail = queue[-1] if queue else None
    if isinstance(event, Gap):
        if isinstance(tail, Gap):
            _merge_gap(tail, event)
        else:
            queue.append(event)
        return
    if len(queue) >= limit:
        if isinstance(tail, Gap) and tail._open:
            tail.channels = tail.channels | {event.channel}
            tail.missed = None if tail.missed is None else tail.missed + 1
        else:
            queue.append(Gap(frozenset({event.channel}), "overflow", 1, _open=True))
        return
    if isinstance(tail, Gap):
        tail._open = False
    queue.append(event)


class _Subscriber:
    def __init__(
        self, hub: Hub, channels: tuple[str, ...], include_own: bool, queue_size: int
    ) -> None:
        self._hub = hub
        self.channels = channels
        self.include_own = include_own
        self.queue_size = queue_size
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {', '.join(self.channels)} {state}>"

    def unsubscribe(self) -> None:
        """Stop receiving; harmless when already done."""
        if not self.closed:
            self._hub._remove(self)
            self._end()

    async def ready(self) -> None:
        """Return once every channel is subscribed on the backend (from then
        on, publications from other processes arrive), or once the backend
        is known to be down (a ``Gap`` follows when it is back)."""
        await self._hub._wait_active(self.channels)

    def _deliver(self, event: Event) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        self.closed = True


class Subscription(_Subscriber):
    """``async with hub.subscribe(...) as sub: async for event in sub``.

    Iteration yields ``Message`` and ``Gap`` events and ends when the
    subscription is unsubscribed (leaving the ``async with``) or the hub
    closes.
    """

    def __init__(
        self,
        hub: Hub,
        channels: tuple[str, ...],
        include_own: bool,
        queue_size: int,
        since: str | None,
    ) -> None:
        super().__init__(hub, channels, include_own, queue_size)
        self._queue: collections.deque[Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._since = since

    @property
    def pending(self) -> int:
        """Events received and not yet taken."""
        return len(self._queue)

    async def __aenter__(self) -> Subscription:
        try:
            await self.ready()
            if self._since is not None:
                await self._catch_up(self.channels[0], self._since)
        except BaseException:
            self.unsubscribe()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()

    async def _catch_up(self, channel: str, since: str) -> None:
        stored, trimmed = await self._hub._read_history(channel, since)
        # Live messages that arrived while the history was read may be in
        # both: keep the stored copy, which comes first.
        last = id_order(stored[-1].id) if stored and stored[-1].id else None
        live = [
            event
            for event in self._queue
            if not (
                last is not None
                and isinstance(event, Message)
                and event.id is not None
                and id_order(event.id) <= last
            )
        ]
        self._queue.clear()
        if trimmed:
            self._queue.append(Gap(frozenset({channel}), "trimmed"))
        for event in [*stored, *live]:
            push_bounded(self._queue, event, self.queue_size)
        self._wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def _deliver(self, event: Event) -> None:
        push_bounded(self._queue, event, self.queue_size)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self) -> None:
        super()._end()
        self._queue.clear()
        self._wake()


class CallbackSubscription(_Subscriber):
    """``hub.subscribe(channel, callback=fn)``: ``fn(event)`` per event.

    A plain function is called as each event arrives. A coroutine function
    (or one returning an awaitable) is awaited before the next event is
    handed over; events arriving meanwhile wait in the bounded queue.
    Exceptions are logged to ``squall.application`` and do not unsubscribe.
    """

    def __init__(
        self,
        hub: Hub,
        channels: tuple[str, ...],
        include_own: bool,
        queue_size: int,
        callback: Callback,
    ) -> None:
        super().__init__(hub, channels, include_own, queue_size)
        self.callback = callback
        # Not None while an awaitable returned by the callback runs.
        self._backlog: collections.deque[Event] | None = None
        self._task: asyncio.Future[None] | None = None

    def _deliver(self, event: Event) -> None:
        if self._backlog is not None:
            push_bounded(self._backlog, event, self.queue_size)
            return
        pending = self._call(event)
        if pending is not None:
            self._backlog = collections.deque()
            self._task = asyncio.ensure_future(self._drain(pending))

    def _call(self, event: Event) -> Awaitable[Any] | None:
        try:
            result = self.callback(event)
        except Exception:
            app_log.exception("pubsub callback %r failed", self.callback)
            return None
        return result if inspect.isawaitable(result) else None

    async def _drain(self, pending: Awaitable[Any]) -> None:
        backlog = self._backlog
        assert backlog is not None
        try:
            while True:
                try:
                    await pending
                except Exception:
                    app_log.exception("pubsub callback %r failed", self.callback)
                next_pending = None
                while next_pending is None:
                    if self.closed or not backlog:
                        return
                    next_pending = self._call(backlog.popleft())
                pending = next_pending
        finally:
            self._backlog = None
            self._task = None

    def _end(self) -> None:
        super()._end()
        if self._backlog is not None:
            self._backlog.clear()
