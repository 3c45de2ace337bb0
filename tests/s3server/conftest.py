"""Fixtures for the S3 server tests: a server on a thread, boto3 clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_helpers import ACCESS_KEY, SECRET_KEY, ServerThread, client

pytest.importorskip("boto3")


@pytest.fixture
def s3root(tmp_path: Path) -> Path:
    root = tmp_path / "s3root"
    root.mkdir()
    return root


@pytest.fixture
def server(s3root: Path) -> Iterator[ServerThread]:
    thread = ServerThread(str(s3root), access_key=ACCESS_KEY, secret_key=SECRET_KEY).start()
    yield thread
    thread.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(url: str, **kwargs: Any) -> Any:
        c = client(url, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def s3(server: ServerThread, make_client: Callable[..., Any]) -> Any:
    return make_client(server.url)


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="test-bucket")
    return "test-bucket"


@pytest.fixture(autouse=True)
def _quiet_aws_logs() -> Iterator[None]:
    # boto3 logs every hook at DEBUG; the server's own logs stay.
    import logging

    names = ["botocore", "boto3", "urllib3", "s3transfer"]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
