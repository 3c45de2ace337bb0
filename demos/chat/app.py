"""The chat application: routes, settings, and ``main`` for the launcher.

``make_app()`` builds an Application around one ``MessageBuffer``; ``main``
attaches it to a ``squall.pubsub`` hub (``--pubsub``): ``memory://`` is one
room per process, ``redis://...`` one room for every process on that Redis. The WebSocket transport is an add-on: ``socket_routes`` adds
``/chatsocket`` when ``demos.chat.socket`` (built on ``squall.websocket``)
can be imported, and the page's script uses it when it answers.
"""

from __future__ import annotations

import importlib
import os
import secrets
import signal
from typing import Any

from demos.chat.buffer import CACHE_SIZE, MessageBuffer
from demos.chat.handlers import (
    LoginHandler,
    LogoutHandler,
    MainHandler,
    MessageModule,
    MessageNewHandler,
    MessageUpdatesHandler,
)
from squall import pubsub
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.log import app_log
from squall.options import OptionParser
from squall.web import Application, url

__all__ = ["DEFAULT_PUBSUB", "MAX_BODY_SIZE", "main", "make_app", "options", "socket_routes"]

HERE = os.path.dirname(os.path.abspath(__file__))
# A form post of one message is a few KiB (MAX_MESSAGE_LENGTH characters,
# percent-encoded); anything far larger is refused by the server with 413
# before the handler runs, instead of being buffered (the server's default
# allows 100 MB uploads).
MAX_BODY_SIZE = 64 * 1024

# One process needs no server; redis://host:port/db shares the room
# between processes (and machines).
DEFAULT_PUBSUB = "memory://"

# The chat's own command line (python -m demos.chat), kept apart from the
# global squall.options so that other code in the process can define
# --port without a clash.
options = OptionParser()
options.define("port", default=8888, type=int, help="port to listen on")
options.define("address", default="127.0.0.1", help="address to listen on")
options.define(
    "processes",
    default=1,
    type=int,
    help="0 = one per CPU; they share one room through --pubsub (else one room each)",
)
options.define(
    "pubsub",
    default=DEFAULT_PUBSUB,
    help="where the room's messages travel: memory:// (one process) or redis://host:port/db",
)
options.define(
    "cookie_secret",
    default="",
    help="key for the signed nickname cookie (default: random at each start)",
)


def socket_routes(buffer: MessageBuffer) -> list[Any]:
    """The ``/chatsocket`` route if the WebSocket transport is available."""
    try:
        socket = importlib.import_module("demos.chat.socket")
    except ImportError:
        # squall.websocket (or demos/chat/socket.py) is not there: the page
        # falls back to long polling.
        return []
    return [url(r"/chatsocket", socket.ChatSocketHandler, {"buffer": buffer}, name="socket")]


def make_app(
    cookie_secret: str | None = None, buffer: MessageBuffer | None = None, **settings: Any
) -> Application:
    buffer = buffer if buffer is not None else MessageBuffer()
    sockets = socket_routes(buffer)
    socket_url = "/chatsocket" if sockets else ""
    return Application(
        [
            url(r"/", MainHandler, {"buffer": buffer, "socket_url": socket_url}, name="home"),
            url(r"/auth/login", LoginHandler, name="login"),
            url(r"/auth/logout", LogoutHandler, name="logout"),
            url(r"/a/message/new", MessageNewHandler, {"buffer": buffer}, name="message-new"),
            url(
                r"/a/message/updates",
                MessageUpdatesHandler,
                {"buffer": buffer},
                name="message-updates",
            ),
            *sockets,
        ],
        cookie_secret=cookie_secret or secrets.token_urlsafe(32),
        login_url="/auth/login",
        xsrf_cookies=True,
        template_path=os.path.join(HERE, "templates"),
        static_path=os.path.join(HERE, "static"),
        ui_modules={"Message": MessageModule},
        **settings,
    )


def main(
    port: int = 8888,
    address: str = "127.0.0.1",
    processes: int = 1,
    cookie_secret: str | None = None,
    pubsub_url: str = DEFAULT_PUBSUB,
) -> None:
    # Checked before forking, so that a bad URL stops the launcher itself.
    pubsub.connect(pubsub_url)
    buffer = MessageBuffer()
    # Chosen before forking so that every process accepts every cookie.
    app = make_app(cookie_secret=cookie_secret or secrets.token_urlsafe(32), buffer=buffer)
    if processes != 1 and pubsub_url.startswith("memory:"):
        app_log.warning("chat: each process keeps its own room; --pubsub redis://... shares one")
    server = HTTPServer(app, max_body_size=MAX_BODY_SIZE)
    server.bind(port, address=address)
    server.start(processes)
    # After the fork: each process has its own connection to the backend.
    hub = pubsub.connect(pubsub_url, history=CACHE_SIZE)
    io_loop = IOLoop.current()

    def stop(signum: int, frame: object) -> None:
        # Between callbacks, not as a KeyboardInterrupt inside one: the
        # room is left cleanly (the hub's connections closed).
        io_loop.add_callback_from_signal(io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    io_loop.run_sync(lambda: buffer.attach(hub))

    async def leave_the_room() -> None:
        buffer.detach()
        await hub.close()

    try:
        io_loop.start()
    finally:
        io_loop.run_sync(leave_the_room)
