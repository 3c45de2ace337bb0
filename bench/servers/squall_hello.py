"""squall hello world through Application + RequestHandler (the seeds' app)."""

import sys

import squall.web
from squall.ioloop import IOLoop


class MainHandler(squall.web.RequestHandler):
    def get(self):
        self.write("Hello, world")


if __name__ == "__main__":
    squall.web.Application([(r"/", MainHandler)]).listen(int(sys.argv[1]), "127.0.0.1")
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
