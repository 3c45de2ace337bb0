"""aiohttp's static route (sendfile-capable FileResponse) on uvloop (argv: port, dir)."""

import sys

import uvloop
from aiohttp import web

if __name__ == "__main__":
    app = web.Application()
    app.router.add_static("/static/", sys.argv[2])
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
