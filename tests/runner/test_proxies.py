"""--xheaders with --trusted-proxy: only trusted peers set the client address and scheme."""

from __future__ import annotations

import http.client
import json

from .conftest import free_port, wait_for_port

SPOOF = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def who(port: int, source: str, headers: dict[str, str]) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/who", headers=headers)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_trusted_proxy_is_believed_and_others_are_not(start_runner) -> None:
    port = free_port()
    runner = start_runner(
        [
            "tests.runner.app:app",
            "--port",
            str(port),
            "--host",
            "0.0.0.0",
            "--trusted-proxy",
            "127.0.0.2/32",
        ]
    )
    wait_for_port(port, runner)
    # 127.0.0.2 is a trusted proxy: its headers say who the client is.
    assert who(port, "127.0.0.2", SPOOF) == {"remote_ip": "203.0.113.9", "protocol": "https"}
    # 127.0.0.3 is not: the same headers are ignored.
    assert who(port, "127.0.0.3", SPOOF) == {"remote_ip": "127.0.0.3", "protocol": "http"}


def test_without_xheaders_nobody_is_believed(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port)])
    wait_for_port(port, runner)
    assert who(port, "127.0.0.1", SPOOF) == {"remote_ip": "127.0.0.1", "protocol": "http"}
