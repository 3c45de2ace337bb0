"""Flask hello world through squall's WSGIContainer (its default pool)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsgi_flask_hello import app

from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.wsgi import WSGIContainer

if __name__ == "__main__":
    HTTPServer(WSGIContainer(app)).listen(int(sys.argv[1]), "127.0.0.1")
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
