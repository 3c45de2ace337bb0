"""Per-request profile of squall's HTTP server path, without sockets.

Feeds batches of pipelined hello-world requests to HTTP1ServerProtocol on
a recording transport and prints the time per request and, with
``--profile``, where it goes (cProfile, sorted by own time).

``python -m bench profile_http [--web] [--profile]`` (``--web``: through
``web.Application`` and a ``RequestHandler`` instead of a plain callback).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import time
from collections.abc import Sequence
from typing import Any

import uvloop

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, ResponseStartLine

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost:8888\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
START = ResponseStartLine("HTTP/1.1", 200, "OK")
BODY = b"Hello, world"


def handle(request: Any) -> None:
    headers = HTTPHeaders({"Content-Type": "text/plain", "Content-Length": "12"})
    request.connection.write_headers(START, headers, BODY)
    request.connection.finish()


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def web_app() -> Any:
    import squall.web

    class MainHandler(squall.web.RequestHandler):
        def get(self) -> None:
            self.write("Hello, world")

    return squall.web.Application([(r"/", MainHandler)])


def run(n: int, profile: bool, web: bool = False) -> float:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = HTTPServer(web_app() if web else handle)
    protocol = server._make_protocol()
    transport = RecordingTransport()
    protocol.connection_made(transport)
    # One request per data_received call, as wrk's keep-alive traffic arrives.
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(n):
        protocol.data_received(REQUEST)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    assert transport.written == n, transport.written
    protocol.connection_lost(None)
    loop.close()
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return elapsed / n


def main(argv: Sequence[str]) -> None:
    per_request = run(200_000, "--profile" in argv, web="--web" in argv)
    print(f"{per_request * 1e6:.2f} us per request ({1 / per_request:,.0f} requests/s on one core)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
