"""What a subscriber receives, and how messages become bytes and back.

A subscriber sees two kinds of events: a ``Message`` (one publication) and a
``Gap`` (messages may have been lost: the backend was unreachable for a
while, or this subscriber fell too far behind). A publication is bytes, a
str, or a JSON-able value; every subscriber, in this process or another,
receives the same type back (JSON round-trips: a tuple arrives as a list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "KIND_BYTES",
    "KIND_JSON",
    "KIND_TEXT",
    "Event",
    "Gap",
    "Message",
    "decode",
    "encode",
    "id_order",
]

# One byte on the wire says how to decode the payload.
KIND_BYTES = b"b"
KIND_TEXT = b"s"
KIND_JSON = b"j"


@dataclass(frozen=True)
class Message:
    """One publication on ``channel``.

    ``id`` is its position in the channel's history when the hub keeps one
    (``connect(url, history=N)``), else None. ``publisher`` is the ``id`` of
    the hub that published it ("" when something other than a squall hub
    published raw bytes on the Redis channel).
    """

    channel: str
    data: Any
    id: str | None = None
    publisher: str = ""


@dataclass
class Gap:
    """Messages on ``channels`` may have been missed.

    ``reason`` is ``"reconnected"`` (the backend was unreachable; sent once
    the channel is subscribed again, so re-fetching from then on misses
    nothing), ``"overflow"`` (this subscriber's queue was full; ``missed``
    counts the messages dropped) or ``"trimmed"`` (a catch-up ``since`` an
    id older than the history still holds). ``missed`` is None when unknown.
    """

    channels: frozenset[str]
    reason: str
    missed: int | None = None
    # Only the hub adds to a Gap still waiting in a queue.
    _open: bool = field(default=False, repr=False, compare=False)


Event = Union[Message, Gap]


def encode(message: object) -> tuple[bytes, bytes]:
    """``(kind, payload)`` for a publication; TypeError/ValueError if it
    cannot be one."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return KIND_BYTES, bytes(message)
    if isinstance(message, str):
        return KIND_TEXT, message.encode("utf-8")
    try:
        # allow_nan=False: NaN and Infinity are not JSON (RFC 8259 §6), and
        # a subscriber in another language could not read them.
        text = json.dumps(message, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except TypeError as e:
        raise TypeError(
            f"a message is bytes, str or JSON-able, not {type(message).__name__}: {e}"
        ) from None
    return KIND_JSON, text.encode("utf-8")


def decode(kind: bytes, payload: bytes) -> Any:
    if kind == KIND_BYTES:
        return payload
    if kind == KIND_TEXT:
        return payload.decode("utf-8")
    if kind == KIND_JSON:
        return json.loads(payload)
    raise ValueError(f"unknown message kind {kind!r}")


def id_order(message_id: str) -> tuple[int, int]:
    """Sort key of a history id (``"<milliseconds>-<sequence>"``, the form
    Redis Streams use; the memory backend counts in the same form)."""
    first, _, second = message_id.partition("-")
    try:
        return int(first), int(second or 0)
    except ValueError:
        raise ValueError(f"not a history id: {message_id!r}") from None
