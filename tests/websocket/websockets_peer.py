"""The `websockets` library as a peer: the echo server both conformance
suites (plain and TLS) run squall's client against."""

from __future__ import annotations

from typing import Any

from websockets.exceptions import ConnectionClosed

# The message that asks the server to close, and the close it answers with.
CLOSE_REQUEST = "close please"
CLOSE_CODE = 4123
CLOSE_REASON = "bye"


async def echo(ws: Any) -> None:
    """Send every message back; close with CLOSE_CODE when asked to."""
    try:
        async for message in ws:
            if message == CLOSE_REQUEST:
                await ws.close(CLOSE_CODE, CLOSE_REASON)
                return
            await ws.send(message)
    except ConnectionClosed:
        pass
