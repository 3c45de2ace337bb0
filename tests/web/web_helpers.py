"""A blocking HTTP client for web tests (http.client), run on a worker thread."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    code: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def blocking_fetch(
    port: int,
    path: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.reason, r.headers, r.read())
    finally:
        conn.close()
