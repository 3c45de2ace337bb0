"""A WSGIContainer server for the large-upload test: ``python
upload_server.py PORT``. The application hashes wsgi.input as it streams
in and answers with the digest and this process's peak RSS so far."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Callable
from typing import Any

from squall.httpserver import HTTPServer
from squall.wsgi import WSGIContainer

# Allows the test's 200 MiB body (HTTPServer's default limit is 100 MiB).
MAX_BODY = 256 * 1024 * 1024


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    if environ["PATH_INFO"] == "/rss":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(peak_rss_kib()).encode()]
    digest = hashlib.sha256()
    size = 0
    stream = environ["wsgi.input"]
    while True:
        chunk = stream.read(256 * 1024)
        if not chunk:
            break
        size += len(chunk)
        digest.update(chunk)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{size} {digest.hexdigest()} {peak_rss_kib()}".encode()]


async def main(port: int) -> None:
    server = HTTPServer(WSGIContainer(app), max_body_size=MAX_BODY)
    server.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
