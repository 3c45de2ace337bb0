"""Tornado 6 HTTPServer with a plain request callback (on its default loop)."""

import asyncio
import sys

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders, ResponseStartLine

BODY = b"Hello, world"
START = ResponseStartLine("HTTP/1.1", 200, "OK")


def handle(request):
    headers = HTTPHeaders({"Content-Type": "text/plain", "Content-Length": "12"})
    request.connection.write_headers(START, headers, BODY)
    request.connection.finish()


async def main(port: int) -> None:
    HTTPServer(handle).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
