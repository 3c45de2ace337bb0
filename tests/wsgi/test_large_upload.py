"""A 200 MiB upload through WSGIContainer, in a server subprocess whose
peak RSS is measured: the body streams through in bounded memory."""

from __future__ import annotations

import hashlib
import http.client
from collections.abc import Iterator

import pytest
from wsgi_helpers import PYTHON, fetch, free_port, start_server, stop_server

UPLOAD_MIB = 200
BLOCK = bytes(range(256)) * 4096  # 1 MiB

# Generous: holding the body whole would add 200 MiB; streaming adds the
# 256 KiB wsgi.input buffer, socket buffers and allocator slack.
ALLOWED_GROWTH_MIB = 64


def blocks() -> Iterator[bytes]:
    for n in range(UPLOAD_MIB):
        yield BLOCK[n % 256 :] + BLOCK[: n % 256]  # every MiB different


@pytest.mark.slow
def test_200_mib_upload_in_bounded_memory() -> None:
    port = free_port()
    proc = start_server([PYTHON, "upload_server.py", str(port)], port)
    try:
        before_kib = int(fetch(port, "/rss").body)
        expected = hashlib.sha256()
        for block in blocks():
            expected.update(block)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request(
                "POST",
                "/upload",
                body=blocks(),
                headers={"Content-Length": str(UPLOAD_MIB * len(BLOCK))},
            )
            reply = conn.getresponse()
            size, digest, peak_kib = reply.read().decode().split()
        finally:
            conn.close()
    finally:
        stop_server(proc)
    assert reply.status == 200
    assert int(size) == UPLOAD_MIB * len(BLOCK)
    assert digest == expected.hexdigest()
    growth_mib = (int(peak_kib) - before_kib) / 1024
    print(f"peak RSS grew by {growth_mib:.1f} MiB")
    assert growth_mib < ALLOWED_GROWTH_MIB, f"peak RSS grew by {growth_mib:.1f} MiB"
