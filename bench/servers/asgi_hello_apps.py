"""The hello-world applications bench/asgi.py runs under each server.

Every one answers ``GET /`` with a small body: a squall Application (the
seeds' handler), Starlette and FastAPI (their documented hello worlds).
"""

import squall.web


class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write("Hello, world")


def squall_app():
    return squall.web.Application([(r"/", MainHandler)])


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("Hello, world")

    return Starlette(routes=[Route("/", hello)])


def fastapi_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def hello():
        return {"message": "Hello, world"}

    return app


def run_uvicorn(app, port):
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
