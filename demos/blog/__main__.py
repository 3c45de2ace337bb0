"""``python -m demos.blog [--port=N] [--address=A] [--db=URL] [--cookie-secret=S]``.

``--db`` takes any squall.database URL: ``sqlite:///blog.db`` (the default),
``postgresql://user:password@host/db``, ``mysql://user:password@host/db``.
"""

from __future__ import annotations

import signal
import sys

from demos.blog.app import DEFAULT_DB, main
from squall.database import parse_url
from squall.ioloop import IOLoop
from squall.options import OptionParser

options = OptionParser()
options.define("port", default=8888, type=int, help="port to listen on")
options.define("address", default="127.0.0.1", help="address to listen on")
options.define("db", default=DEFAULT_DB, help="database URL (sqlite, postgresql, mysql)")
options.define(
    "cookie_secret", default="", help="key for the signed author cookie (default: random)"
)


def _stop_on_signals() -> None:
    def stop(signum: int, frame: object) -> None:
        io_loop = IOLoop.current(instance=False)
        if io_loop is not None:
            io_loop.add_callback_from_signal(io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def run(argv: list[str]) -> None:
    options.parse_command_line([sys.argv[0], *argv])
    _stop_on_signals()
    backend = parse_url(options.db).backend  # not the URL itself: it may hold a password
    print(f"squall blog on http://{options.address}:{options.port}/ ({backend})", flush=True)
    main(
        port=options.port,
        address=options.address,
        db_url=options.db,
        cookie_secret=options.cookie_secret or None,
    )


if __name__ == "__main__":
    run(sys.argv[1:])
