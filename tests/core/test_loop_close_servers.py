"""IOLoop.close() closes listening servers their owner never stopped.

uvloop warns (ResourceWarning) for each server still open when its loop
closes; with warnings turned into errors, as test runners do, that warning
used to leave ``loop.close()`` spinning forever. The hang is checked in a
child interpreter so that a regression fails here rather than hanging.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap

from squall.ioloop import IOLoop
from squall.netutil import bind_sockets
from squall.tcpserver import TCPServer

# A child that hangs is killed after this long (it normally takes well
# under a second).
CHILD_TIMEOUT = 30


def _serve_and_close_loop() -> int:
    loop = IOLoop(make_current=False)
    [sock] = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    port: int = sock.getsockname()[1]
    server = TCPServer()

    async def start() -> None:
        server.add_sockets([sock])
        for _ in range(3):  # let the listener task create the loop's server
            await asyncio.sleep(0)

    loop.run_sync(start)
    loop.close(all_fds=True)  # the server was never stopped
    return port


def test_unstopped_server_is_closed_with_its_loop() -> None:
    program = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("error")
        from tests.core.test_loop_close_servers import _serve_and_close_loop
        print(_serve_and_close_loop())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr
    port = int(done.stdout)
    probe = socket.socket()
    try:
        probe.settimeout(5)
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
    finally:
        probe.close()
