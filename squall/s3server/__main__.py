"""``python -m squall.s3server --port 9000 --root DIR [--access-key K --secret-key S]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from squall.ioloop import IOLoop
from squall.s3server import S3Application


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m squall.s3server", description="Serve the S3 API from a local directory."
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--root", required=True, help="directory holding the buckets")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--access-key", help="require SigV4 signatures with this key")
    parser.add_argument("--secret-key", help="the secret for --access-key")
    parser.add_argument(
        "--domain",
        action="append",
        help="host name whose sub-domains name buckets (virtual-host style; repeatable)",
    )
    args = parser.parse_args(argv)
    if (args.access_key is None) != (args.secret_key is None):
        parser.error("--access-key and --secret-key go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    application = S3Application(
        args.root,
        access_key=args.access_key,
        secret_key=args.secret_key,
        domains=tuple(args.domain or ("localhost",)),
    )
    application.listen(args.port, args.address)
    loop = IOLoop.current()
    signal.signal(signal.SIGTERM, lambda *_: loop.add_callback_from_signal(loop.stop))
    logging.getLogger("squall.s3server").info(
        "serving S3 from %s on http://%s:%d", args.root, args.address, args.port
    )
    loop.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
