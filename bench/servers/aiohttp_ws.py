"""aiohttp WebSocket echo and broadcast room (web.WebSocketResponse, on uvloop).

``/echo`` sends every message back. ``/broadcast`` is a chat room: "count"
answers the sender with the room's size, "go N" sends N messages of
BROADCAST_PAYLOAD to every member. Compression is off.
"""

import sys

import uvloop
from aiohttp import WSMsgType, web

BROADCAST_PAYLOAD = "b" * 64

members: set[web.WebSocketResponse] = set()


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def room(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    members.add(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if msg.data == "count":
                await ws.send_str(str(len(members)))
            elif msg.data.startswith("go "):
                for _ in range(int(msg.data[3:])):
                    for member in list(members):
                        await member.send_str(BROADCAST_PAYLOAD)
    finally:
        members.discard(ws)
    return ws


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/broadcast", room)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
