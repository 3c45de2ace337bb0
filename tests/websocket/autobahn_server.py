"""An echo server for Autobahn's fuzzing client: ``python autobahn_server.py PORT``."""

from __future__ import annotations

import sys

from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.web import Application
from squall.websocket import WebSocketHandler

# Cases 9.* send 16 MiB messages.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class Echo(WebSocketHandler):
    def get_compression_options(self) -> dict[str, object]:
        return {}

    def on_message(self, message: str | bytes) -> object:
        return self.write_message(message, binary=isinstance(message, bytes))


def make_app() -> Application:
    return Application([("/", Echo)], websocket_max_message_size=MAX_MESSAGE_SIZE)


if __name__ == "__main__":
    server = HTTPServer(make_app())
    server.listen(int(sys.argv[1]), "127.0.0.1")
    IOLoop.current().start()
