"""Flask hello world through Tornado 6's WSGIContainer (its default: the
application runs on the IOLoop thread)."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tornado.httpserver
import tornado.wsgi
from wsgi_flask_hello import app


async def main(port: int) -> None:
    container = tornado.wsgi.WSGIContainer(app)
    tornado.httpserver.HTTPServer(container).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
