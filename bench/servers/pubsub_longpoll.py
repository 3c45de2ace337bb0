"""A long-poll server whose waiters are woken through a pub/sub library.

``python pubsub_longpoll.py PORT IMPL REDIS_URL``, IMPL ``squall`` (a
``squall.pubsub`` hub) or ``broadcaster`` (the ``broadcaster`` library).
The HTTP side is squall's in both cases, so only the pub/sub differs:

- ``GET /wait``: subscribes to the ``fan`` channel, answers with the first
  message published on it.
- ``GET /count``: how many ``/wait`` requests are subscribed right now.
"""

from __future__ import annotations

import sys
from typing import Any

from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.web import Application, RequestHandler

CHANNEL = "fan"
waiting = 0


class Backend:
    async def start(self) -> None: ...

    async def next_message(self) -> str:
        raise NotImplementedError


class SquallBackend(Backend):
    def __init__(self, url: str) -> None:
        from squall import pubsub

        self.hub = pubsub.connect(url)

    async def start(self) -> None:
        await self.hub.wait_connected()

    async def next_message(self) -> str:
        global waiting
        async with self.hub.subscribe(CHANNEL) as sub:
            waiting += 1
            try:
                event = await sub.__anext__()
            finally:
                waiting -= 1
        return str(getattr(event, "data", "gap"))


class BroadcasterBackend(Backend):
    def __init__(self, url: str) -> None:
        from broadcaster import Broadcast

        self.broadcast = Broadcast(url)

    async def start(self) -> None:
        await self.broadcast.connect()

    async def next_message(self) -> str:
        global waiting
        async with self.broadcast.subscribe(CHANNEL) as sub:
            waiting += 1
            try:
                event = await sub.get()
            finally:
                waiting -= 1
        return str(event.message)


class WaitHandler(RequestHandler):
    def initialize(self, backend: Backend) -> None:
        self.backend = backend

    async def get(self) -> None:
        self.write(await self.backend.next_message())


class CountHandler(RequestHandler):
    def get(self) -> None:
        self.write(str(waiting))


def main(argv: list[str]) -> None:
    port, impl, url = int(argv[0]), argv[1], argv[2]
    backend: Any = SquallBackend(url) if impl == "squall" else BroadcasterBackend(url)
    app = Application([(r"/wait", WaitHandler, {"backend": backend}), (r"/count", CountHandler)])
    io_loop = IOLoop.current()
    io_loop.run_sync(backend.start)
    server = HTTPServer(app)
    server.listen(port, address="127.0.0.1", backlog=4096)
    io_loop.start()


if __name__ == "__main__":
    main(sys.argv[1:])
