"""squall WebSocket echo and broadcast room (squall's default loop: uvloop);
the application is ws_rooms.py's, shared with tornado_ws.py."""

import sys

from ws_rooms import handlers

import squall.web
from squall.ioloop import IOLoop
from squall.websocket import WebSocketHandler

if __name__ == "__main__":
    squall.web.Application(handlers(WebSocketHandler)).listen(int(sys.argv[1]), "127.0.0.1")
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
