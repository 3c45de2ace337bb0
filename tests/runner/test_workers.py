"""--workers: restarts, startup failures, SIGHUP rolling replacement; --reload."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from .conftest import free_port, get, wait_for_port

pytestmark = pytest.mark.slow


def pids_seen(port: int, tries: int = 40) -> set[int]:
    """Worker pids answering on ``port`` (each request on a new connection)."""
    return {int(get(port, "/pid")[1]) for _ in range(tries)}


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_a_killed_worker_is_replaced(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port), "--workers", "2"])
    wait_for_port(port, runner)
    victim = int(get(port, "/pid")[1])
    os.kill(victim, signal.SIGKILL)

    # The service keeps answering throughout, and a new worker appears.
    def replaced() -> bool:
        status, _ = get(port, "/pid")
        assert status == 200
        return len(pids_seen(port, 10) - {victim}) == 2

    wait_for(replaced)
    runner.signal(signal.SIGTERM)
    assert runner.wait() == 0, runner.output
    assert "died (killed by SIGKILL)" in runner.output


def test_workers_that_cannot_start_stop_the_runner(start_runner, tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('no database')\n")
    runner = start_runner(
        ["broken_app:app", "--port", str(free_port()), "--workers", "2"],
        env={"PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
    )
    assert runner.wait() == 1
    assert "failed to start" in runner.output
    assert runner.output.count("failed to start") <= 2  # no restart loop


def test_sighup_replaces_workers_without_a_failed_request(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port), "--workers", "2"])
    wait_for_port(port, runner)
    before = pids_seen(port)
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                status, _ = get(port, "/")
                assert status == 200
                answered += 1
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    runner.signal(signal.SIGHUP)
    wait_for(lambda: _replaced(port, before))
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert answered > 0
    assert pids_seen(port).isdisjoint(before)
    runner.signal(signal.SIGTERM)
    assert runner.wait() == 0, runner.output


def _replaced(port: int, before: set[int]) -> bool:
    return pids_seen(port, 10).isdisjoint(before)


def test_reload_restarts_on_a_source_change(start_runner, tmp_path: Path) -> None:
    source = tmp_path / "reloadable.py"
    source.write_text(
        "from squall import web\n"
        "class H(web.RequestHandler):\n"
        "    def get(self):\n"
        "        self.write('one')\n"
        "app = web.Application([('/', H)])\n"
    )
    port = free_port()
    runner = start_runner(
        ["reloadable:app", "--port", str(port), "--reload", "--reload-dir", str(tmp_path)],
        cwd=tmp_path,
    )
    wait_for_port(port, runner)
    assert get(port, "/") == (200, "one")
    time.sleep(1.1)  # mtime granularity on some filesystems
    source.write_text(source.read_text().replace("'one'", "'two'"))
    wait_for(lambda: get(port, "/") == (200, "two"))
    # A change that breaks the module keeps the running worker.
    source.write_text("syntax error here\n")
    time.sleep(2)
    assert get(port, "/") == (200, "two")
    runner.signal(signal.SIGTERM)
    assert runner.wait() == 0, runner.output
    assert "failed to start" in runner.output
