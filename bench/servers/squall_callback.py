"""squall HTTPServer with a plain request callback (no web framework)."""

import sys

from squall.httpserver import HTTPServer
from squall.httputil import HTTPHeaders, ResponseStartLine
from squall.ioloop import IOLoop

BODY = b"Hello, world"
START = ResponseStartLine("HTTP/1.1", 200, "OK")


def handle(request):
    headers = HTTPHeaders({"Content-Type": "text/plain", "Content-Length": "12"})
    request.connection.write_headers(START, headers, BODY)
    request.connection.finish()


if __name__ == "__main__":
    HTTPServer(handle).listen(int(sys.argv[1]), "127.0.0.1")
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
