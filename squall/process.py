"""Several processes: forking a server, and child processes with streams.

``fork_processes`` turns one process into a supervisor and N workers (the
multi-process server: bind sockets first, fork, then serve them in every
worker). ``Subprocess`` wraps ``subprocess.Popen`` with ``PipeIOStream``
pipes and an exit callback on the IOLoop.

Errors:

- ``CalledProcessError`` (``subprocess.CalledProcessError``, re-exported):
  ``Subprocess.wait_for_exit()`` for a child that failed.
- ``RuntimeError``: ``fork_processes`` giving up after too many restarts,
  called twice, called while an event loop runs, or called on Windows.
- ``OSError`` from ``Popen`` for programs that cannot be started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from squall.ioloop import IOLoop
from squall.iostream import PipeIOStream
from squall.log import gen_log

__all__ = [
    "CalledProcessError",
    "Subprocess",
    "cpu_count",
    "fork_processes",
    "task_id",
]

CalledProcessError = subprocess.CalledProcessError

# How many times fork_processes restarts children that died before it gives
# up, in total over all of them: Tornado's default.
DEFAULT_MAX_RESTARTS = 100

# This process's number among the children of fork_processes; None in a
# process that fork_processes did not make.
_task_id: int | None = None


def cpu_count() -> int:
    """How many CPUs this process may run on (at least 1).

    CPUs the process's affinity mask excludes (``taskset``, a container's
    cpuset) do not count: forking more workers than that only makes them
    take turns.
    """
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:  # pragma: no cover - depends on the Python version
        count = process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - platforms without affinity masks
        count = os.cpu_count()
    if count:
        return int(count)
    gen_log.error("Could not detect number of processors; assuming 1")
    return 1


def task_id() -> int | None:
    """This process's task id from ``fork_processes``; None if it was not forked by it."""
    return _task_id


def fork_processes(num_processes: int | None, max_restarts: int | None = None) -> int:
    """Fork ``num_processes`` children; return the task id in each of them.

    ``None`` or a number below 1 means one child per CPU (``cpu_count()``).
    Each child returns from this call with its task id, 0 to
    ``num_processes - 1``; the parent never returns. It waits for the
    children and starts a child again, with the same task id, when one
    exits with a non-zero status or is killed by a signal, up to
    ``max_restarts`` restarts in all (100 by default); then it raises
    ``RuntimeError("Too many child restarts, giving up")`` and leaves the
    remaining children running. Once every child has exited normally the
    parent calls ``sys.exit(0)``.

    Fork before making any event loop: children must not share the parent's
    (an epoll set survives a fork and would be shared by every worker).
    Calling this while an event loop runs on this thread is a
    ``RuntimeError``; an IOLoop that was created but is not running is
    closed in every child, so that ``IOLoop.current()`` there makes a fresh
    one. Listening sockets, on the other hand, are meant to be made first:
    every child inherits them and the kernel shares connections among the
    children that accept on them.
    """
    global _task_id
    if sys.platform == "win32":  # pragma: no cover - POSIX test machines
        raise RuntimeError("fork_processes is not available on Windows")
    if _task_id is not None:
        raise RuntimeError("fork_processes cannot be called again in a forked child")
    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError(
            "fork_processes cannot be called while an event loop is running; "
            "fork first, then start the IOLoop"
        )
    if max_restarts is None:
        max_restarts = DEFAULT_MAX_RESTARTS
    if num_processes is None or num_processes <= 0:
        num_processes = cpu_count()
    gen_log.info("Starting %d processes", num_processes)

    children: dict[int, int] = {}  # pid -> task id

    def start_child(i: int) -> bool:
        """Fork child ``i``; True in the child."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            global _task_id
            _task_id = i
            _leave_parent_loop()
            return True
        children[pid] = i
        return False

    for i in range(num_processes):
        if start_child(i):  # pragma: no cover - runs in the child
            return i
    num_restarts = 0
    while children:
        pid, status = os.wait()
        if pid not in children:
            continue  # a child some other code of ours started
        i = children.pop(pid)
        if os.WIFSIGNALED(status):
            death, number = "killed by signal", os.WTERMSIG(status)
        else:
            number = os.WEXITSTATUS(status)
            if number == 0:
                # A clean exit is the child's work done: no replacement.
                gen_log.info("child %d (pid %d) exited normally", i, pid)
                continue
            death = "exited with status"
        gen_log.warning("child %d (pid %d) %s %d, restarting", i, pid, death, number)
        num_restarts += 1
        if num_restarts > max_restarts:
            raise RuntimeError("Too many child restarts, giving up")
        if start_child(i):  # pragma: no cover - runs in the child
            return i
    # Every child finished normally, so the parent's work is done too. Its
    # code after fork_processes was written for children; it must not run.
    sys.exit(0)


def _leave_parent_loop() -> None:  # pragma: no cover - runs in forked children
    """Drop the IOLoop (and asyncio loop) a child inherited from its parent.

    Its epoll set is shared with the parent and every sibling, so events
    registered by one process would wake the others. Closing it in the child
    also makes a stale reference to it fail loudly instead.
    """
    inherited = getattr(IOLoop._current, "instance", None)
    if inherited is not None and not inherited.asyncio_loop.is_closed():
        try:
            inherited.close()
        except Exception:
            gen_log.debug("Error closing the parent's IOLoop in a child", exc_info=True)
    IOLoop.clear_current()
    asyncio.set_event_loop(None)


class Subprocess:
    """A ``subprocess.Popen`` whose pipes are IOStreams, with exit notification.

    Takes ``Popen``'s arguments. ``stdin``, ``stdout`` and ``stderr`` may
    also be ``Subprocess.STREAM``: the attribute of the same name is then a
    ``squall.iostream.PipeIOStream``, which the caller must close. Other
    values are passed to ``Popen`` and the attribute is ``Popen``'s.

    ``set_exit_callback`` and ``wait_for_exit`` learn of the exit from a
    Linux pidfd watched by the IOLoop, or elsewhere from a thread that waits
    for the child, so no ``SIGCHLD`` handler is installed. The exit is
    watched only once one of them is called (as in Tornado); until then
    ``returncode`` stays None.
    """

    # The marker for "give me a PipeIOStream"; compared by identity.
    STREAM = object()

    # Whether initialize() was called. Exit detection needs no global
    # set-up; the flag keeps initialize/uninitialize meaningful for code
    # written against Tornado's SIGCHLD-based implementation.
    _initialized = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        io_loop = IOLoop.current()
        assert io_loop is not None
        self.io_loop = io_loop
        # Our ends of the pipes (they become streams) and the child's ends
        # (closed here once the child has its copies).
        our_ends: dict[str, int] = {}
        child_ends: list[int] = []
        try:
            for name in ("stdin", "stdout", "stderr"):
                if kwargs.get(name) is not Subprocess.STREAM:
                    continue
                read_fd, write_fd = os.pipe()
                if name == "stdin":
                    our_ends[name], kwargs[name] = write_fd, read_fd
                else:
                    our_ends[name], kwargs[name] = read_fd, write_fd
                child_ends.append(kwargs[name])
            self.proc = subprocess.Popen(*args, **kwargs)
        except BaseException:
            for fd in [*our_ends.values(), *child_ends]:
                os.close(fd)
            raise
        for fd in child_ends:
            os.close(fd)

        self.stdin: Any
        self.stdout: Any
        self.stderr: Any
        for name, fd in our_ends.items():
            setattr(self, name, PipeIOStream(fd))
        for name in ("stdin", "stdout", "stderr"):
            if name not in our_ends:
                setattr(self, name, getattr(self.proc, name))
        self.pid: int = self.proc.pid
        self.returncode: int | None = None
        self._exit_callback: Callable[[int], None] | None = None
        self._exit_futures: list[asyncio.Future[int]] = []
        self._watching = False

    def set_exit_callback(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(returncode)`` on the IOLoop when the process exits.

        The return code is negative for a process killed by a signal
        (``-signal.SIGTERM``...), as in ``Popen``. A later call replaces the
        callback; if the process has already been seen to exit, the callback
        runs on the next loop iteration.
        """
        Subprocess.initialize()
        self._exit_callback = callback
        self._watch_exit()

    def wait_for_exit(self, raise_error: bool = True) -> asyncio.Future[int]:
        """A Future for the process's return code.

        With ``raise_error`` (the default) a non-zero return code becomes a
        ``CalledProcessError`` instead. Any number of waits may be pending,
        alongside an exit callback.
        """
        Subprocess.initialize()
        future: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()
        if not raise_error:
            self._exit_futures.append(future)
        else:
            plain: asyncio.Future[int] = self.io_loop.asyncio_loop.create_future()
            self._exit_futures.append(plain)

            def check(f: asyncio.Future[int]) -> None:
                if future.done():
                    return  # cancelled by the waiter
                returncode = f.result()
                if returncode != 0:
                    future.set_exception(CalledProcessError(returncode, self.proc.args))
                else:
                    future.set_result(returncode)

            plain.add_done_callback(check)
        self._watch_exit()
        return future

    @classmethod
    def initialize(cls) -> None:
        """Kept for Tornado compatibility: exit detection needs no set-up.

        (Tornado installs a ``SIGCHLD`` handler here; squall watches each
        process with a pidfd or a thread instead, so it is safe to call any
        number of times, from any thread.)
        """
        cls._initialized = True

    @classmethod
    def uninitialize(cls) -> None:
        """Kept for Tornado compatibility; processes already watched stay watched."""
        cls._initialized = False

    # -- exit detection ----------------------------------------------------------

    def _watch_exit(self) -> None:
        if self.returncode is not None:
            self.io_loop.add_callback(self._notify_exit)
            return
        if self._watching:
            return
        self._watching = True
        if self.proc.returncode is not None:
            # Reaped already, through Popen (a poll() or wait() by the user).
            self.io_loop.add_callback(self._set_returncode, self.proc.returncode)
            return
        pidfd = self._open_pidfd()
        if pidfd is not None:
            self.io_loop.add_handler(pidfd, self._on_pidfd_readable, IOLoop.READ)
        else:
            thread = threading.Thread(
                target=self._wait_in_thread, name=f"squall-wait-{self.pid}", daemon=True
            )
            thread.start()

    def _open_pidfd(self) -> int | None:
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is None:  # pragma: no cover - not Linux, or Python < 3.9
            return None
        try:
            return int(pidfd_open(self.pid))
        except OSError:
            # ENOSYS: a kernel before 5.3 (or a sandbox without the call).
            # ESRCH: something else reaped the child already; Popen.wait()
            # in the thread will then report it.
            return None

    def _on_pidfd_readable(self, fd: int, events: int) -> None:
        # The pidfd turns readable once the child has exited; it is a zombie
        # until reaped, so this wait() does not block.
        self.io_loop.remove_handler(fd)
        os.close(fd)
        self._set_returncode(self.proc.wait())

    def _wait_in_thread(self) -> None:
        returncode = self.proc.wait()
        self.io_loop.add_callback(self._set_returncode, returncode)

    def _set_returncode(self, returncode: int) -> None:
        self.returncode = returncode
        self._notify_exit()

    def _notify_exit(self) -> None:
        returncode = self.returncode
        assert returncode is not None
        futures, self._exit_futures = self._exit_futures, []
        for future in futures:
            if not future.done():
                future.set_result(returncode)
        callback, self._exit_callback = self._exit_callback, None
        if callback is not None:
            self.io_loop.add_callback(callback, returncode)
