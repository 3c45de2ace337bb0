"""``memory://``: one process, no network. The hub's local fan-out is all
the delivery there is; this backend only keeps the optional history."""

from __future__ import annotations

import collections

from squall.pubsub._backend import Backend, HistoryRead, Record, Sink
from squall.pubsub._events import id_order

__all__ = ["MemoryBackend"]


class _History:
    def __init__(self, size: int) -> None:
        self.records: collections.deque[Record] = collections.deque(maxlen=size)
        # The newest id pushed out by the bound, as Redis reports a stream's
        # max-deleted-entry-id: a reader "since" an older id missed it.
        self.last_dropped: str | None = None


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self._sink: Sink | None = None
        self._histories: dict[str, _History] = {}
        self._counter = 0

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self.connected = self.attempted = True

    def add_channel(self, channel: str) -> None:
        assert self._sink is not None
        self._sink.backend_subscribed(channel)

    def remove_channel(self, channel: str) -> None:
        pass

    async def wait_attempted(self) -> None:
        pass

    async def publish(
        self, channel: str, publisher: str, kind: bytes, payload: bytes, history: int
    ) -> str | None:
        if history <= 0:
            return None
        self._counter += 1
        message_id = f"0-{self._counter}"
        stored = self._histories.get(channel)
        if stored is None or stored.records.maxlen != history:
            stored = self._histories[channel] = self._resized(stored, history)
        if len(stored.records) == history:
            stored.last_dropped = stored.records[0].id
        stored.records.append(Record(message_id, publisher, kind, payload))
        return message_id

    @staticmethod
    def _resized(old: _History | None, size: int) -> _History:
        new = _History(size)
        if old is not None:
            new.last_dropped = old.last_dropped
            for record in old.records:
                if len(new.records) == size:
                    new.last_dropped = new.records[0].id
                new.records.append(record)
        return new

    async def read_history(self, channel: str, since: str | None) -> HistoryRead:
        stored = self._histories.get(channel)
        if stored is None:
            return HistoryRead([], False)
        if since is None:
            return HistoryRead(list(stored.records), False)
        after = id_order(since)
        records = [r for r in stored.records if id_order(r.id) > after]
        trimmed = stored.last_dropped is not None and id_order(stored.last_dropped) > after
        return HistoryRead(records, trimmed)

    async def close(self) -> None:
        self.connected = False
        self._histories.clear()
