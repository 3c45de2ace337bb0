"""Restart the process when its source files change.

``start()`` checks, every ``check_time`` milliseconds on the current IOLoop,
the modification time of every loaded module's file and of every file given
to ``watch()``. When one changes it runs the ``add_reload_hook`` functions,
then replaces the process with a fresh run of the same command line
(``os.execv``: same pid, same arguments, same interpreter options, and
``python -m module`` runs again as ``-m module``). ``web.Application`` calls
it for ``debug=True``/``autoreload=True``.

From the command line, ``python -m squall.autoreload`` runs a script or
module and reloads it on changes even after it has exited or crashed (a
crash's files are watched, so fixing the bug restarts it)::

    python -m squall.autoreload myserver.py --port=8888
    python -m squall.autoreload -m myapp.server --port=8888
    python -m squall.autoreload --until-success -m myapp.migrate

Reloading works in a single process only: in workers forked by
``process.fork_processes`` the checks do nothing. Sockets are closed by the
exec (Python's are not inheritable), and anything buffered in
``sys.stdout``/``sys.stderr`` is flushed first.

Errors: hooks that raise are logged and the reload goes on; if the exec
itself fails (``OSError``) no further reload is attempted in this process.
Command-line mistakes print the usage and exit with status 1 (nothing to
run, or it does not exist) or 2 (an unknown option, ``-m`` without a name).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import runpy
import signal
import subprocess
import sys
import types
import weakref
from collections.abc import Callable, Iterator
from importlib.machinery import ModuleSpec
from traceback import extract_tb
from typing import NoReturn

from squall import process
from squall.ioloop import IOLoop, PeriodicCallback
from squall.log import enable_pretty_logging, gen_log

__all__ = ["add_reload_hook", "main", "start", "wait", "watch"]

# How often start() looks at modification times, in milliseconds
# (Tornado's default).
DEFAULT_CHECK_TIME = 500

_has_execv = sys.platform != "win32"

_watched_files: set[str] = set()
_reload_hooks: list[Callable[[], None]] = []
# Set once a reload has begun: if the exec fails, do not retry on every tick.
_reload_attempted = False
# The IOLoops start() is running on (one checker per loop).
_io_loops: weakref.WeakKeyDictionary[IOLoop, bool] = weakref.WeakKeyDictionary()

# Set by main(): a reload re-runs the wrapper (python -m squall.autoreload
# ...), not the script it ran, so the wrapper keeps watching after the
# script exits again.
_autoreload_is_main = False
_original_argv: list[str] | None = None
_original_spec: ModuleSpec | None = None

_USAGE = """\
usage: python -m squall.autoreload [--until-success] -m module [args...]
       python -m squall.autoreload [--until-success] path/to/script.py [args...]
"""
_HELP = (
    _USAGE
    + """
Runs the module or script; whenever a file it used changes, runs it again in
a fresh process, also after it has exited or failed.

options:
  -h, --help       show this help and exit
  -m module        run a module, as python -m does
  --until-success  stop once the program exits with status 0
"""
)


def start(check_time: int = DEFAULT_CHECK_TIME) -> None:
    """Check for changed files every ``check_time`` ms on the current IOLoop,
    and reload the process when one changes. Once per IOLoop; later calls
    do nothing."""
    io_loop = IOLoop.current()
    if io_loop in _io_loops:
        return
    _io_loops[io_loop] = True
    if len(_io_loops) > 1:
        gen_log.warning("squall.autoreload started more than once in the same process")
    modify_times: dict[str, float] = {}
    # Record the times now rather than at the first tick: a file edited
    # while the application is still starting up then counts as a change.
    _reload_on_update(modify_times)
    PeriodicCallback(functools.partial(_reload_on_update, modify_times), check_time).start()


def wait() -> None:
    """Wait for a watched file or loaded module to change, then reload.

    Runs its own IOLoop; in normal use it never returns (the process is
    replaced). ``python -m squall.autoreload`` calls it when the program it
    runs has exited.
    """
    io_loop = IOLoop(make_current=False)
    io_loop.add_callback(start, DEFAULT_CHECK_TIME)
    try:
        io_loop.start()
    finally:
        io_loop.close()


def watch(filename: str) -> None:
    """Also reload when ``filename`` changes (templates, config files...).

    A file that does not exist yet is checked from when it appears.
    """
    _watched_files.add(filename)


def add_reload_hook(fn: Callable[[], None]) -> None:
    """Call ``fn()`` just before the process is replaced by a reload (to
    flush logs, close files that must not be left half-written...)."""
    _reload_hooks.append(fn)


# ---------------------------------------------------------------------------
# Checking


def _reload_on_update(
    modify_times: dict[str, float], reload: Callable[[], None] | None = None
) -> None:
    """One check: record unseen files' times; on the first changed file,
    log it and call ``reload`` (default: ``_reload``, which replaces the
    process)."""
    if _reload_attempted:
        return
    if process.task_id() is not None:
        # A forked worker cannot re-exec the whole set of processes.
        return
    for path in _files_to_check():
        if _file_changed(modify_times, path):
            gen_log.info("%s modified; restarting server", path)
            (reload or _reload)()
            return


def _source_of(module: object) -> str | None:
    """The file a loaded module came from (its .py, not a stale .pyc), if any."""
    if not isinstance(module, types.ModuleType):
        return None
    filename: str | None = getattr(module, "__file__", None)
    if not filename:
        return None
    return filename[:-1] if filename.endswith((".pyc", ".pyo")) else filename


def _files_to_check() -> Iterator[str]:
    # Snapshots of both: other threads may import or watch while we iterate.
    loaded = [_source_of(module) for module in list(sys.modules.values())]
    yield from (source for source in loaded if source)
    yield from list(_watched_files)


def _file_changed(modify_times: dict[str, float], path: str) -> bool:
    """Whether ``path``'s modification time differs from the one recorded;
    the first sighting only records it. Missing files are skipped."""
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    previous = modify_times.get(path)
    modify_times[path] = modified
    return previous is not None and previous != modified


# ---------------------------------------------------------------------------
# Reloading


def _run_reload_hooks() -> None:
    # One failing hook must not keep the others (or the restart) from running.
    for hook in _reload_hooks:
        try:
            hook()
        except Exception:
            gen_log.error("Exception in reload hook %r", hook, exc_info=True)


def _reload() -> None:
    global _reload_attempted
    _reload_attempted = True
    _run_reload_hooks()
    if hasattr(signal, "setitimer"):
        # A pending alarm survives exec and would kill the new program.
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    command = _restart_command()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    if not _has_execv:  # pragma: no cover - Windows has no real exec
        subprocess.Popen(command)
        os._exit(0)
    os.execv(command[0], command)


def _restart_command() -> list[str]:
    """The command line that runs this program again."""
    if _autoreload_is_main and _original_argv is not None:
        argv, spec = _original_argv, _original_spec
    else:
        argv = sys.argv
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = spec.name if spec is not None else None
    orig_argv: list[str] = getattr(sys, "orig_argv", [])
    return _build_command(sys.executable, orig_argv, argv, module)


def _build_command(
    executable: str, orig_argv: list[str], argv: list[str], module: str | None
) -> list[str]:
    """``[executable, *interpreter options, program, *args]`` for a program
    whose ``sys.argv`` is ``argv``, run as ``-m module`` when ``module`` is
    given (a ``__main__`` spec means a directory or zip: run as a path)."""
    if module == "__main__":
        module = None
    options = _interpreter_options(orig_argv, argv, module)
    if module is not None:
        return [executable, *options, "-m", module, *argv[1:]]
    return [executable, *options, *argv]


def _interpreter_options(orig_argv: list[str], argv: list[str], module: str | None) -> list[str]:
    """The interpreter's own options (``-X dev``, ``-W error``, ``-u``...)
    from ``sys.orig_argv``: what comes before the program and its arguments.
    Empty if the two command lines do not line up as expected."""
    args = argv[1:]
    split = len(orig_argv) - len(args)
    if split < 2 or orig_argv[split:] != args:
        return []
    head = orig_argv[:split]
    if module is None:
        return head[1:-1] if head[-1] == argv[0] else []
    if len(head) >= 3 and head[-2:] == ["-m", module]:
        return head[1:-2]
    if head[-1] == "-m" + module:
        return head[1:-1]
    return []


# ---------------------------------------------------------------------------
# python -m squall.autoreload


def main() -> None:
    """Run the script or module named on the command line, then wait for
    changes and reload (see the module docstring for the usage)."""
    global _autoreload_is_main, _original_argv, _original_spec
    original_argv = list(sys.argv)
    mode, target, args, until_success = _parse_command_line(original_argv[1:])
    _autoreload_is_main = True
    _original_argv = original_argv
    _original_spec = getattr(sys.modules.get("__main__"), "__spec__", None)

    spec = None
    if mode == "module":
        try:
            spec = importlib.util.find_spec(target)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            _usage_error(f"no module named {target!r}", status=1)
    elif not os.path.exists(target):
        _usage_error(f"no such file: {target!r}", status=1)

    success = _run(mode, target, args)
    if mode == "module":
        # run_module executed it as __main__, which leaves no trace in
        # sys.modules to be checked: watch its file explicitly.
        main_file = _module_main_file(target, spec)
        if main_file:
            watch(main_file)
    else:
        watch(os.path.abspath(target))
    if until_success and success:
        return
    wait()


def _module_main_file(name: str, spec: ModuleSpec | None) -> str | None:
    """The file ``runpy.run_module(name)`` executes: the module's own, or
    a package's ``__main__.py``."""
    if spec is not None and spec.submodule_search_locations is not None:
        try:
            spec = importlib.util.find_spec(f"{name}.__main__")
        except ImportError:
            return None
    if spec is None or not spec.has_location:
        return None
    return spec.origin


def _run(mode: str, target: str, args: list[str]) -> bool:
    """Run the program in this process; True if it exited with status 0."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [target, *args]
    if mode == "script":
        # As `python script.py` does: the script's directory is importable.
        script_dir = os.path.dirname(os.path.abspath(target))
        if script_dir not in sys.path:
            sys.path.insert(0, script_dir)
    error: Exception | None = None
    exit_status: list[object] = []  # the SystemExit code, if it exited so
    try:
        if mode == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        exit_status.append(e.code)
    except Exception as e:
        error = e
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    # The program is done with logging; make sure what follows is seen.
    if not logging.getLogger().handlers:
        enable_pretty_logging()
    if error is not None:
        gen_log.error("Script exited with uncaught exception", exc_info=error)
        # Watch the files the error went through, so that fixing it reloads.
        for frame in extract_tb(error.__traceback__):
            watch(frame.filename)
        if isinstance(error, SyntaxError) and error.filename:
            watch(error.filename)
        return False
    if not exit_status:
        gen_log.info("Script exited normally")
        return True
    code = exit_status[0]
    gen_log.info("Script exited with status %s", code)
    return code is None or code == 0


def _parse_command_line(args: list[str]) -> tuple[str, str, list[str], bool]:
    """``(mode, target, program args, until_success)``; mode is "module" or
    "script". Options end at the program: what follows belongs to it."""
    until_success = False
    for i, arg in enumerate(args):
        if arg in ("-h", "--help"):
            sys.stdout.write(_HELP)
            sys.exit(0)
        elif arg == "--until-success":
            until_success = True
        elif arg == "-m":
            if i + 1 >= len(args):
                _usage_error("-m needs a module name")
            return "module", args[i + 1], args[i + 2 :], until_success
        elif arg.startswith("-m") and not arg.startswith("--"):
            return "module", arg[2:], args[i + 1 :], until_success
        elif arg.startswith("-"):
            _usage_error(f"no such option: {arg}")
        else:
            return "script", arg, args[i + 1 :], until_success
    _usage_error("give a script path or -m module", status=1)


def _usage_error(message: str, status: int = 2) -> NoReturn:
    sys.stderr.write(f"{_USAGE}\npython -m squall.autoreload: error: {message}\n")
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover - runs only as python -m
    # Run the importable module's main(), not this __main__ copy's: a script
    # that imports squall.autoreload (to watch files or add hooks) must
    # share the state main() sets. It is imported under the name this copy
    # was run as: run as ``python -m tornado.autoreload`` through the alias,
    # that registers ``tornado.autoreload`` too, as Tornado's own does.
    import importlib as _importlib

    _name = __spec__.name if __spec__ is not None else "squall.autoreload"
    _importlib.import_module(_name).main()
