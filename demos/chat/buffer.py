"""The room's memory: the last messages, and the clients waiting for more.

A long-polling client asks for the messages after its ``cursor`` (the id of
the last message it has). If there are some it gets them at once; if it is
up to date it waits on a Future that the next message resolves. A cursor the
buffer does not know (too old, or from before a server restart) gets the
whole cache: the client sees everything the room still remembers.

Push transports (WebSocket) subscribe a callback with ``listen`` instead.

With a hub (``attach(hub)``) the room is shared by every process on the
same backend: ``post`` publishes on the hub, and the buffer's subscription
to the room's channel stores each message and wakes this process's
waiters, whichever process it was posted to. The hub's history (a bounded
Redis Stream) fills the cache at start, and again after a ``Gap`` (the
backend was away), so that what was posted meanwhile still reaches the
clients waiting here. Without a hub the buffer is the room by itself.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from squall import pubsub
from squall.log import app_log

__all__ = ["CACHE_SIZE", "CHANNEL", "Message", "MessageBuffer"]

# How many messages a reconnecting client can catch up on; Tornado's chat
# demo keeps the same number. Also the length of the hub's history.
CACHE_SIZE = 200
# The hub channel the room's messages travel on.
CHANNEL = "chat.room"

Message = dict[str, Any]
Listener = Callable[[list[Message]], None]


def _is_message(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("id"), str)


class MessageBuffer:
    def __init__(
        self,
        cache_size: int = CACHE_SIZE,
        hub: pubsub.Hub | None = None,
        channel: str = CHANNEL,
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size}")
        self.cache: collections.deque[Message] = collections.deque(maxlen=cache_size)
        self._waiters: set[asyncio.Future[list[Message]]] = set()
        self._listeners: list[Listener] = []
        self.hub: pubsub.Hub | None = None
        self.channel = channel
        self._subscription: pubsub.CallbackSubscription | None = None
        self._reloading: asyncio.Future[None] | None = None
        # Counts add() calls: tells a reload which messages came meanwhile.
        self._added = 0
        if hub is not None:
            self._subscribe(hub)

    @property
    def waiter_count(self) -> int:
        return len(self._waiters)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    # -- the hub -------------------------------------------------------------

    async def attach(self, hub: pubsub.Hub) -> None:
        """Share the room through ``hub``: subscribe, then load its history.

        Returns once subscribed (or once the backend is known to be down: a
        Gap reloads the history when it is back).
        """
        self._subscribe(hub)
        assert self._subscription is not None
        await self._subscription.ready()
        await self.reload()

    def _subscribe(self, hub: pubsub.Hub) -> None:
        if self.hub is not None:
            raise RuntimeError("this buffer is already attached to a hub")
        self.hub = hub
        self._subscription = hub.subscribe(self.channel, callback=self._on_event)

    def detach(self) -> None:
        if self._subscription is not None:
            self._subscription.unsubscribe()
            self._subscription = None
        self.hub = None

    def _on_event(self, event: pubsub.Event) -> None:
        if isinstance(event, pubsub.Gap):
            app_log.warning("chat: the room's hub reports a gap (%s); reloading", event.reason)
            self._reloading = asyncio.ensure_future(self.reload())
        elif _is_message(event.data):
            self.add(event.data)
        else:
            app_log.warning("chat: ignored a message without an id on %s", event.channel)

    async def reload(self) -> None:
        """Fill the cache from the hub's history, and hand the messages this
        process had not seen to the waiting clients."""
        hub = self.hub
        if hub is None or hub.history_size == 0:
            return
        added_before = self._added
        try:
            stored = await hub.history(self.channel)
        except pubsub.PubSubError as e:
            app_log.warning("chat: could not read the room's history (%s)", e)
            return
        history = [m.data for m in stored if _is_message(m.data)]
        # Messages that arrived while the history was read stay at the end.
        arrived = list(self.cache)[max(0, len(self.cache) - (self._added - added_before)) :]
        known = {m["id"] for m in self.cache}
        missed = [m for m in history if m["id"] not in known]
        ids = {m["id"] for m in history}
        self.cache.clear()
        self.cache.extend(history)
        self.cache.extend(m for m in arrived if m["id"] not in ids)
        if missed:
            self._wake(missed)

    async def post(self, message: Message) -> None:
        """Send ``message`` to the room: through the hub when attached (every
        process stores it and wakes its clients), else straight to ``add``.

        Raises ``pubsub.BackendUnavailableError`` when the hub's backend is
        down.
        """
        if self.hub is None:
            self.add(message)
        else:
            await self.hub.publish(self.channel, message)

    # -- this process's clients --------------------------------------------------

    def messages_since(self, cursor: str | None) -> list[Message]:
        """Messages after ``cursor``; all of them if the cursor is unknown."""
        if not cursor:
            return list(self.cache)
        for index in range(len(self.cache) - 1, -1, -1):
            if self.cache[index]["id"] == cursor:
                return list(self.cache)[index + 1 :]
        return list(self.cache)

    def wait_for_messages(self, cursor: str | None) -> asyncio.Future[list[Message]]:
        """A Future resolved with the messages after ``cursor``.

        Already resolved when there are some; else resolved by the next
        ``add``. ``cancel_wait`` resolves it with ``[]`` and forgets it.
        """
        future: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()
        missed = self.messages_since(cursor)
        if missed:
            future.set_result(missed)
        else:
            self._waiters.add(future)
        return future

    def cancel_wait(self, future: asyncio.Future[list[Message]]) -> None:
        self._waiters.discard(future)
        if not future.done():
            future.set_result([])

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(messages)`` on every ``add``; returns the unsubscriber."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def add(self, message: Message) -> None:
        """Remember ``message`` and hand it to everyone waiting."""
        self.cache.append(message)
        self._added += 1
        self._wake([message])

    def _wake(self, batch: list[Message]) -> None:
        waiters, self._waiters = self._waiters, set()
        for future in waiters:
            if not future.done():
                future.set_result(batch)
        # A listener may unsubscribe (or subscribe another) while called.
        for listener in list(self._listeners):
            try:
                listener(batch)
            except Exception:
                # One broken subscriber must not cost the others the message.
                app_log.exception("chat listener %r failed", listener)
