"""asyncio integration, at Tornado's import path.

squall always runs on asyncio, so this module only names the IOLoop classes
and offers the two conversion functions older code calls; both are identity
conversions now that squall's Future is asyncio's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from squall.gen import convert_yielded
from squall.ioloop import AsyncIOLoop, AsyncIOMainLoop, IOLoop

__all__ = [
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
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
