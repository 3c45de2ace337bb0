"""Pub/sub tests: the hub on memory://, and on a real redis-server that the
session fixture in tests/_servers/redis.py starts (skipped only where the
binary is absent; CI installs it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves it out
    sys.path.insert(0, str(ROOT))

from squall import pubsub  # noqa: E402
from tests._servers.redis import RedisServer  # noqa: E402
from tests._servers.redis import redis_server as redis_server  # noqa: E402

_db_counter = iter(range(1, 16))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    # Each test gets its own channel names; the db number keeps history
    # streams of different tests apart as well (16 dbs, then wrap).
    try:
        db = next(_db_counter)
    except StopIteration:
        db = 0
    return redis_server.url(db)


@pytest.fixture
def hubs(io_loop: Any) -> Iterator[list[pubsub.Hub]]:
    """Hubs a test opened (append them); all closed at the end."""
    opened: list[pubsub.Hub] = []
    yield opened

    async def close_all() -> None:
        for hub in opened:
            await hub.close()

    io_loop.run_sync(close_all, timeout=30)
