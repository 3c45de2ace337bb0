"""One web app per framework and scenario: ``web_scenarios.py PORT FRAMEWORK SCENARIO``.

Scenarios: ``json`` (a small dict as JSON) and ``routes`` (50 regex routes,
the request hitting the last one). Frameworks: squall, tornado, aiohttp.
"""

import asyncio
import sys

ROUTES = 50
PAYLOAD = {"message": "Hello, world", "items": [1, 2, 3], "ok": True}


def squall_app(scenario):
    import squall.web

    class Json(squall.web.RequestHandler):
        def get(self, *args):
            self.write(PAYLOAD)

    if scenario == "json":
        return squall.web.Application([(r"/json", Json)])
    return squall.web.Application([(rf"/route{i}/(\w+)", Json) for i in range(ROUTES)])


def tornado_app(scenario):
    import tornado.web

    class Json(tornado.web.RequestHandler):
        def get(self, *args):
            self.write(PAYLOAD)

    if scenario == "json":
        return tornado.web.Application([(r"/json", Json)])
    return tornado.web.Application([(rf"/route{i}/(\w+)", Json) for i in range(ROUTES)])


def aiohttp_app(scenario):
    from aiohttp import web

    async def json_handler(request):
        return web.json_response(PAYLOAD)

    app = web.Application()
    if scenario == "json":
        app.router.add_get("/json", json_handler)
    else:
        for i in range(ROUTES):
            app.router.add_get(rf"/route{i}/{{name:\w+}}", json_handler)
    return app


def main(port, framework, scenario):
    if framework == "squall":
        from squall.ioloop import IOLoop

        squall_app(scenario).listen(port, "127.0.0.1")
        IOLoop.current().start()
    elif framework == "tornado":

        async def run():
            tornado_app(scenario).listen(port, "127.0.0.1")
            await asyncio.Event().wait()

        asyncio.run(run())
    else:
        import uvloop
        from aiohttp import web

        web.run_app(
            aiohttp_app(scenario),
            host="127.0.0.1",
            port=port,
            access_log=None,
            print=None,
            loop=uvloop.new_event_loop(),
        )


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    except KeyboardInterrupt:
        pass
