"""The bounded thread pool WSGI applications run on.

A WSGI application blocks, so it never runs on the event loop. Requests
are admitted while fewer than ``max_workers + max_queued`` are running or
waiting; past that the container answers 503 at once, instead of letting
a queue (and the clients' wait) grow without limit. An admitted request
is always run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

__all__ = ["DEFAULT_MAX_QUEUED", "DEFAULT_MAX_WORKERS", "WorkerPool"]

# Threads running WSGI applications: the standard library's
# ThreadPoolExecutor default, min(32, cpus + 4) (Python 3.8+), which suits
# applications that mostly wait on databases and other services.
DEFAULT_MAX_WORKERS = min(32, (os.cpu_count() or 1) + 4)

# Requests that may wait for a free thread before clients get 503. Between
# asyncio's default listen backlog (100) and nginx's (511): a hundred
# concurrent clients queue rather than fail, while the body bytes queued
# requests may buffer stay bounded (256 x wsgi.input's 256 KiB).
DEFAULT_MAX_QUEUED = 256


class WorkerPool:
    """Runs calls on threads, admitting at most ``capacity`` at a time.

    With an executor of the caller's, its own size is unknown: only
    ``max_queued`` (when given) bounds the calls in flight.
    """

    def __init__(
        self,
        executor: Executor | None = None,
        max_workers: int | None = None,
        max_queued: int | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        if max_queued is not None and max_queued < 0:
            raise ValueError(f"max_queued must not be negative, not {max_queued}")
        self._owned = executor is None
        self.capacity: int | None
        if executor is None:
            workers = max_workers or DEFAULT_MAX_WORKERS
            queued = max_queued if max_queued is not None else DEFAULT_MAX_QUEUED
            self.capacity = workers + queued
            self._executor: Executor | None = None
            self._workers = workers
        else:
            self.capacity = None if max_queued is None else max(1, max_queued)
            self._executor = executor
            self._workers = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Calls admitted and not yet finished (running or queued)."""
        return self._in_flight

    def _get_executor(self) -> Executor:
        if self._executor is None:
            # Started on first use, so a container that is never called
            # starts no threads.
            self._executor = ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="squall-wsgi"
            )
        return self._executor

    def try_submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` on a thread; False if the pool is full (or closed)."""
        with self._lock:
            if self._closed:
                return False
            if self.capacity is not None and self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
        try:
            self._get_executor().submit(self._run, fn, args)
        except RuntimeError:  # the executor was shut down under us
            with self._lock:
                self._in_flight -= 1
            return False
        return True

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self, wait: bool = True) -> None:
        """Admit nothing more; stop our own threads once admitted calls end."""
        with self._lock:
            self._closed = True
        if self._owned and self._executor is not None:
            self._executor.shutdown(wait=wait)
