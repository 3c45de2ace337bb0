"""The contract between the hub and a transport (memory, Redis).

The hub does everything that is the same for every transport: local
fan-out, subscriber queues, Gaps, the ``include_own`` filter. A backend only
moves publications between processes, keeps the optional history, and tells
the hub when channels become live and when its connection comes and goes.
"""

from __future__ import annotations

import abc
from collections.abc import Collection
from typing import NamedTuple, Protocol

from squall.pubsub._events import Message

__all__ = ["Backend", "HistoryRead", "Record", "Sink"]


class Record(NamedTuple):
    """One stored publication, as the history holds it."""

    id: str
    publisher: str
    kind: bytes
    payload: bytes


class HistoryRead(NamedTuple):
    records: list[Record]
    # True when publications after ``since`` were already dropped from the
    # bounded history: the reader missed some for good.
    trimmed: bool


class Sink(Protocol):
    """What the hub offers its backend."""

    def wanted_channels(self) -> Collection[str]: ...

    def backend_message(self, message: Message) -> None: ...

    def backend_subscribed(self, channel: str) -> None: ...

    def backend_connected(self) -> None: ...

    def backend_disconnected(self) -> None: ...


class Backend(abc.ABC):
    #: The backend can take publications and deliver them now.
    connected: bool = False
    #: The first connection attempt is over (connected or not).
    attempted: bool = False

    @abc.abstractmethod
    def start(self, sink: Sink) -> None:
        """Begin connecting; called once, on the running loop."""

    @abc.abstractmethod
    def add_channel(self, channel: str) -> None:
        """The first local subscriber of ``channel`` arrived."""

    @abc.abstractmethod
    def remove_channel(self, channel: str) -> None:
        """The last local subscriber of ``channel`` left."""

    @abc.abstractmethod
    async def wait_attempted(self) -> None:
        """Return once the first connection attempt is over."""

    @abc.abstractmethod
    async def publish(
        self, channel: str, publisher: str, kind: bytes, payload: bytes, history: int
    ) -> str | None:
        """Send to the other processes; store in a history of ``history``
        entries when it is positive and return the new entry's id."""

    @abc.abstractmethod
    async def read_history(self, channel: str, since: str | None) -> HistoryRead:
        """The stored publications after ``since`` (all of them if None)."""

    @abc.abstractmethod
    async def close(self) -> None: ...
