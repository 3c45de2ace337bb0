"""Real database and cache servers for the tests, started from the Debian binaries.

Each module offers a session-scoped pytest fixture that starts its server on
127.0.0.1 (a free port, a temporary data directory), yields a handle with the
URL and a ``restart()``, and stops it at the end. The fixture skips the test
when the binaries are absent locally; CI installs them (see .ci/run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# Initialising and starting a server on a busy 2-core machine.
STARTUP_DEADLINE = 60.0
STOP_DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_root() -> bool:
    return os.geteuid() == 0


def data_dir(prefix: str, owner: str | None = None) -> Path:
    """A fresh temporary directory, owned by ``owner`` when we are root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if owner is not None and is_root():
        record = pwd.getpwnam(owner)
        os.chown(path, record.pw_uid, record.pw_gid)
    return path


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def wait_until_ready(proc: subprocess.Popen[Any], ready: Any, log: Path) -> None:
    """Poll ``ready()`` until it is true; fail with the server's log if it dies."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}):\n{tail(log)}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args[0]} not ready in {STARTUP_DEADLINE} s:\n{tail(log)}")
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen[Any], signum: int) -> None:
    if proc.poll() is None:
        proc.send_signal(signum)
        try:
            proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
