"""``python -m demos.blog [--port N] [--address A] [--db URL] [--cookie-secret S]``.

``--db`` takes any squall.database URL: ``sqlite:///blog.db`` (the default,
in the current directory), ``postgresql://user:password@host/db``,
``mysql://user:password@host/db``.
"""

from __future__ import annotations

import argparse
import signal
import sys

from demos.blog.app import DEFAULT_DB, main
from squall.database import parse_url
from squall.ioloop import IOLoop


def _stop_on_signals() -> None:
    """Ctrl-C or SIGTERM stops the IOLoop between callbacks; main() then
    closes the database pool."""

    def stop(signum: int, frame: object) -> None:
        io_loop = IOLoop.current(instance=False)
        if io_loop is not None:
            io_loop.add_callback_from_signal(io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m demos.blog", description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--db", default=DEFAULT_DB, help="database URL (sqlite, postgresql, mysql)")
    parser.add_argument(
        "--cookie-secret", default="", help="key for the signed author cookie (default: random)"
    )
    args = parser.parse_args(argv)
    backend = parse_url(args.db).backend  # not the URL itself: it may hold a password
    _stop_on_signals()
    print(f"squall blog on http://{args.address}:{args.port}/ ({backend})", flush=True)
    main(
        port=args.port,
        address=args.address,
        db_url=args.db,
        cookie_secret=args.cookie_secret or None,
    )


if __name__ == "__main__":
    run(sys.argv[1:])
