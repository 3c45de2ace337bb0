"""aiohttp's low-level web.Server (no router, no app), on uvloop."""

import asyncio
import sys

import uvloop
from aiohttp import web


async def handle(request: web.BaseRequest) -> web.Response:
    return web.Response(text="Hello, world")


async def main(port: int) -> None:
    server = web.Server(handle, access_log=None)
    loop = asyncio.get_running_loop()
    await loop.create_server(server, "127.0.0.1", port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        uvloop.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
