"""websockets (its asyncio server) echo and broadcast room, on uvloop.

``/echo`` sends every message back. ``/broadcast`` is a chat room: "count"
answers the sender with the room's size, "go N" sends N messages of
BROADCAST_PAYLOAD to every member with ``broadcast()``, the library's own
way to write one message to many connections. Compression is off.
"""

import sys

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

BROADCAST_PAYLOAD = "b" * 64

members: set[ServerConnection] = set()


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def room(ws: ServerConnection) -> None:
    members.add(ws)
    try:
        async for message in ws:
            if message == "count":
                await ws.send(str(len(members)))
            elif isinstance(message, str) and message.startswith("go "):
                for _ in range(int(message[3:])):
                    broadcast(members, BROADCAST_PAYLOAD)
    finally:
        members.discard(ws)


async def handler(ws: ServerConnection) -> None:
    try:
        if ws.request is not None and ws.request.path == "/broadcast":
            await room(ws)
        else:
            await echo(ws)
    except ConnectionClosed:
        pass  # the load client drops its connections without a close frame


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        uvloop.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
