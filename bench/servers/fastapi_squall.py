"""FastAPI's hello world inside squall's server (squall.asgi.ASGIContainer)."""

import sys

from asgi_hello_apps import fastapi_app

from squall.asgi import ASGIContainer
from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop


async def main(port):
    container = ASGIContainer(fastapi_app())
    await container.startup()
    HTTPServer(container).listen(port, "127.0.0.1")


if __name__ == "__main__":
    loop = IOLoop.current()
    loop.run_sync(lambda: main(int(sys.argv[1])))
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
