"""HTTPServer with a plain request callback: the layer under squall.web."""

from __future__ import annotations

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine
from squall.ioloop import IOLoop

BODY = b"<!doctype html><title>squall</title><h1>Hello from squall's HTTPServer</h1>\n"


def handle(request: HTTPServerRequest) -> None:
    assert request.connection is not None
    headers = HTTPHeaders(
        {"Content-Type": "text/html; charset=UTF-8", "Content-Length": str(len(BODY))}
    )
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, BODY)
    request.connection.finish()


def main(port: int = 8888, address: str = "127.0.0.1", processes: int = 1) -> None:
    server = HTTPServer(handle)
    server.bind(port, address=address)
    server.start(processes)
    IOLoop.current().start()
