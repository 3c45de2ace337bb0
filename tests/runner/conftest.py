"""Starting ``python -m squall`` in a subprocess and talking to it."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.testing import bind_unused_port

ROOT = Path(__file__).resolve().parents[2]

# How long a runner may take to start serving, or to exit once asked.
START_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0


def free_port() -> int:
    sock, port = bind_unused_port()
    sock.close()
    return port


class Runner:
    """One ``python -m squall`` process."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, **popen: object) -> None:
        env = dict(env or {})
        paths = [str(ROOT), env.pop("PYTHONPATH", ""), os.environ.get("PYTHONPATH", "")]
        full_env = dict(os.environ)
        full_env.pop("SQUALL_AS_TORNADO", None)
        full_env.update(env)
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "squall", *args],
            cwd=popen.pop("cwd", ROOT),
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **popen,  # type: ignore[call-overload]
        )
        # Read the output as it comes: a pipe nobody reads fills up and
        # blocks the server's logging (access lines under load).
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            raise AssertionError(f"runner did not exit; output:\n{self.output}") from None
        self._reader.join(5)
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.wait(EXIT_TIMEOUT)
            except AssertionError:
                pass
        else:
            self.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def wait_for_port(port: int, runner: Runner | None = None, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if runner is not None and runner.proc.poll() is not None:
            runner.wait()
            raise AssertionError(f"runner exited early:\n{runner.output}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {host}:{port}")


def get(
    port: int, path: str = "/", headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def start_runner() -> Iterator[object]:
    """``start_runner(args, env=None)`` -> a Runner; all are stopped after the test."""
    runners: list[Runner] = []

    def start(args: list[str], env: dict[str, str] | None = None, **popen: object) -> Runner:
        runner = Runner(args, env, **popen)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.stop()
