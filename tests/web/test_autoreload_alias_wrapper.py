"""``python -m tornado.autoreload`` through the alias: the wrapper registers
itself under the name it was run as, and an application's own reload
restarts it with the wrapper still around it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WORKTREE = Path(__file__).resolve().parents[2]

# Bounds a child that hangs instead of exiting (a failure, not a timing).
CHILD_TIMEOUT = 60

APP_MAIN = """\
import os, sys
out = os.environ["WRAPPER_TEST_OUT"]
wrapped = "tornado.autoreload" in sys.modules
import tornado.autoreload
import squall.autoreload
same = sys.modules["tornado.autoreload"] is squall.autoreload
with open(out, "a") as f:
    f.write(f"run wrapped={wrapped} same={same}\\n")
if "WRAPPER_TEST_RELOADED" not in os.environ:
    os.environ["WRAPPER_TEST_RELOADED"] = "1"
    tornado.autoreload._reload()  # the application's own reload
else:
    os._exit(0)
"""


def run_wrapper(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    package = tmp_path / "wrappedapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(APP_MAIN)
    out = tmp_path / "runs.txt"
    env = {
        **os.environ,
        "PYTHONPATH": f"{WORKTREE}{os.pathsep}{tmp_path}",
        "SQUALL_AS_TORNADO": "1",
        "WRAPPER_TEST_OUT": str(out),
    }
    env.pop("WRAPPER_TEST_RELOADED", None)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    return result, out


def test_reload_keeps_the_wrapper_under_tornados_name(tmp_path: Path) -> None:
    result, out = run_wrapper(tmp_path, "-m", "tornado.autoreload", "-m", "wrappedapp")
    assert result.returncode == 0, result.stderr
    # Both runs start under the wrapper, which is already imported as
    # tornado.autoreload (the same module object as squall.autoreload).
    assert out.read_text().splitlines() == ["run wrapped=True same=True"] * 2


def test_wrapper_under_its_own_name_registers_only_that(tmp_path: Path) -> None:
    result, out = run_wrapper(tmp_path, "-m", "squall.autoreload", "-m", "wrappedapp")
    assert result.returncode == 0, result.stderr
    # The program imports tornado.autoreload itself: the same module.
    assert out.read_text().splitlines() == ["run wrapped=False same=True"] * 2


def test_wrapper_with_a_missing_module_fails_cleanly(tmp_path: Path) -> None:
    result, out = run_wrapper(tmp_path, "-m", "tornado.autoreload", "-m", "no_such_module_here")
    assert result.returncode == 1
    assert "no module named 'no_such_module_here'" in result.stderr
    assert not out.exists()
