"""``ExpectLog``: assert that a log line is written, and keep it quiet."""

from __future__ import annotations

import logging
import re
from types import TracebackType


class ExpectLog(logging.Filter):
    """Context manager that swallows log records matching a pattern.

    Inside ``with ExpectLog(logger, regex):`` records of ``logger`` whose
    message matches ``regex`` from its start are counted and not emitted.
    On exit, if ``required`` (the default) and nothing matched, it raises:
    the test expected an error that never happened. With ``level`` set, only
    records at that level match.
    """

    def __init__(
        self,
        logger: logging.Logger | str,
        regex: str,
        required: bool = True,
        level: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        self.logger = logger
        self.regex = re.compile(regex)
        self.required = required
        self.level = level
        self.matched = False
        self.logged_stack = False
        # How many matching records were swallowed, by level number.
        self.counts: dict[int, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            self.logged_stack = True
        if self.level is not None and record.levelno != self.level:
            return True
        if self.regex.match(record.getMessage()):
            self.matched = True
            self.counts[record.levelno] = self.counts.get(record.levelno, 0) + 1
            return False
        return True

    def __enter__(self) -> ExpectLog:
        self.logger.addFilter(self)
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only a block that finished normally is held to the expectation.
        missed = typ is None and self.required and not self.matched
        self.logger.removeFilter(self)
        if missed:
            raise Exception(f"did not get expected log message {self.regex.pattern!r}")
