"""A squall Application under uvicorn (squall.asgi.to_asgi)."""

import logging
import sys

from asgi_hello_apps import run_uvicorn, squall_app

from squall.asgi import to_asgi

if __name__ == "__main__":
    # squall's access log, like uvicorn's, is off for the measurement.
    logging.getLogger("squall.access").disabled = True
    run_uvicorn(to_asgi(squall_app()), int(sys.argv[1]))
