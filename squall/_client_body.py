"""Sending a request body that a ``body_producer`` writes piece by piece."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from squall._http1._heads import LAST_CHUNK, frame_chunk
from squall.httputil import HTTPOutputError
from squall.iostream import IOStream

__all__ = ["BodyProducer", "produce_body"]

# What HTTPRequest.body_producer is: called with a write function, it may
# return an awaitable that ends with the body.
BodyProducer = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None] | None]


async def produce_body(
    stream: IOStream, producer: BodyProducer, content_length: str | None
) -> None:
    """Run ``producer``, framing what it writes: chunked without a declared
    length, else checked against it (a short or long body would desync the
    connection: RFC 9112 §6.3)."""
    chunked = content_length is None
    declared = 0 if content_length is None else int(content_length)
    written = 0

    def write(chunk: bytes) -> Awaitable[None]:
        nonlocal written
        written += len(chunk)
        if not chunked and written > declared:
            raise HTTPOutputError(f"body_producer wrote more than Content-Length ({declared})")
        if chunked:
            if not chunk:
                # An empty chunk would read as the last one: send nothing.
                future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                future.set_result(None)
                return future
            chunk = frame_chunk(chunk)
        return stream.write(chunk)

    result = producer(write)
    if result is not None:
        await result
    if chunked:
        await stream.write(LAST_CHUNK)
    elif written < declared:
        raise HTTPOutputError(
            f"body_producer wrote {declared - written} bytes less than Content-Length"
        )
