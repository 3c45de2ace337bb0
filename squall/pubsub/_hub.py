"""The Hub: local fan-out in front of a backend that links processes.

A publication is handed to this process's subscribers directly (never
through the network) and to the backend for the others. Publications that
come back from the backend with this hub's own id are dropped: they were
delivered locally already.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from types import TracebackType
from typing import Any, overload

from squall.pubsub._backend import Backend, HistoryRead, Record
from squall.pubsub._errors import HubClosedError
from squall.pubsub._events import Gap, Message, decode, encode, id_order
from squall.pubsub._subscription import (
    Callback,
    CallbackSubscription,
    Subscription,
    _Subscriber,
)

__all__ = ["MAX_MESSAGE_SIZE", "SUBSCRIBER_QUEUE_SIZE", "Hub"]

# Redis disconnects a pub/sub client whose unread output passes 32 MB (its
# default client-output-buffer-limit for pubsub); messages of up to 1 MiB
# keep at least 32 of them in flight before that happens. Larger payloads
# belong in storage, with their key published instead.
MAX_MESSAGE_SIZE = 1024 * 1024

# A subscriber this many messages behind is dropping messages and gets a
# Gap. At 32 KiB a message that is again Redis's 32 MB pubsub output limit:
# the same amount a Redis server is willing to hold for one slow client.
SUBSCRIBER_QUEUE_SIZE = 1000


class _Channel:
    """This process's subscribers to one channel."""

    __slots__ = ("active", "needs_gap", "subscribers")

    def __init__(self, needs_gap: bool) -> None:
        # A dict keeps subscription order and removes in O(1).
        self.subscribers: dict[_Subscriber, None] = {}
        self.active = False
        # Set when the backend connection was lost: the next confirmation of
        # this channel tells every subscriber that it may have missed some.
        self.needs_gap = needs_gap


def _check_channel(channel: object) -> str:
    if not isinstance(channel, str):
        raise TypeError(f"a channel name is a str, not {type(channel).__name__}")
    if not channel:
        raise ValueError("a channel name cannot be empty")
    return channel


class Hub:
    """Publish to and subscribe on named channels; see ``docs/pubsub.md``.

    Made by ``squall.pubsub.connect(url)``. A hub belongs to the event loop
    that first uses it, and to the process that made it: after ``fork``,
    each child connects its own.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        url: str = "",
        history: int = 0,
        queue_size: int = SUBSCRIBER_QUEUE_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        if history < 0:
            raise ValueError(f"history must be 0 (none) or a positive size, not {history}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        if max_message_size < 1:
            raise ValueError(f"max_message_size must be at least 1, not {max_message_size}")
        #: Tells this hub's publications apart from other processes'.
        self.id = uuid.uuid4().hex
        self.url = url
        self.history_size = history
        self.queue_size = queue_size
        self.max_message_size = max_message_size
        self._backend = backend
        self._channels: dict[str, _Channel] = {}
        self._ready_waiters: list[asyncio.Future[None]] = []
        self._started = False
        self._ever_connected = False
        self.closed = False

    def __repr__(self) -> str:
        return f"<Hub {self.url} {len(self._channels)} channels>"

    @property
    def connected(self) -> bool:
        """The backend is reachable (always true for ``memory://``)."""
        return self._backend.connected and not self.closed

    async def __aenter__(self) -> Hub:
        """Start connecting; return after the first attempt (check
        ``connected``: a backend that is down now is retried in the
        background)."""
        await self.wait_connected()
        return self

    async def wait_connected(self) -> bool:
        """Start connecting if not yet; wait for the first attempt to end
        and return ``connected``."""
        self._check_open()
        self._start()
        if not self._backend.attempted:
            await self._backend.wait_attempted()
        return self.connected

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- publishing --------------------------------------------------------

    async def publish(self, channel: str, message: Any) -> str | None:
        """Send ``message`` (bytes, str or JSON-able) to every subscriber of
        ``channel``; return its history id, or None without history.

        Without history, this process's subscribers have it before the
        first ``await``; with history, once the backend has stored it (so
        that they see its id). Raises ``BackendUnavailableError`` when the
        backend could not take it.
        """
        self._check_open()
        _check_channel(channel)
        kind, payload = encode(message)
        if len(payload) > self.max_message_size:
            raise ValueError(
                f"message of {len(payload)} bytes is over the hub's max_message_size "
                f"({self.max_message_size})"
            )
        self._start()
        if not self._backend.attempted:
            await self._backend.wait_attempted()
        if self.history_size == 0:
            self._deliver_local(channel, self.id, kind, payload, None)
            await self._backend.publish(channel, self.id, kind, payload, 0)
            return None
        message_id = await self._backend.publish(channel, self.id, kind, payload, self.history_size)
        self._deliver_local(channel, self.id, kind, payload, message_id)
        return message_id

    def _deliver_local(
        self, channel: str, publisher: str, kind: bytes, payload: bytes, message_id: str | None
    ) -> None:
        state = self._channels.get(channel)
        if state is None or not state.subscribers:
            return
        # Decoded once; every local subscriber shares the value.
        self._fan_out(state, Message(channel, decode(kind, payload), message_id, publisher))

    def _fan_out(self, state: _Channel, message: Message) -> None:
        own = message.publisher == self.id
        # A callback may subscribe or unsubscribe while we go.
        for subscriber in list(state.subscribers):
            if own and not subscriber.include_own:
                continue
            if not subscriber.closed:
                subscriber._deliver(message)

    # -- subscribing -------------------------------------------------------

    @overload
    def subscribe(
        self,
        channel: str,
        *more: str,
        include_own: bool = ...,
        queue_size: int | None = ...,
        since: str | None = ...,
    ) -> Subscription: ...

    @overload
    def subscribe(
        self,
        channel: str,
        *more: str,
        callback: Callback,
        include_own: bool = ...,
        queue_size: int | None = ...,
    ) -> CallbackSubscription: ...

    def subscribe(
        self,
        channel: str,
        *more: str,
        callback: Callback | None = None,
        include_own: bool = True,
        queue_size: int | None = None,
        since: str | None = None,
    ) -> Subscription | CallbackSubscription:
        """Subscribe to one or more channels.

        Without ``callback``: a ``Subscription`` to use as
        ``async with hub.subscribe(ch) as sub: async for event in sub``.
        With ``callback``: ``callback(event)`` is called per event and the
        returned handle's ``unsubscribe()`` stops it.

        ``include_own=False`` skips this hub's own publications.
        ``since=<history id>`` (one channel, iterator form): first the
        stored publications after that id, then live ones.
        """
        self._check_open()
        channels = tuple(dict.fromkeys(_check_channel(c) for c in (channel, *more)))
        size = self.queue_size if queue_size is None else queue_size
        if size < 1:
            raise ValueError(f"queue_size must be at least 1, not {size}")
        subscriber: Subscription | CallbackSubscription
        if callback is not None:
            if since is not None:
                raise ValueError("since= is for the iterator form (async with), not callbacks")
            if not callable(callback):
                raise TypeError(f"callback must be callable, not {type(callback).__name__}")
            subscriber = CallbackSubscription(self, channels, include_own, size, callback)
        else:
            if since is not None:
                if len(channels) != 1:
                    raise ValueError(
                        "since= needs exactly one channel (history ids are per channel)"
                    )
                id_order(since)
            subscriber = Subscription(self, channels, include_own, size, since)
        self._start()
        for name in channels:
            state = self._channels.get(name)
            if state is None:
                # Subscribed while the backend is known to be down (ready()
                # returns at once): a Gap when it is back says what that cost.
                lost = self._backend.attempted and not self._backend.connected
                state = self._channels[name] = _Channel(needs_gap=lost)
                state.subscribers[subscriber] = None
                self._backend.add_channel(name)
            else:
                state.subscribers[subscriber] = None
        return subscriber

    def _remove(self, subscriber: _Subscriber) -> None:
        for name in subscriber.channels:
            state = self._channels.get(name)
            if state is None:
                continue
            state.subscribers.pop(subscriber, None)
            if not state.subscribers:
                del self._channels[name]
                if not self.closed:
                    self._backend.remove_channel(name)

    async def _wait_active(self, channels: tuple[str, ...]) -> None:
        if not self._backend.attempted:
            await self._backend.wait_attempted()
        while not self.closed and self._backend.connected:
            if all(
                (state := self._channels.get(name)) is None or state.active for name in channels
            ):
                return
            waiter = asyncio.get_running_loop().create_future()
            self._ready_waiters.append(waiter)
            await waiter

    def _wake_ready_waiters(self) -> None:
        waiters, self._ready_waiters = self._ready_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- history -------------------------------------------------------------

    async def history(self, channel: str, since: str | None = None) -> list[Message]:
        """The stored publications of ``channel`` after ``since`` (all that
        the bounded history still holds if None), oldest first."""
        messages, _ = await self._read_history(channel, since)
        return messages

    async def _read_history(self, channel: str, since: str | None) -> tuple[list[Message], bool]:
        self._check_open()
        _check_channel(channel)
        if since is not None:
            id_order(since)
        self._start()
        if not self._backend.attempted:
            await self._backend.wait_attempted()
        read: HistoryRead = await self._backend.read_history(channel, since)
        return [self._stored(channel, record) for record in read.records], read.trimmed

    @staticmethod
    def _stored(channel: str, record: Record) -> Message:
        return Message(channel, decode(record.kind, record.payload), record.id, record.publisher)

    # -- what the backend tells us (the Sink protocol) -------------------------

    def wanted_channels(self) -> Collection[str]:
        return list(self._channels)

    def backend_message(self, message: Message) -> None:
        if message.publisher == self.id:
            return  # ours: delivered locally when published
        state = self._channels.get(message.channel)
        if state is not None:
            self._fan_out(state, message)

    def backend_subscribed(self, channel: str) -> None:
        state = self._channels.get(channel)
        if state is not None and not state.active:
            state.active = True
            if state.needs_gap:
                state.needs_gap = False
                for subscriber in list(state.subscribers):
                    if not subscriber.closed:
                        subscriber._deliver(Gap(frozenset({channel}), "reconnected"))
        self._wake_ready_waiters()

    def backend_connected(self) -> None:
        self._ever_connected = True
        self._wake_ready_waiters()

    def backend_disconnected(self) -> None:
        for state in self._channels.values():
            state.active = False
            state.needs_gap = True
        self._wake_ready_waiters()

    # -- life cycle ------------------------------------------------------------

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._backend.start(self)

    def _check_open(self) -> None:
        if self.closed:
            raise HubClosedError(f"the hub for {self.url} is closed")

    async def close(self) -> None:
        """End every subscription and drop the backend connection."""
        if self.closed:
            return
        self.closed = True
        subscribers = {s: None for state in self._channels.values() for s in state.subscribers}
        self._channels.clear()
        tasks = []
        for subscriber in subscribers:
            subscriber._end()
            task = getattr(subscriber, "_task", None)
            if task is not None:
                task.cancel()
                tasks.append(task)
        self._wake_ready_waiters()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._backend.close()
