"""asyncio integration, at Tornado's import path.

squall always runs on asyncio, so this module names the IOLoop classes,
offers the two conversion functions older code calls (identity conversions
now that squall's Future is asyncio's), and the helpers for loops without
readiness callbacks (``SelectorThread``, ``AddThreadSelectorEventLoop``).
``AnyThreadEventLoopPolicy`` is deprecated, as in Tornado since 6.2:
touching it warns.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from typing import Any

from squall.gen import convert_yielded
from squall.ioloop import AsyncIOLoop, AsyncIOMainLoop, IOLoop
from squall.platform._selector_thread import (
    AddThreadSelectorEventLoop,
    SelectorThread,
    _atexit_callback,  # noqa: F401 - Tornado's private name, reached here
    _selector_loops,  # noqa: F401 - Tornado's private name, reached here
)

__all__ = [
    "AddThreadSelectorEventLoop",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "SelectorThread",
    "to_asyncio_future",
    "to_tornado_future",
]

BaseAsyncIOLoop = IOLoop


def to_tornado_future(asyncio_future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """Kept for old code: squall's Future is asyncio's, so this is identity."""
    return asyncio_future


def to_asyncio_future(tornado_future: Any) -> asyncio.Future[Any]:
    """Anything yieldable (a Future, a coroutine, a list...) as an asyncio Future."""
    return convert_yielded(tornado_future)


class _AnyThreadEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy that gives every thread a loop on first request.

    asyncio's default policy creates a loop only for the main thread; with
    this one ``asyncio.get_event_loop()`` works in any thread. Deprecated:
    start loops with ``asyncio.run`` or ``IOLoop(make_current=...)`` instead.
    """

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        # The base policy refuses (RuntimeError) outside the main thread when
        # no loop is set; here that case makes one and installs it instead.
        with contextlib.suppress(RuntimeError):
            return super().get_event_loop()
        fresh = self.new_event_loop()
        self.set_event_loop(fresh)
        return fresh


def __getattr__(name: str) -> Any:
    if name == "AnyThreadEventLoopPolicy":
        warnings.warn(
            "AnyThreadEventLoopPolicy is deprecated; start event loops explicitly "
            "(asyncio.run, or asyncio.new_event_loop in each thread)",
            DeprecationWarning,
            stacklevel=2,
        )
        return _AnyThreadEventLoopPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
