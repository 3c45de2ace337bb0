"""Tornado 6 WebSocket echo and broadcast room (Tornado's default asyncio
loop); the application is ws_rooms.py's, shared with squall_ws.py."""

import asyncio
import sys

import tornado.web
from tornado.websocket import WebSocketHandler
from ws_rooms import handlers


async def main(port: int) -> None:
    tornado.web.Application(handlers(WebSocketHandler)).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
