"""The runner serves over TCP, a Unix socket, an inherited fd and systemd sockets."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from squall.testing import bind_unused_port

from .conftest import ROOT, START_TIMEOUT, free_port, get, wait_for_port


def test_serves_an_application_over_tcp(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port)])
    wait_for_port(port, runner)
    assert get(port, "/") == (200, "hello")
    assert get(port, "/nope")[0] == 404


def test_environment_configures_the_port(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app"], env={"SQUALL_PORT": str(port)})
    wait_for_port(port, runner)
    assert get(port, "/") == (200, "hello")


def test_serves_a_plain_callable_and_a_factory(start_runner) -> None:
    port1, port2 = free_port(), free_port()
    callback = start_runner(["tests.runner.app:plain_callback", "--port", str(port1)])
    factory = start_runner(["tests.runner.app:make_app", "--factory", "--port", str(port2)])
    wait_for_port(port1, callback)
    wait_for_port(port2, factory)
    assert get(port1, "/anything") == (200, "callback")
    assert get(port2, "/") == (200, "hello")


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        (
            "tests.runner.no_such_module:app",
            [],
            "cannot import module 'tests.runner.no_such_module'",
        ),
        ("tests.runner.app:missing", [], "has no attribute 'missing'"),
        ("tests.runner.app:not_servable", [], "is a int, not an Application"),
        ("tests.runner.app:make_app", [], "did you mean --factory?"),
        ("tests.runner.app:Hello", [], "is a type"),
    ],
)
def test_a_bad_target_is_one_line_and_exit_1(start_runner, target, extra, message) -> None:
    runner = start_runner([target, "--port", str(free_port()), *extra])
    assert runner.wait() == 1
    assert message in runner.output
    assert "Traceback" not in runner.output


def test_a_port_in_use_is_one_line_and_exit_1(start_runner) -> None:
    sock, port = bind_unused_port()
    try:
        runner = start_runner(["tests.runner.app:app", "--port", str(port)])
        assert runner.wait() == 1
        assert f"cannot listen on 127.0.0.1:{port}" in runner.output
        assert "Traceback" not in runner.output
    finally:
        sock.close()


def test_serves_a_unix_socket(start_runner, tmp_path: Path) -> None:
    path = tmp_path / "squall.sock"
    runner = start_runner(["tests.runner.app:app", "--uds", str(path)])
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists() and time.monotonic() < deadline and runner.proc.poll() is None:
        time.sleep(0.05)
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(str(path))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"hello")


def test_serves_an_inherited_fd(start_runner) -> None:
    listener, port = bind_unused_port()
    try:
        fd = listener.fileno()
        runner = start_runner(["tests.runner.app:app", "--fd", str(fd)], pass_fds=(fd,))
        wait_for_port(port, runner)
        assert get(port, "/") == (200, "hello")
    finally:
        listener.close()


def test_an_fd_that_is_not_a_listening_socket_is_refused(start_runner, tmp_path: Path) -> None:
    with open(tmp_path / "file", "w") as f:
        runner = start_runner(
            ["tests.runner.app:app", "--fd", str(f.fileno())], pass_fds=(f.fileno(),)
        )
        assert runner.wait() == 1
    assert "is not a socket" in runner.output


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd not installed")
def test_systemd_socket_activation(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            "systemd-socket-activate",
            "-l",
            f"127.0.0.1:{port}",
            sys.executable,
            "-m",
            "squall",
            "tests.runner.app:app",
            "--port",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # systemd-socket-activate listens first and starts squall on the
        # first connection; squall must serve that socket, not port 1.
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_TIMEOUT)
            try:
                conn.request("GET", "/pid")
                break
            except ConnectionRefusedError:
                conn.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        response = conn.getresponse()
        assert response.status == 200
        assert int(response.read()) == proc.pid  # systemd-socket-activate execs squall
        conn.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "systemd" not in out or "error" not in out.lower(), out
