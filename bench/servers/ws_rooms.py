"""The WebSocket benchmark's application, written once for squall and for
Tornado (their WebSocketHandler APIs are the same): ``handlers(base)`` makes
the two handler classes on either framework's ``WebSocketHandler``.

``/echo`` sends every message back. ``/broadcast`` is a chat room: "count"
answers the sender with the room's size, "go N" sends N messages of
BROADCAST_PAYLOAD to every member. Compression is off (the default).
"""

from typing import Any

BROADCAST_PAYLOAD = "b" * 64


def handlers(base: Any) -> list[tuple[str, Any]]:
    """The routes ``(path, handler class)`` with handlers built on ``base``."""

    class Echo(base):
        def on_message(self, message: Any) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    class Room(base):
        members: set[Any] = set()

        def open(self) -> None:
            Room.members.add(self)

        def on_close(self) -> None:
            Room.members.discard(self)

        def on_message(self, message: Any) -> None:
            if message == "count":
                self.write_message(str(len(Room.members)))
            elif message.startswith("go "):
                for _ in range(int(message[3:])):
                    for member in Room.members:
                        member.write_message(BROADCAST_PAYLOAD)

    return [(r"/echo", Echo), (r"/broadcast", Room)]
