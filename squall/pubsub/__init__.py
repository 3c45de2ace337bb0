"""Publish/subscribe, in one process or across many: ``docs/pubsub.md``.

::

    from squall import pubsub

    hub = pubsub.connect("redis://127.0.0.1:6379/0")   # or "memory://"
    await hub.publish("room", {"from": "ann", "body": "hi"})

    async with hub.subscribe("room") as sub:
        async for event in sub:
            if isinstance(event, pubsub.Gap):
                ...  # may have missed messages: re-fetch
            else:
                print(event.data)

    handle = hub.subscribe("room", callback=on_event)   # the 1.x style
    handle.unsubscribe()
    await hub.close()
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from squall.pubsub._errors import (
    BackendUnavailableError,
    HubClosedError,
    PubSubError,
    UnsupportedURLError,
)
from squall.pubsub._events import Event, Gap, Message
from squall.pubsub._hub import MAX_MESSAGE_SIZE, SUBSCRIBER_QUEUE_SIZE, Hub
from squall.pubsub._memory import MemoryBackend
from squall.pubsub._subscription import CallbackSubscription, Subscription

__all__ = [
    "MAX_MESSAGE_SIZE",
    "SUBSCRIBER_QUEUE_SIZE",
    "BackendUnavailableError",
    "CallbackSubscription",
    "Event",
    "Gap",
    "Hub",
    "HubClosedError",
    "Message",
    "PubSubError",
    "Subscription",
    "UnsupportedURLError",
    "connect",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix")


def connect(
    url: str = "memory://",
    *,
    history: int = 0,
    queue_size: int = SUBSCRIBER_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    **backend_options: Any,
) -> Hub:
    """A hub on ``url``: ``memory://`` (one process) or
    ``redis://host:port/db`` (``rediss://`` for TLS, ``unix:///path``).

    ``history=N`` keeps the last N publications of each channel (a bounded
    Redis Stream) for ``hub.history()`` and ``subscribe(..., since=id)``.
    Redis backend options: ``min_reconnect_delay``, ``max_reconnect_delay``,
    ``health_check_interval`` (seconds).

    The hub connects in the background once used on a running loop;
    ``hub.connected`` says whether the backend is reachable.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    backend: Any
    if scheme == "memory":
        if backend_options:
            raise TypeError(f"memory:// takes no options: {', '.join(sorted(backend_options))}")
        backend = MemoryBackend()
    elif scheme in _REDIS_SCHEMES:
        try:
            from squall.pubsub._redis import RedisBackend
        except ImportError as e:
            raise ImportError(f"{url} needs redis-py: pip install 'squall[redis]' ({e})") from e
        backend = RedisBackend(url, **backend_options)
    else:
        raise UnsupportedURLError(
            f"no pub/sub backend for {url!r}: use memory:// or redis://host:port/db"
        )
    return Hub(
        backend,
        url=url,
        history=history,
        queue_size=queue_size,
        max_message_size=max_message_size,
    )
