"""The alias and ``tornado/`` namespace portions on sys.path (Tornado's test tree, say)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 60.0


def run_in(cwd: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``cwd`` with the alias switched on by the environment."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    env["SQUALL_AS_TORNADO"] = "1"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT,
        check=False,
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_portion_in_the_working_directory_adds_modules(tmp_path: Path) -> None:
    # Like Tornado's extracted tests: tornado/test/ with no tornado/__init__.py.
    write(tmp_path / "tornado" / "test" / "__init__.py", "")
    write(
        tmp_path / "tornado" / "test" / "helper.py",
        """
        from tornado.ioloop import IOLoop
        from tornado.netutil import ThreadedResolver
        RESULT = IOLoop.current().run_sync(lambda: ThreadedResolver().resolve("localhost", 80))
        """,
    )
    # A module of squall's name in the portion does not shadow squall's.
    write(tmp_path / "tornado" / "web.py", "raise AssertionError('shadowed')")
    result = run_in(
        tmp_path,
        """
        import tornado.test.helper as helper
        import tornado.web
        print(tornado.web.__name__, bool(helper.RESULT))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["squall.web", "True"]


def test_regular_package_named_tornado_is_not_merged(tmp_path: Path) -> None:
    # A directory with __init__.py is a package of its own (a real Tornado):
    # the alias never takes modules from it.
    write(tmp_path / "tornado" / "__init__.py", "")
    write(tmp_path / "tornado" / "extra.py", "VALUE = 1")
    result = run_in(
        tmp_path,
        """
        import tornado
        try:
            import tornado.extra
        except ModuleNotFoundError:
            print("not found")
        print(type(tornado).__name__)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["not found", "_TornadoPackage"]


def test_no_portion_means_no_module(tmp_path: Path) -> None:
    result = run_in(
        tmp_path,
        """
        try:
            import tornado.test
        except ModuleNotFoundError as e:
            print(e.name)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tornado.test"


def test_entries_added_by_hand_come_first(tmp_path: Path) -> None:
    write(tmp_path / "by_hand" / "tornado" / "extra.py", "WHERE = 'by hand'")
    write(tmp_path / "tornado" / "extra.py", "WHERE = 'cwd'")
    result = run_in(
        tmp_path,
        f"""
        import tornado
        tornado.__path__.append({str(tmp_path / "by_hand" / "tornado")!r})
        import tornado.extra
        print(tornado.extra.WHERE)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "by hand"
