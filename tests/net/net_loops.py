"""The loop fixture the stream tests share: each test runs once on uvloop and
once on the standard library's loop, and leaves nothing running behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from squall.ioloop import IOLoop
from squall.testing import ExpectLog

LOOPS = ["uvloop", "asyncio"]

# Loop turns given to closing transports before the loop goes: a TLS close
# exchanges close_notify alerts, which takes a few.
CLOSING_TURNS = 10


def each_loop(kind: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[IOLoop]:
    """Body of a module's ``io_loop`` fixture, parametrized over ``LOOPS``."""
    monkeypatch.setenv("SQUALL_LOOP", kind)
    loop = IOLoop(make_current=True)
    # In debug mode (PYTHONASYNCIODEBUG=1) asyncio's own server logs every
    # failed incoming TLS handshake at ERROR; some tests fail them on purpose.
    quiet = ExpectLog("asyncio", "Error on transport creation for incoming", required=False)
    try:
        with quiet:
            yield loop
    finally:
        close_loop(loop)


def close_loop(loop: IOLoop) -> None:
    """Cancel what is left running, let transports finish closing, then close."""
    aloop = loop.asyncio_loop
    tasks = asyncio.all_tasks(aloop)
    for task in tasks:
        task.cancel()
    if tasks:
        aloop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for _ in range(CLOSING_TURNS):
        aloop.run_until_complete(asyncio.sleep(0))
    aloop.run_until_complete(aloop.shutdown_asyncgens())
    loop.close(all_fds=True)
    IOLoop.clear_current()
    asyncio.set_event_loop(None)
