"""Suite-wide rules: an unexpected ERROR log line fails the test.

Expected errors are wrapped in ``squall.testing.ExpectLog``, whose filter
swallows them before they reach the root logger's handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

# Real database servers, started once per session by whichever test needs
# them first (tests/_servers): registered here so every directory shares one.
from tests._servers.mariadb import mariadb_server  # noqa: F401
from tests._servers.postgresql import postgresql_server  # noqa: F401


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The access log writes 5xx answers at ERROR, as Tornado does; a test
        # that provokes a 5xx asserts on the response itself.
        if record.name != "squall.access":
            self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_error_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    collector = _ErrorCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield
    finally:
        root.removeHandler(collector)
    if collector.records and not request.node.get_closest_marker("allow_error_logs"):
        lines = "\n".join(f"{r.name}: {r.getMessage()}" for r in collector.records[:5])
        pytest.fail(f"unexpected ERROR log lines:\n{lines}", pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_error_logs: the test may log errors freely")
    config.addinivalue_line("markers", "slow: takes seconds; skipped in the debug-mode pass")
