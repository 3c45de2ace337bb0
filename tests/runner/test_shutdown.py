"""Graceful shutdown under the runner: SIGTERM/SIGINT, the timeout, a second signal."""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .conftest import free_port, get, wait_for_port


class Request(threading.Thread):
    """A GET in a thread: its status and body, or the exception it raised."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.result: tuple[int, str] | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = get(self.port, self.path, timeout=30)
        except BaseException as exc:
            self.error = exc


def wait_until_in_flight(port: int) -> None:
    # The request thread needs a moment to connect and send; a request the
    # server has read is in flight. There is no public hook to observe that
    # from outside, so give it a short, generous pause.
    time.sleep(0.5)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_slow_request_completes_then_the_runner_exits_0(start_runner, signum) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port)])
    wait_for_port(port, runner)
    slow = Request(port, "/slow?seconds=1.5")
    wait_until_in_flight(port)
    runner.signal(signum)
    time.sleep(0.3)
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    slow.join(30)
    assert slow.error is None and slow.result == (200, "slow done")
    assert runner.wait() == 0, runner.output
    assert "shutting down" in runner.output


def test_idle_keep_alive_connections_are_closed(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port)])
    wait_for_port(port, runner)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"hello"
    runner.signal(signal.SIGTERM)
    # The idle connection does not hold the shutdown up to the timeout.
    assert runner.wait(timeout=10) == 0
    conn.close()


def test_websocket_clients_get_1001(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port)])
    wait_for_port(port, runner)
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        ws.send("ping")
        assert ws.recv(timeout=10) == "ping"
        runner.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=10)
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    assert runner.wait(timeout=10) == 0


def test_a_long_poll_ends_and_does_not_wait_for_the_timeout(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port), "--graceful-timeout", "20"])
    wait_for_port(port, runner)
    poll = Request(port, "/poll")
    wait_until_in_flight(port)
    started = time.monotonic()
    runner.signal(signal.SIGTERM)
    poll.join(15)
    assert not poll.is_alive()
    assert poll.result is None  # it ended without an answer: the client polls again elsewhere
    assert runner.wait(timeout=15) == 0
    assert time.monotonic() - started < 15


def test_the_graceful_timeout_cuts_a_request_that_never_ends(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port), "--graceful-timeout", "1"])
    wait_for_port(port, runner)
    forever = Request(port, "/forever")
    wait_until_in_flight(port)
    runner.signal(signal.SIGTERM)
    assert runner.wait(timeout=15) == 0
    forever.join(10)
    assert forever.result is None and forever.error is not None
    assert "graceful timeout" in runner.output


def test_a_second_signal_exits_at_once(start_runner) -> None:
    port = free_port()
    runner = start_runner(["tests.runner.app:app", "--port", str(port), "--graceful-timeout", "60"])
    wait_for_port(port, runner)
    forever = Request(port, "/forever")
    wait_until_in_flight(port)
    runner.signal(signal.SIGTERM)
    time.sleep(0.3)
    runner.signal(signal.SIGINT)
    assert runner.wait(timeout=10) == 1
    forever.join(10)
