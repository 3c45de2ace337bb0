"""Helpers for HTTP tests: raw socket exchanges, a response splitter built
on httptools, and an app that echoes the request it received as JSON."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

import httptools

from squall.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine


@dataclass
class Response:
    status: int
    reason: str = ""
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


class _Collector:
    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.current: Response | None = None
        self.parser: Any = None

    def on_message_begin(self) -> None:
        self.current = Response(0)

    def on_status(self, status: bytes) -> None:
        assert self.current is not None
        self.current.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.current is not None
        self.current.headers.setdefault(name.decode().lower(), []).append(value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        assert self.current is not None
        self.current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        assert self.current is not None
        self.current.body += body

    def on_message_complete(self) -> None:
        assert self.current is not None
        self.responses.append(self.current)
        self.current = None


def split_responses(data: bytes) -> list[Response]:
    """Every response in ``data``, in order; a last one delimited by the
    connection's close counts too. (Not for answers to HEAD requests.)"""
    collector = _Collector()
    collector.parser = httptools.HttpResponseParser(collector)
    try:
        collector.parser.feed_data(data)
    except httptools.HttpParserError:
        pass
    if collector.current is not None and collector.current.status:
        collector.responses.append(collector.current)
    return collector.responses


def raw_exchange(port: int, data: bytes, timeout: float = 5.0, shutdown: bool = False) -> bytes:
    """Send ``data``, read until the server closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<<timeout>>")
        except ConnectionResetError:
            chunks.append(b"<<reset>>")
    return b"".join(chunks)


def echo_app(request: HTTPServerRequest) -> None:
    """Answers with a JSON description of the request it received."""
    info = {
        "method": request.method,
        "uri": request.uri,
        "path": request.path,
        "query": request.query,
        "version": request.version,
        "body": request.body.decode("latin-1"),
        "headers": sorted([k, v] for k, v in request.headers.get_all()),
        "remote_ip": request.remote_ip,
        "protocol": request.protocol,
        "host": request.host,
        "arguments": {k: [v.decode() for v in vs] for k, vs in request.arguments.items()},
        "files": {k: [f["filename"] for f in fs] for k, fs in request.files.items()},
    }
    body = json.dumps(info).encode()
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Length": str(len(body)), "Content-Type": "application/json"}),
        body,
    )
    request.connection.finish()
