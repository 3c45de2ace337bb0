"""``python -m demos.chat [--port=N] [--address=A] [--processes=N] [--cookie-secret=S]
[--pubsub=URL]``."""

from __future__ import annotations

import sys

from demos.chat.app import main, options
from squall import pubsub


def run(argv: list[str]) -> None:
    options.parse_command_line([sys.argv[0], *argv])
    try:
        pubsub.connect(options.pubsub)
    except (ValueError, ImportError) as e:
        sys.exit(f"--pubsub: {e}")
    print(f"squall chat on http://{options.address}:{options.port}/", flush=True)
    try:
        main(
            port=options.port,
            address=options.address,
            processes=options.processes,
            cookie_secret=options.cookie_secret or None,
            pubsub_url=options.pubsub,
        )
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    run(sys.argv[1:])
