"""The Autobahn test suite's quick subset, run by ``kosoku``, both ways.

The full suite (517 cases, minutes) is a documented command instead; see
docs/websocket.md. 9.* (performance), 12.* and 13.* (compression
variants) are the slow groups left out here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from autobahn_server import make_app

from squall.httpserver import HTTPServer
from squall.testing import bind_unused_port

KOSOKU = shutil.which("kosoku") or str(Path(sys.executable).with_name("kosoku"))
QUICK = ["-x", "9.*", "-x", "12.*", "-x", "13.*"]
HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(not os.path.exists(KOSOKU), reason="kosoku is not installed")


def summary(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return "\n".join(lines[-40:])


@pytest.mark.gen_test(timeout=300)
async def test_quick_suite_against_squall_server(io_loop, tmp_path):
    server = HTTPServer(make_app())
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    process = await io_loop.asyncio_loop.run_in_executor(
        None,
        lambda: subprocess.run(
            [KOSOKU, *QUICK, "-o", str(tmp_path), f"ws://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=280,
        ),
    )
    server.stop()
    await server.close_all_connections()
    output = process.stdout + process.stderr
    assert process.returncode == 0, summary(output)
    assert "247 cases passed" in output, summary(output)


def test_quick_suite_against_squall_client(tmp_path):
    sock, port = bind_unused_port()
    sock.close()
    fuzzer = subprocess.Popen(
        [KOSOKU, "-m", "fuzzingserver", *QUICK, "-o", str(tmp_path), f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert fuzzer.stdout is not None
        # The first line says it is listening.
        assert "listening" in fuzzer.stdout.readline()
        driver = subprocess.run(
            [sys.executable, str(HERE / "autobahn_client.py"), *QUICK, f"ws://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=280,
        )
        assert driver.returncode == 0, driver.stderr[-3000:]
        output, _ = fuzzer.communicate(timeout=30)
    finally:
        if fuzzer.poll() is None:
            fuzzer.kill()
            fuzzer.communicate()
    assert fuzzer.returncode == 0, summary(output)
    assert "247 cases passed" in output, summary(output)
