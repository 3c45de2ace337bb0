"""Shared by the S3 tests: a server on its own thread, boto3 clients for it."""

from __future__ import annotations

import asyncio
import datetime
import threading
from typing import Any

from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.s3server import S3Application
from squall.testing import bind_unused_port

ACCESS_KEY = "AKIASQUALLTEST0001"
SECRET_KEY = "squall-secret-key/for+tests"
REGION = "us-east-1"


class ServerThread:
    """An S3Application served from a thread with its own event loop."""

    def __init__(
        self, root: str, server_kwargs: dict[str, Any] | None = None, **app_kwargs: Any
    ) -> None:
        self.root = root
        self.app_kwargs = app_kwargs
        self.server_kwargs = server_kwargs or {}
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: HTTPServer | None = None
        sock, self.port = bind_unused_port()
        self.sock = sock
        self.thread = threading.Thread(target=self._run, name="s3server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        IOLoop.current()
        self.app = S3Application(self.root, **self.app_kwargs)
        self.server = HTTPServer(self.app, **self.server_kwargs)
        self.server.add_sockets([self.sock])
        self.ready.set()
        try:
            loop.run_forever()
        finally:
            self.server.stop()
            loop.run_until_complete(self.server.close_all_connections())
            loop.run_until_complete(loop.shutdown_asyncgens())
            IOLoop.current().close()
            loop.close()

    def start(self) -> ServerThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def client(url: str, signature_version: str = "s3v4", **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(
            signature_version=signature_version,
            retries={"max_attempts": 1},
            s3={"addressing_style": config.pop("addressing_style", "path")},
            **config,
        ),
    )


def crt_sign(
    method: str,
    host: str,
    path: str,
    headers: list[tuple[str, str]],
    *,
    when: datetime.datetime | None = None,
    presign_expires: int | None = None,
    body_value: str | None = None,
    secret_key: str = SECRET_KEY,
) -> tuple[str, list[tuple[str, str]]]:
    """Sign a request with awscrt's SigV4 signer (an independent peer):
    returns the (possibly presigned) path and the headers to send."""
    import awscrt.auth
    import awscrt.http

    request = awscrt.http.HttpRequest(
        method, path, awscrt.http.HttpHeaders([("host", host), *headers])
    )
    config = awscrt.auth.AwsSigningConfig(
        algorithm=awscrt.auth.AwsSigningAlgorithm.V4,
        signature_type=(
            awscrt.auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS
            if presign_expires is not None
            else awscrt.auth.AwsSignatureType.HTTP_REQUEST_HEADERS
        ),
        credentials_provider=awscrt.auth.AwsCredentialsProvider.new_static(ACCESS_KEY, secret_key),
        region=REGION,
        service="s3",
        date=when or datetime.datetime.now(datetime.timezone.utc),
        use_double_uri_encode=False,
        should_normalize_uri_path=False,
        signed_body_value=body_value
        or (
            awscrt.auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD
            if presign_expires
            else awscrt.auth.AwsSignedBodyValue.EMPTY_SHA256
        ),
        signed_body_header_type=(
            awscrt.auth.AwsSignedBodyHeaderType.NONE
            if presign_expires
            else awscrt.auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256
        ),
        expiration_in_seconds=presign_expires,
    )
    awscrt.auth.aws_sign_request(request, config).result(10)
    return request.path, [(k, v) for k, v in request.headers if k.lower() != "host"]


def raw_request(
    port: int,
    method: str,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    host: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over http.client, exactly as given."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        for name, value in headers or []:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def error_code_of(body: bytes) -> str:
    import xml.etree.ElementTree as ElementTree

    return ElementTree.fromstring(body).findtext("Code") or ""


class ServerProcess:
    """``python -m squall.s3server`` in a subprocess (for memory and CLI tests).

    ``code``, when given, is run with ``python -c`` instead (``{port}`` is
    replaced by the port to listen on)."""

    def __init__(self, root: str, *extra: str, code: str | None = None) -> None:
        import os
        import subprocess
        import sys

        sock, self.port = bind_unused_port()
        sock.close()
        env = dict(os.environ)
        here = os.path.dirname(os.path.abspath(__file__))
        env["PYTHONPATH"] = (
            os.path.dirname(os.path.dirname(here)) + os.pathsep + env.get("PYTHONPATH", "")
        )
        if code is not None:
            argv = [sys.executable, "-c", code.replace("{port}", str(self.port))]
        else:
            argv = [
                sys.executable,
                "-m",
                "squall.s3server",
                "--port",
                str(self.port),
                "--root",
                root,
                "--access-key",
                ACCESS_KEY,
                "--secret-key",
                SECRET_KEY,
                *extra,
            ]
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        import socket
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"s3server exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("s3server did not start listening")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status_kib(self, field: str) -> int:
        """A /proc/<pid>/status field in KiB (VmRSS, VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)

    def stop(self) -> str:
        import signal

        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=20)
        except Exception:
            self.process.kill()
            _, err = self.process.communicate()
        return err.decode(errors="replace")
