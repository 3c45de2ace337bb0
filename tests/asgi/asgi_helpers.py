"""ASGI servers (uvicorn, hypercorn, granian) in subprocesses, for the tests.

Servers import their application from this directory (``squall_app:app``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# How long a server subprocess may take to listen, and to stop.
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_argv(server: str, target: str, port: int) -> list[str]:
    python = sys.executable
    if server == "uvicorn":
        return [
            python,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--lifespan",
            "on",
        ]
    if server == "hypercorn":
        return [
            python,
            "-m",
            "hypercorn",
            target,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]
    if server == "granian":
        return [
            python,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            target,
        ]
    if server == "gunicorn":
        # gunicorn's process manager with uvicorn's ASGI worker, one process.
        return [
            python,
            "-m",
            "gunicorn",
            target,
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]
    raise ValueError(server)


@dataclass
class RunningServer:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    events_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> list[str]:
        """Stop the server the way an operator does (SIGTERM, then SIGINT);
        return the events its shutdown hook wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.events_file.exists():
            return []
        return list(json.loads(self.events_file.read_text()))


@contextlib.contextmanager
def run_server(server: str, target: str, tmp_path: Path) -> Iterator[RunningServer]:
    needs = [server, "uvicorn_worker"] if server == "gunicorn" else [server]
    for package in needs:
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed")
    port = free_port()
    events_file = tmp_path / f"{server}-events.json"
    pythonpath = os.pathsep.join((str(ROOT), str(HERE)))
    env = dict(os.environ, PYTHONPATH=pythonpath, SQUALL_ASGI_EVENTS_FILE=str(events_file))
    env.pop("SQUALL_AS_TORNADO", None)
    process = subprocess.Popen(
        server_argv(server, target, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    running = RunningServer(server, port, process, events_file)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server} exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server} did not listen in {STARTUP_TIMEOUT}s") from e
                time.sleep(0.05)
        yield running
    finally:
        running.stop()


SERVERS = ["uvicorn", "hypercorn", "granian", "gunicorn"]
