"""squall WebSocket echo and broadcast room (squall's default loop: uvloop).

``/echo`` sends every message back. ``/broadcast`` is a chat room: "count"
answers the sender with the room's size, "go N" sends N messages of
BROADCAST_PAYLOAD to every member. Compression is off (the default).
"""

import sys

import squall.web
from squall.ioloop import IOLoop
from squall.websocket import WebSocketHandler

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


if __name__ == "__main__":
    squall.web.Application([(r"/echo", Echo), (r"/broadcast", Room)]).listen(
        int(sys.argv[1]), "127.0.0.1"
    )
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
