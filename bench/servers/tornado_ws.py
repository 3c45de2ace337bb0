"""Tornado 6 WebSocket echo and broadcast room (Tornado's default asyncio loop).

``/echo`` sends every message back. ``/broadcast`` is a chat room: "count"
answers the sender with the room's size, "go N" sends N messages of
BROADCAST_PAYLOAD to every member. Compression is off (the default).
"""

import asyncio
import sys

import tornado.web
from tornado.websocket import WebSocketHandler

BROADCAST_PAYLOAD = "b" * 64


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


class Room(WebSocketHandler):
    members: set["Room"] = set()

    def open(self):
        Room.members.add(self)

    def on_close(self):
        Room.members.discard(self)

    def on_message(self, message):
        if message == "count":
            self.write_message(str(len(Room.members)))
        elif message.startswith("go "):
            for _ in range(int(message[3:])):
                for member in Room.members:
                    member.write_message(BROADCAST_PAYLOAD)


async def main(port: int) -> None:
    tornado.web.Application([(r"/echo", Echo), (r"/broadcast", Room)]).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
