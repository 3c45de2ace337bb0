"""Tornado's StaticFileHandler via the ``static_path`` setting (argv: port, dir)."""

import asyncio
import logging
import sys

import tornado.web


async def main() -> None:
    logging.getLogger("tornado.access").disabled = True
    tornado.web.Application([], static_path=sys.argv[2]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
