"""S3 object throughput: squall.s3server vs moto's server mode, same run.

``python -m bench s3 [--quick]``: PUT then GET of a 1 MiB and a 100 MiB
object (``--quick``: 1 MiB and 16 MiB, fewer rounds), MB/s per server.
Each server runs in its own process pinned to core 0, anonymous (moto
ignores signatures past their syntax, squall runs without keys), and the
client is plain
``http.client`` on core 1 so that neither SDK hashing nor signing is
what gets measured.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bench._harness import CLIENT_CPU, SERVER_CPU, free_port, wait_for_port

MiB = 1024 * 1024
# (label, object size, rounds per direction)
SIZES = [("1 MiB", MiB, 50), ("100 MiB", 100 * MiB, 3)]
QUICK_SIZES = [("1 MiB", MiB, 10), ("16 MiB", 16 * MiB, 2)]
# Bytes handed to the socket per send() when uploading.
SEND_BLOCK = 256 * 1024
# moto applies object ACLs to requests without credentials (anonymous GETs
# are denied) but does not verify signatures: a well-formed header will do.
MOTO_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIABENCH/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64
)


def _pin(cpu: str) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})


@contextmanager
def _server(name: str, root: str) -> Iterator[int]:
    port = free_port()
    if name == "squall":
        argv = [sys.executable, "-m", "squall.s3server", "--port", str(port), "--root", root]
    else:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _pin(SERVER_CPU),
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    authorization: str | None = None,
) -> bytes:
    conn.putrequest(method, path, skip_accept_encoding=True)
    conn.putheader("Content-Length", str(len(body or b"")))
    if authorization:
        conn.putheader("Authorization", authorization)
    conn.endheaders()
    if body:
        view = memoryview(body)
        for start in range(0, len(view), SEND_BLOCK):
            conn.send(view[start : start + SEND_BLOCK])
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def _measure(port: int, size: int, rounds: int, auth: str | None) -> tuple[float, float]:
    """(PUT MB/s, GET MB/s) for ``rounds`` transfers of ``size`` bytes."""
    body = os.urandom(size)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        _request(conn, "PUT", "/bench-bucket", None, auth)
        started = time.perf_counter()
        for n in range(rounds):
            _request(conn, "PUT", f"/bench-bucket/object-{n}", body, auth)
        put_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(rounds):
            if len(_request(conn, "GET", f"/bench-bucket/object-{n}", None, auth)) != size:
                raise RuntimeError("short GET")
        get_seconds = time.perf_counter() - started
    finally:
        conn.close()
    total = size * rounds / 1e6
    return total / put_seconds, total / get_seconds


def main(argv: Sequence[str]) -> None:
    sizes = QUICK_SIZES if "--quick" in argv else SIZES
    peers = ["squall"]
    if importlib.util.find_spec("moto") is not None:
        peers.append("moto")
    else:
        print("(skipped moto: not installed; pip install 'moto[server]')")
    _pin(CLIENT_CPU)
    rows = []
    for label, size, rounds in sizes:
        for peer in peers:
            with tempfile.TemporaryDirectory() as root, _server(peer, root) as port:
                auth = MOTO_AUTHORIZATION if peer == "moto" else None
                put_rate, get_rate = _measure(port, size, rounds, auth)
            rows.append((label, peer, rounds, put_rate, get_rate))
    print("### S3 PUT/GET throughput (MB/s), one client connection, http.client")
    print()
    print("| object | server | rounds | PUT MB/s | GET MB/s |")
    print("|---|---|---:|---:|---:|")
    for label, peer, rounds, put_rate, get_rate in rows:
        print(f"| {label} | {peer} | {rounds} | {put_rate:,.0f} | {get_rate:,.0f} |")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
