"""Fixtures for the ASGI tests: the test application under each ASGI server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgi_helpers import SERVERS, RunningServer, run_server


@pytest.fixture(scope="module", params=SERVERS)
def asgi_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The squall test application under each ASGI server, once per module."""
    tmp = tmp_path_factory.mktemp(request.param)
    with run_server(request.param, "squall_app:app", tmp) as server:
        yield server
