"""squall StaticFileHandler via the ``static_path`` setting (argv: port, dir)."""

import logging
import sys

import squall.web
from squall.ioloop import IOLoop

if __name__ == "__main__":
    logging.getLogger("squall.access").disabled = True
    squall.web.Application([], static_path=sys.argv[2]).listen(int(sys.argv[1]), "127.0.0.1")
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:
        pass
