"""The room's memory: the last messages, and the clients waiting for more.

A long-polling client asks for the messages after its ``cursor`` (the id of
the last message it has). If there are some it gets them at once; if it is
up to date it waits on a Future that the next message resolves. A cursor the
buffer does not know (too old, or from before a server restart) gets the
whole cache: the client sees everything the room still remembers.

Push transports (WebSocket) subscribe a callback with ``listen`` instead.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from squall.log import app_log

__all__ = ["CACHE_SIZE", "Message", "MessageBuffer"]

# How many messages a reconnecting client can catch up on; Tornado's chat
# demo keeps the same number.
CACHE_SIZE = 200

Message = dict[str, Any]
Listener = Callable[[list[Message]], None]


class MessageBuffer:
    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size}")
        self.cache: collections.deque[Message] = collections.deque(maxlen=cache_size)
        self._waiters: set[asyncio.Future[list[Message]]] = set()
        self._listeners: list[Listener] = []

    @property
    def waiter_count(self) -> int:
        return len(self._waiters)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

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
        waiters, self._waiters = self._waiters, set()
        batch = [message]
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
