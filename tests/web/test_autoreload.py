"""squall.autoreload: change detection and restart commands in-process (the
exec replaced by a recorder), and real reloads of child processes.

Child processes append a line per run ("run <pid> <argv> ...") to a file the
test reads; each waits at most CHILD_DEADLINE seconds and is killed at the end.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import subprocess
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from squall import autoreload, gen, process
from squall.ioloop import IOLoop
from squall.log import gen_log
from squall.testing import ExpectLog

# Long enough for a child interpreter to start twice on a slow machine.
CHILD_DEADLINE = 20.0


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own copy of the module's process-wide state."""
    monkeypatch.setattr(autoreload, "_watched_files", set())
    monkeypatch.setattr(autoreload, "_reload_hooks", [])
    monkeypatch.setattr(autoreload, "_io_loops", weakref.WeakKeyDictionary())
    monkeypatch.setattr(autoreload, "_reload_attempted", False)
    monkeypatch.setattr(autoreload, "_autoreload_is_main", False)
    monkeypatch.setattr(autoreload, "_original_argv", None)
    monkeypatch.setattr(autoreload, "_original_spec", None)


def bump_mtime(path: Path | str, seconds: float = 10.0) -> None:
    """Move ``path``'s modification time, whatever the clock's granularity."""
    mtime = os.stat(path).st_mtime + seconds
    os.utime(path, (mtime, mtime))


# -- detecting changes ------------------------------------------------------------


def test_file_changed_records_first_then_compares(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    times: dict[str, float] = {}
    assert autoreload._file_changed(times, str(path)) is False
    assert times == {str(path): os.stat(path).st_mtime}
    assert autoreload._file_changed(times, str(path)) is False
    bump_mtime(path)
    assert autoreload._file_changed(times, str(path)) is True
    # The new time is recorded: one change is reported once.
    assert autoreload._file_changed(times, str(path)) is False


def test_missing_file_is_skipped_until_it_exists(tmp_path: Path) -> None:
    path = tmp_path / "later.txt"
    times: dict[str, float] = {}
    assert autoreload._file_changed(times, str(path)) is False
    assert times == {}
    path.write_text("now")
    assert autoreload._file_changed(times, str(path)) is False  # first sighting
    bump_mtime(path)
    assert autoreload._file_changed(times, str(path)) is True


class Recorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_watched_file_change_triggers_reload(tmp_path: Path) -> None:
    watched = tmp_path / "settings.conf"
    watched.write_text("a=1")
    autoreload.watch(str(watched))
    times: dict[str, float] = {}
    reload = Recorder()
    autoreload._reload_on_update(times, reload)
    assert reload.calls == 0
    assert str(watched) in times
    bump_mtime(watched)
    with ExpectLog(gen_log, f"{watched} modified; restarting server"):
        autoreload._reload_on_update(times, reload)
    assert reload.calls == 1


def test_loaded_module_change_triggers_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "squall_test_loaded_mod.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = types.ModuleType("squall_test_loaded_mod")
    module.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "squall_test_loaded_mod", module)
    times: dict[str, float] = {}
    reload = Recorder()
    autoreload._reload_on_update(times, reload)
    bump_mtime(source)
    with ExpectLog(gen_log, f"{source} modified"):
        autoreload._reload_on_update(times, reload)
    assert reload.calls == 1


def test_compiled_module_is_checked_through_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "compiled_only.py"
    source.write_text("")
    module = types.ModuleType("squall_test_compiled_only")
    module.__file__ = str(source) + "c"  # a sourceless-style .pyc path
    monkeypatch.setitem(sys.modules, "squall_test_compiled_only", module)
    # Entries that are not modules, or have no file, are skipped.
    monkeypatch.setitem(sys.modules, "squall_test_not_a_module", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "squall_test_no_file", types.ModuleType("x"))
    files = list(autoreload._files_to_check())
    assert str(source) in files
    assert str(source) + "c" not in files


def test_no_checks_after_a_reload_was_attempted(tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.write_text("")
    autoreload.watch(str(watched))
    times: dict[str, float] = {}
    autoreload._reload_on_update(times, Recorder())
    autoreload._reload_attempted = True
    bump_mtime(watched)
    reload = Recorder()
    autoreload._reload_on_update(times, reload)
    assert reload.calls == 0


def test_no_checks_in_forked_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watched = tmp_path / "w"
    watched.write_text("")
    autoreload.watch(str(watched))
    monkeypatch.setattr(process, "task_id", lambda: 2)
    times: dict[str, float] = {}
    reload = Recorder()
    autoreload._reload_on_update(times, reload)
    assert times == {}  # nothing is even looked at
    bump_mtime(watched)
    autoreload._reload_on_update(times, reload)
    assert reload.calls == 0


# -- start() and wait() on a loop ----------------------------------------------------------


async def test_start_polls_on_the_current_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "template.html"
    watched.write_text("<p>")
    autoreload.watch(str(watched))
    reload = Recorder()
    monkeypatch.setattr(autoreload, "_reload", reload)
    autoreload.start(check_time=20)
    autoreload.start(check_time=20)  # once per loop: this one does nothing
    # start() recorded the times before returning, so this edit counts.
    bump_mtime(watched)
    with ExpectLog(gen_log, f"{watched} modified"):
        for _ in range(500):
            if reload.calls:
                break
            await gen.sleep(0.01)
    assert reload.calls == 1
    # A second checker on the same loop would report the change again.
    await gen.sleep(0.1)
    assert reload.calls == 1


async def test_start_on_a_second_loop_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    class OtherLoop:
        pass

    other = OtherLoop()
    monkeypatch.setattr(autoreload, "_io_loops", weakref.WeakKeyDictionary({other: True}))
    with ExpectLog(gen_log, "squall.autoreload started more than once in the same process"):
        autoreload.start(check_time=1000)


def test_wait_runs_its_own_loop_until_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "w.cfg"
    watched.write_text("")
    autoreload.watch(str(watched))
    monkeypatch.setattr(autoreload, "DEFAULT_CHECK_TIME", 20)
    reloaded = threading.Event()

    def fake_reload() -> None:
        reloaded.set()
        IOLoop.current().stop()  # instead of replacing the process

    monkeypatch.setattr(autoreload, "_reload", fake_reload)
    thread = threading.Thread(target=autoreload.wait)
    with ExpectLog(gen_log, f"{watched} modified"):
        thread.start()
        # wait() records the times once its loop runs; keep editing until
        # an edit lands after that.
        deadline = time.monotonic() + 10
        while not reloaded.wait(0.05) and time.monotonic() < deadline:
            bump_mtime(watched)
        thread.join(10)
    assert reloaded.is_set()
    assert not thread.is_alive()


# -- reloading --------------------------------------------------------------------


class ExecRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, path: str, argv: list[str]) -> None:
        self.calls.append((path, list(argv)))


@pytest.fixture
def fake_exec(monkeypatch: pytest.MonkeyPatch) -> ExecRecorder:
    recorder = ExecRecorder()
    monkeypatch.setattr(os, "execv", recorder)
    # Clearing the real interval timer would disarm pytest-timeout's alarm.
    monkeypatch.setattr("signal.setitimer", lambda *args: (0.0, 0.0))
    return recorder


def test_reload_runs_hooks_in_order_then_execs(
    fake_exec: ExecRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    autoreload.add_reload_hook(lambda: events.append("first"))

    def broken() -> None:
        events.append("broken")
        raise RuntimeError("hook bug")

    autoreload.add_reload_hook(broken)
    autoreload.add_reload_hook(lambda: events.append("last"))
    monkeypatch.setattr(autoreload, "_restart_command", lambda: ["/bin/python", "app.py"])
    with ExpectLog(gen_log, "Exception in reload hook"):
        autoreload._reload()
    assert events == ["first", "broken", "last"]
    assert fake_exec.calls == [("/bin/python", ["/bin/python", "app.py"])]
    assert autoreload._reload_attempted is True


def test_reload_execs_the_current_program(
    fake_exec: ExecRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    main_module = types.ModuleType("__main__")
    main_module.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main_module)
    monkeypatch.setattr(sys, "argv", ["app.py", "--port=1"])
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-X", "dev", "app.py", "--port=1"])
    autoreload._reload()
    assert fake_exec.calls == [
        (sys.executable, [sys.executable, "-X", "dev", "app.py", "--port=1"])
    ]


def test_restart_command_for_a_module_run(monkeypatch: pytest.MonkeyPatch) -> None:
    main_module = types.ModuleType("__main__")
    main_module.__spec__ = importlib.machinery.ModuleSpec("myapp.server", None)
    monkeypatch.setitem(sys.modules, "__main__", main_module)
    monkeypatch.setattr(sys, "argv", ["/src/myapp/server.py", "a"])
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-u", "-m", "myapp.server", "a"])
    assert autoreload._restart_command() == [sys.executable, "-u", "-m", "myapp.server", "a"]


def test_restart_command_under_the_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() saved the wrapper's command line; the script since changed argv.
    monkeypatch.setattr(autoreload, "_autoreload_is_main", True)
    monkeypatch.setattr(
        autoreload, "_original_argv", ["/x/squall/autoreload.py", "--until-success", "s.py", "a"]
    )
    monkeypatch.setattr(
        autoreload, "_original_spec", importlib.machinery.ModuleSpec("squall.autoreload", None)
    )
    monkeypatch.setattr(sys, "argv", ["s.py", "a"])
    monkeypatch.setattr(
        sys,
        "orig_argv",
        ["py", "-W", "error", "-m", "squall.autoreload", "--until-success", "s.py", "a"],
    )
    assert autoreload._restart_command() == [
        sys.executable,
        *["-W", "error", "-m", "squall.autoreload", "--until-success", "s.py", "a"],
    ]


@pytest.mark.parametrize(
    ("orig_argv", "argv", "module", "expected"),
    [
        # python [options] script args
        (["py", "app.py"], ["app.py"], None, ["EXE", "app.py"]),
        (
            ["py", "-X", "dev", "app.py", "a"],
            ["app.py", "a"],
            None,
            ["EXE", "-X", "dev", "app.py", "a"],
        ),
        # python [options] -m module args
        (
            ["py", "-m", "pkg.app", "a"],
            ["/p/pkg/app.py", "a"],
            "pkg.app",
            ["EXE", "-m", "pkg.app", "a"],
        ),
        (["py", "-O", "-mpkg.app"], ["/p/pkg/app.py"], "pkg.app", ["EXE", "-O", "-m", "pkg.app"]),
        # A directory or zip with __main__.py runs again as a path.
        (["py", "-u", "appdir"], ["appdir"], "__main__", ["EXE", "-u", "appdir"]),
        # sys.argv was rewritten by the program: keep its argv, drop options.
        (["py", "-X", "dev", "app.py", "a"], ["app.py", "b"], None, ["EXE", "app.py", "b"]),
        (["py", "-X", "dev", "other.py"], ["app.py"], None, ["EXE", "app.py"]),
        (["py", "-X", "dev", "-m", "b"], ["/p/a.py"], "a", ["EXE", "-m", "a"]),
        # Nothing to go on (an embedded interpreter).
        ([], ["app.py", "x"], None, ["EXE", "app.py", "x"]),
    ],
)
def test_build_command(
    orig_argv: list[str], argv: list[str], module: str | None, expected: list[str]
) -> None:
    assert autoreload._build_command("EXE", orig_argv, argv, module) == expected


# -- main() in this process ---------------------------------------------------------------


@pytest.fixture
def no_wait(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(autoreload, "wait", recorder)
    return recorder


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["/x/squall/autoreload.py", *args])
    autoreload.main()


REPORTING_SCRIPT = """\
import sys
with open({out!r}, "a") as f:
    f.write(repr((__name__, sys.argv, sys.path[0])) + "\\n")
"""


def write_script(path: Path, out: Path, tail: str = "") -> Path:
    path.write_text(REPORTING_SCRIPT.format(out=str(out)) + tail)
    return path


def test_main_runs_a_script_with_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    out = tmp_path / "out.txt"
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script = write_script(scripts / "app.py", out)
    saved_path = list(sys.path)
    with ExpectLog(gen_log, "Script exited normally"):
        run_main(monkeypatch, "--until-success", str(script), "a", "--flag")
    assert out.read_text() == repr(("__main__", [str(script), "a", "--flag"], str(scripts))) + "\n"
    assert no_wait.calls == 0  # succeeded with --until-success
    assert sys.argv == ["/x/squall/autoreload.py", "--until-success", str(script), "a", "--flag"]
    assert sys.path == saved_path
    assert autoreload._autoreload_is_main is True
    assert autoreload._original_argv == sys.argv


def test_main_waits_after_a_normal_exit_and_watches_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    script = write_script(tmp_path / "app.py", tmp_path / "out.txt")
    monkeypatch.chdir(tmp_path)
    with ExpectLog(gen_log, "Script exited normally"):
        run_main(monkeypatch, "app.py")
    assert no_wait.calls == 1
    assert str(script) in autoreload._watched_files


def test_main_sets_up_logging_if_the_program_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    script = write_script(tmp_path / "app.py", tmp_path / "out.txt")
    setup = Recorder()
    monkeypatch.setattr(autoreload, "enable_pretty_logging", setup)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    with ExpectLog(gen_log, "Script exited normally"):
        run_main(monkeypatch, str(script))
    assert setup.calls == 1


def test_main_after_an_exception_watches_the_failing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    helper = tmp_path / "squall_test_helper_mod.py"
    helper.write_text("def fail():\n    raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "squall_test_helper_mod", raising=False)
    script = write_script(
        tmp_path / "app.py", tmp_path / "out.txt", "import squall_test_helper_mod\n"
    )
    script.write_text(script.read_text() + "squall_test_helper_mod.fail()\n")
    with ExpectLog(gen_log, "Script exited with uncaught exception") as log:
        run_main(monkeypatch, "--until-success", str(script))
    assert log.logged_stack
    assert no_wait.calls == 1
    assert {str(script), str(helper)} <= autoreload._watched_files
    sys.modules.pop("squall_test_helper_mod", None)


def test_main_after_a_syntax_error_watches_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def f(:\n")
    with ExpectLog(gen_log, "Script exited with uncaught exception"):
        run_main(monkeypatch, str(script))
    assert str(script) in autoreload._watched_files
    assert no_wait.calls == 1


@pytest.mark.parametrize(
    ("code", "message", "waits"),
    [("3", "Script exited with status 3", 1), ("0", "Script exited with status 0", 0)],
)
def test_main_with_sys_exit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_wait: Recorder,
    code: str,
    message: str,
    waits: int,
) -> None:
    script = write_script(tmp_path / "app.py", tmp_path / "out.txt", f"sys.exit({code})\n")
    with ExpectLog(gen_log, message):
        run_main(monkeypatch, "--until-success", str(script))
    assert no_wait.calls == waits


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for throwaway modules named squall_t_*."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("squall_t_")]:
        del sys.modules[name]


def test_main_runs_a_module(
    module_dir: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    out = module_dir / "out.txt"
    module = write_script(module_dir / "squall_t_mod.py", out)
    with ExpectLog(gen_log, "Script exited normally"):
        run_main(monkeypatch, "-m", "squall_t_mod", "x", "-m", "y")
    name, argv, _ = eval(out.read_text())
    assert (name, argv) == ("__main__", [str(module), "x", "-m", "y"])
    assert str(module) in autoreload._watched_files
    assert no_wait.calls == 1


def test_main_runs_a_package_main(
    module_dir: Path, monkeypatch: pytest.MonkeyPatch, no_wait: Recorder
) -> None:
    package = module_dir / "squall_t_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    main_file = write_script(package / "__main__.py", module_dir / "out.txt")
    with ExpectLog(gen_log, "Script exited normally"):
        run_main(monkeypatch, "-msquall_t_pkg")
    assert str(main_file) in autoreload._watched_files


def test_module_main_file_of_a_package_without_main(module_dir: Path) -> None:
    package = module_dir / "squall_t_nomain"
    package.mkdir()
    (package / "__init__.py").write_text("")
    spec = importlib.util.find_spec("squall_t_nomain")
    assert autoreload._module_main_file("squall_t_nomain", spec) is None
    broken = module_dir / "squall_t_broken"
    broken.mkdir()
    (broken / "__init__.py").write_text("import squall_t_missing_dependency\n")
    spec = importlib.machinery.ModuleSpec("squall_t_broken", None, is_package=True)
    assert autoreload._module_main_file("squall_t_broken", spec) is None


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        ([], 1, "give a script path or -m module"),
        (["--until-success"], 1, "give a script path or -m module"),
        (["--bogus", "app.py"], 2, "no such option: --bogus"),
        (["-m"], 2, "-m needs a module name"),
        (["no_such_script.py"], 1, "no such file: 'no_such_script.py'"),
        (["-m", "squall_no_such_module"], 1, "no module named 'squall_no_such_module'"),
        (["-m", "squall_no_such_package.sub"], 1, "no module named"),
    ],
)
def test_main_command_line_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_wait: Recorder,
    args: list[str],
    status: int,
    message: str,
) -> None:
    with pytest.raises(SystemExit) as e:
        run_main(monkeypatch, *args)
    assert e.value.code == status
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m squall.autoreload")
    assert f"error: {message}" in err
    assert no_wait.calls == 0


def test_main_help(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        run_main(monkeypatch, "--help")
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m squall.autoreload")
    assert "--until-success" in out


# -- real reloads in child processes -------------------------------------------------


class Child:
    def __init__(self, args: list[str], tmp_path: Path, env: dict[str, str] | None) -> None:
        self.stderr_path = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, **(env or {})},
            )

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Child:
        child = Child(list(args), tmp_path, env)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.wait(10)


def wait_for_lines(
    path: Path, count: int, child: Child, touch: Callable[[], None] | None = None
) -> list[str]:
    """Wait until ``path`` holds ``count`` lines, calling ``touch`` meanwhile
    (an edit that must land after the child started watching)."""
    deadline = time.monotonic() + CHILD_DEADLINE
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        if child.proc.poll() is not None:
            break
        if touch is not None:
            touch()
        time.sleep(0.05)
    pytest.fail(f"expected {count} lines in {path.name}, got {lines!r}; stderr:\n{child.stderr()}")


SELF_STARTING = """\
import os, sys
from squall import autoreload
from squall.ioloop import IOLoop

out, watched = sys.argv[1], sys.argv[2]
autoreload.watch(watched)
autoreload.add_reload_hook(lambda: open(out, "a").write("hook\\n"))
autoreload.start(check_time=20)
with open(out, "a") as f:
    f.write(f"run {os.getpid()} {sys.argv[1:]} {sys._xoptions}\\n")
IOLoop.current().start()
"""


@pytest.mark.slow
def test_app_calling_start_reexecs_itself_on_a_watched_file(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    script = tmp_path / "server.py"
    script.write_text(SELF_STARTING)
    out, watched = tmp_path / "runs.txt", tmp_path / "settings.cfg"
    watched.write_text("debug=1")
    child = spawn("-X", "squall_marker=1", str(script), str(out), str(watched), "--extra")
    [first] = wait_for_lines(out, 1, child)
    # The checker recorded the file's time before the line was written.
    bump_mtime(watched)
    lines = wait_for_lines(out, 3, child)
    assert lines[1] == "hook"
    assert lines[2] == first  # same pid (exec), same arguments, same -X option
    assert first == (
        f"run {child.proc.pid} {[str(out), str(watched), '--extra']} {{'squall_marker': '1'}}"
    )


def bumper(path: Path) -> Callable[[], None]:
    def touch() -> None:
        bump_mtime(path, 1)

    return touch


@pytest.mark.slow
def test_wrapper_reruns_an_edited_script_after_it_exits(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    out = tmp_path / "runs.txt"
    script = tmp_path / "job.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'a').write(f'v1 {{sys.argv[1:]}}\\n')\n")
    child = spawn("-m", "squall.autoreload", "job.py", "a", "b")
    assert wait_for_lines(out, 1, child) == ["v1 ['a', 'b']"]
    script.write_text(script.read_text().replace("v1", "v2"))
    lines = wait_for_lines(out, 2, child, touch=bumper(script))
    assert lines[:2] == ["v1 ['a', 'b']", "v2 ['a', 'b']"]
    assert "Script exited normally" in child.stderr()
    assert child.proc.poll() is None  # still waiting for the next change


@pytest.mark.slow
def test_wrapper_reruns_a_crashed_module(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    out = tmp_path / "runs.txt"
    package = tmp_path / "pkgdir"
    package.mkdir()
    module = package / "crashy.py"
    module.write_text(
        "import sys\n"
        f"open({str(out)!r}, 'a').write(f'run {{__name__}} {{sys.argv[1:]}}\\n')\n"
        "raise RuntimeError('crash')\n"
    )
    child = spawn(
        "-m", "squall.autoreload", "-m", "crashy", "--opt", env={"PYTHONPATH": str(package)}
    )
    wait_for_lines(out, 1, child)
    lines = wait_for_lines(out, 2, child, touch=bumper(module))
    assert lines[:2] == ["run __main__ ['--opt']"] * 2
    stderr = child.stderr()
    assert "Script exited with uncaught exception" in stderr
    assert "RuntimeError: crash" in stderr


@pytest.mark.slow
def test_wrapper_recovers_from_a_syntax_error(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    out = tmp_path / "runs.txt"
    script = tmp_path / "app.py"
    script.write_text("def broken(:\n")
    child = spawn("-m", "squall.autoreload", str(script))
    deadline = time.monotonic() + CHILD_DEADLINE
    while "SyntaxError" not in child.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    script.write_text(f"open({str(out)!r}, 'a').write('fixed\\n')\n")
    assert wait_for_lines(out, 1, child, touch=bumper(script))[0] == "fixed"


@pytest.mark.slow
def test_wrapper_until_success_exits_zero(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    script = tmp_path / "ok.py"
    script.write_text("print('done')\n")
    child = spawn("-m", "squall.autoreload", "--until-success", str(script))
    assert child.proc.wait(CHILD_DEADLINE) == 0


@pytest.mark.slow
def test_wrapper_usage_error_exit_status(tmp_path: Path, spawn: Callable[..., Child]) -> None:
    child = spawn("-m", "squall.autoreload", "--nope")
    assert child.proc.wait(CHILD_DEADLINE) == 2
    assert "error: no such option: --nope" in child.stderr()
