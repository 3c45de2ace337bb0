"""A web server in its own process, so a test can read its memory (RSS)
from /proc without the test's own allocations mixed in.

Prints its port on stdout, then serves until killed:

- ``GET /`` answers ``Hello, world`` (no flush);
- ``POST /upload`` answers with the size of the body it received.
"""

from __future__ import annotations

import asyncio

from squall import web
from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class Upload(web.RequestHandler):
    def post(self) -> None:
        self.write(str(len(self.request.body)))


async def main() -> None:
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([("/", Hello), ("/upload", Upload)]))
    server.add_sockets([sock])
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
