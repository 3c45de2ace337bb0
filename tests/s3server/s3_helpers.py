"""Shared by the S3 tests: a server on its own thread, boto3 clients for it."""

from __future__ import annotations

import asyncio
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

    def __init__(self, root: str, **app_kwargs: Any) -> None:
        self.root = root
        self.app_kwargs = app_kwargs
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
        self.server = HTTPServer(self.app, **self.app_kwargs.get("server_kwargs", {}))
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
