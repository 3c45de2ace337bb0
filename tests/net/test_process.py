"""squall.process: fork_processes, task_id, cpu_count and Subprocess."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from squall import process
from squall.ioloop import IOLoop
from squall.log import app_log, gen_log
from squall.process import CalledProcessError, Subprocess, cpu_count, fork_processes, task_id
from squall.testing import ExpectLog

# How long the fork tests wait for any one step of the scripts they run.
STEP_TIMEOUT = 10.0


# -- cpu_count, task_id -----------------------------------------------------------


def test_cpu_count_counts_usable_cpus():
    n = cpu_count()
    assert isinstance(n, int) and n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


def test_cpu_count_falls_back_to_one(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    with ExpectLog(gen_log, "Could not detect number of processors; assuming 1"):
        assert cpu_count() == 1


def test_task_id_is_none_outside_forked_children():
    assert task_id() is None


def test_called_process_error_is_subprocess_s():
    assert CalledProcessError is subprocess.CalledProcessError


# -- fork_processes: refusals (no fork happens) ---------------------------------------


async def test_fork_processes_refuses_inside_a_running_loop(io_loop):
    with pytest.raises(RuntimeError, match="while an event loop is running"):
        fork_processes(2)


def test_fork_processes_refuses_in_a_forked_child(monkeypatch):
    monkeypatch.setattr(process, "_task_id", 0)
    with pytest.raises(RuntimeError, match="cannot be called again in a forked child"):
        fork_processes(2)


# -- fork_processes: the supervisor, with fork and wait simulated --------------------


def run_supervisor(monkeypatch, num_children, exits, num_arg="same", **kwargs):
    """Run fork_processes' parent side with os.fork and os.wait scripted.

    ``exits`` lists what successive os.wait() calls report, as ``(task id,
    status)`` (a task id of None reports a pid the supervisor never
    started). Returns the task ids in fork order and what fork_processes
    returned or raised.
    """
    forked = []  # task ids, in fork order
    latest_pid = {}
    pending = list(exits)
    last_waited = [None]

    def fork():
        # The first forks start tasks 0..n-1; after that a fork restarts
        # the task whose exit was just reported.
        task = len(forked) if len(forked) < num_children else last_waited[0]
        forked.append(task)
        latest_pid[task] = 1000 + len(forked)
        return latest_pid[task]

    def wait():
        task, status = pending.pop(0)
        last_waited[0] = task
        return (4242 if task is None else latest_pid[task]), status

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(os, "wait", wait)
    try:
        outcome = fork_processes(num_children if num_arg == "same" else num_arg, **kwargs)
    except BaseException as e:
        outcome = e
    return forked, outcome


def exited(code):
    return code << 8


def killed(sig):
    return sig


def test_supervisor_exits_when_all_children_exit_normally(monkeypatch):
    with ExpectLog(gen_log, r"child \d \(pid \d+\) exited normally") as log:
        forked, outcome = run_supervisor(monkeypatch, 2, [(0, exited(0)), (1, exited(0))])
    assert log.counts == {20: 2}  # INFO
    assert forked == [0, 1]
    assert isinstance(outcome, SystemExit) and outcome.code == 0


def test_supervisor_restarts_abnormal_exits_with_the_same_task_id(monkeypatch):
    exits = [(1, killed(signal.SIGKILL)), (0, exited(3)), (1, exited(0)), (0, exited(0))]
    with ExpectLog(gen_log, r"child 1 \(pid 1002\) killed by signal 9, restarting") as killed_log:
        with ExpectLog(gen_log, r"child 0 \(pid 1001\) exited with status 3, restarting"):
            forked, outcome = run_supervisor(monkeypatch, 2, exits)
    assert killed_log.counts == {30: 1}  # a WARNING
    assert forked == [0, 1, 1, 0]
    assert isinstance(outcome, SystemExit) and outcome.code == 0


def test_supervisor_gives_up_after_max_restarts(monkeypatch):
    exits = [(0, exited(1)), (1, exited(1)), (0, exited(1))]
    with ExpectLog(gen_log, r"child \d \(pid \d+\) exited with status 1, restarting") as log:
        forked, outcome = run_supervisor(monkeypatch, 2, exits, max_restarts=2)
    assert log.counts == {30: 3}
    assert forked == [0, 1, 0, 1]  # two restarts, then no more
    assert isinstance(outcome, RuntimeError)
    assert str(outcome) == "Too many child restarts, giving up"


def test_supervisor_max_restarts_zero_and_default(monkeypatch):
    with ExpectLog(gen_log, "child 0"):
        forked, outcome = run_supervisor(monkeypatch, 1, [(0, killed(15))], max_restarts=0)
    assert forked == [0] and isinstance(outcome, RuntimeError)
    # The default allows 100 restarts: the 101st abnormal exit gives up.
    exits = [(0, exited(2))] * 101
    with ExpectLog(gen_log, "child 0") as log:
        forked, outcome = run_supervisor(monkeypatch, 1, exits)
    assert log.counts == {30: 101}
    assert len(forked) == 101 and isinstance(outcome, RuntimeError)
    assert process.DEFAULT_MAX_RESTARTS == 100


def test_supervisor_ignores_children_it_did_not_start(monkeypatch):
    forked, outcome = run_supervisor(monkeypatch, 1, [(None, 0), (0, exited(0))])
    assert forked == [0] and isinstance(outcome, SystemExit)


@pytest.mark.parametrize("num", [None, 0, -1])
def test_supervisor_defaults_to_one_child_per_cpu(monkeypatch, num):
    monkeypatch.setattr(process, "cpu_count", lambda: 3)
    exits = [(i, exited(0)) for i in range(3)]
    forked, outcome = run_supervisor(monkeypatch, 3, exits, num_arg=num)
    assert forked == [0, 1, 2] and isinstance(outcome, SystemExit)


# -- fork_processes: real forks, in a separate Python process -------------------------

SERVE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from squall import netutil, process
    from squall.ioloop import IOLoop

    [listener] = netutil.bind_sockets(0, "127.0.0.1")
    print(listener.getsockname()[1], flush=True)
    task = process.fork_processes(2, max_restarts=int(sys.argv[1]))

    def on_connection(conn, addr):
        conn.setblocking(True)
        conn.settimeout(5)
        command = conn.recv(64).strip()
        if command == b"exit":
            os._exit(3)
        # "hold": answer, then stop accepting, so that the next connection
        # has to go to another child.
        remove()
        conn.sendall(f"{task} {process.task_id()} {os.getpid()}".encode())
        conn.close()

    remove = netutil.add_accept_handler(listener, on_connection)
    IOLoop.current().start()
    """
)

QUICK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from squall import process
    n = int(sys.argv[1])
    task = process.fork_processes(n)
    # One write per line: the children share the pipe.
    os.write(1, f"child {task} {process.task_id()}\\n".encode())
    """
)

LOOP_BEFORE_FORK_SCRIPT = textwrap.dedent(
    """
    import asyncio, os
    from squall import process
    from squall.ioloop import IOLoop

    inherited = IOLoop.current()
    task = process.fork_processes(2)
    fresh = IOLoop.current()
    ran = fresh.run_sync(lambda: asyncio.sleep(0, result=task))
    closed = inherited.asyncio_loop.is_closed()
    os.write(1, f"child {task} {fresh is not inherited} {closed} {ran}\\n".encode())
    """
)


def start_script(tmp_path, source, *args):
    path = tmp_path / "script.py"
    path.write_text(source)
    return subprocess.Popen(
        [sys.executable, str(path), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Its own process group, so that the children can be killed too.
        start_new_session=True,
    )


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(STEP_TIMEOUT)
    proc.stdout.close()
    proc.stderr.close()


def read_line(stream):
    ready, _, _ = select.select([stream], [], [], STEP_TIMEOUT)
    assert ready, "the script printed nothing in time"
    return stream.readline().decode().strip()


def ask(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT) as conn:
        conn.sendall(command)
        chunks = []
        while chunk := conn.recv(100):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_fork_processes_serve_restart_and_give_up(tmp_path):
    proc = start_script(tmp_path, SERVE_SCRIPT, 2)
    try:
        port = int(read_line(proc.stdout))
        # Each child answers one "hold" and stops accepting: two asks reach
        # both children.
        first = ask(port, b"hold").split()
        second = ask(port, b"hold").split()
        assert {first[0], second[0]} == {"0", "1"}
        assert first[0] == first[1] and second[0] == second[1]  # return value == task_id()
        pid_a, pid_b = int(first[2]), int(second[2])
        assert len({pid_a, pid_b, proc.pid}) == 3

        # A child killed by a signal is replaced, under the same task id.
        os.kill(pid_a, signal.SIGKILL)
        # The replacement is the only child accepting; "exit" makes it exit 3.
        assert ask(port, b"exit") == ""
        # ... and that one is replaced too (second restart).
        third = ask(port, b"hold").split()
        assert third[0] == first[0]
        assert int(third[2]) not in (pid_a, pid_b, proc.pid)

        # A third abnormal exit exceeds max_restarts=2: the parent gives up.
        os.kill(pid_b, signal.SIGKILL)
        assert proc.wait(STEP_TIMEOUT) == 1
        # The last replacement still runs, holding stderr open: end it first.
        os.killpg(proc.pid, signal.SIGKILL)
        err = proc.stderr.read().decode()
        assert f"child {first[0]} (pid {pid_a}) killed by signal 9, restarting" in err
        assert f"child {first[0]} (pid " in err and "exited with status 3, restarting" in err
        assert f"child {second[0]} (pid {pid_b}) killed by signal 9, restarting" in err
        assert "RuntimeError: Too many child restarts, giving up" in err
    finally:
        kill_group(proc)


def test_fork_processes_parent_exits_zero_after_normal_exits(tmp_path):
    proc = start_script(tmp_path, QUICK_SCRIPT, 2)
    try:
        out, err = proc.communicate(timeout=STEP_TIMEOUT)
        assert proc.returncode == 0, err
        # Only the children got past fork_processes.
        assert sorted(out.decode().split("\n")[:-1]) == ["child 0 0", "child 1 1"]
    finally:
        kill_group(proc)


def test_fork_processes_zero_means_one_per_cpu(tmp_path):
    proc = start_script(tmp_path, QUICK_SCRIPT, 0)
    try:
        out, err = proc.communicate(timeout=STEP_TIMEOUT)
        assert proc.returncode == 0, err
        lines = sorted(out.decode().split("\n")[:-1])
        assert lines == sorted(f"child {i} {i}" for i in range(cpu_count()))
    finally:
        kill_group(proc)


def test_fork_processes_children_get_a_fresh_ioloop(tmp_path):
    proc = start_script(tmp_path, LOOP_BEFORE_FORK_SCRIPT)
    try:
        out, err = proc.communicate(timeout=STEP_TIMEOUT)
        assert proc.returncode == 0, err
        assert sorted(out.decode().split("\n")[:-1]) == [
            "child 0 True True 0",
            "child 1 True True 1",
        ]
    finally:
        kill_group(proc)


# -- Subprocess ----------------------------------------------------------------------

PY = sys.executable


async def test_subprocess_streams_roundtrip(io_loop):
    p = Subprocess(
        [
            PY,
            "-c",
            "import sys; data = sys.stdin.read(); sys.stdout.write(data.upper()); "
            "sys.stderr.write('err:' + str(len(data)))",
        ],
        stdin=Subprocess.STREAM,
        stdout=Subprocess.STREAM,
        stderr=Subprocess.STREAM,
    )
    from squall.iostream import PipeIOStream

    try:
        assert isinstance(p.stdin, PipeIOStream)
        assert isinstance(p.stdout, PipeIOStream) and isinstance(p.stderr, PipeIOStream)
        await p.stdin.write(b"hello subprocess")
        p.stdin.close()
        out = await p.stdout.read_until_close()
        err = await p.stderr.read_until_close()
        assert out == b"HELLO SUBPROCESS"
        assert err == b"err:16"
        assert await p.wait_for_exit() == 0
        assert p.returncode == 0
    finally:
        for s in (p.stdin, p.stdout, p.stderr):
            s.close()


async def test_subprocess_reads_lines_as_they_come(io_loop):
    p = Subprocess(
        [PY, "-u", "-c", "import sys\nfor line in sys.stdin: print(line.strip()[::-1])"],
        stdin=Subprocess.STREAM,
        stdout=Subprocess.STREAM,
    )
    try:
        for word in (b"abc", b"squall"):
            await p.stdin.write(word + b"\n")
            assert await p.stdout.read_until(b"\n") == word[::-1] + b"\n"
        p.stdin.close()
        assert await p.wait_for_exit() == 0
        assert p.stderr is None
    finally:
        p.stdin.close()
        p.stdout.close()


async def test_subprocess_attributes_without_streams(io_loop):
    p = Subprocess([PY, "-c", "print('x')"], stdout=subprocess.PIPE)
    try:
        assert p.stdout is p.proc.stdout and p.stdin is None and p.stderr is None
        assert p.pid == p.proc.pid
        assert p.io_loop is io_loop
        assert p.returncode is None
        assert await p.wait_for_exit() == 0
        assert p.stdout.read() == b"x\n"
    finally:
        p.stdout.close()


async def test_subprocess_exit_callback(io_loop):
    done = asyncio.Event()
    calls = []

    def on_exit(returncode):
        calls.append((returncode, threading.current_thread() is threading.main_thread()))
        done.set()

    p = Subprocess([PY, "-c", "import sys; sys.exit(5)"])
    p.set_exit_callback(on_exit)
    await done.wait()
    assert calls == [(5, True)]
    assert p.returncode == 5


async def test_subprocess_exit_callback_replaced_by_a_later_one(io_loop):
    done = asyncio.Event()
    calls = []
    p = Subprocess([PY, "-c", "pass"])
    p.set_exit_callback(lambda rc: calls.append(("first", rc)))
    p.set_exit_callback(lambda rc: (calls.append(("second", rc)), done.set()))
    await done.wait()
    await asyncio.sleep(0)
    assert calls == [("second", 0)]


async def test_subprocess_wait_for_exit_raise_error(io_loop):
    p = Subprocess([PY, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(CalledProcessError) as info:
        await p.wait_for_exit()
    assert info.value.returncode == 3
    assert info.value.cmd == p.proc.args
    # Asking again after the exit answers at once, with or without raising.
    assert await p.wait_for_exit(raise_error=False) == 3
    with pytest.raises(CalledProcessError):
        await p.wait_for_exit(raise_error=True)


async def test_subprocess_killed_by_a_signal(io_loop):
    p = Subprocess([PY, "-c", "import time; time.sleep(30)"])
    waiter = p.wait_for_exit(raise_error=False)
    p.proc.send_signal(signal.SIGTERM)
    assert await waiter == -signal.SIGTERM
    with pytest.raises(CalledProcessError, match="died with"):
        await p.wait_for_exit()


async def test_subprocess_many_waiters_and_a_callback(io_loop):
    p = Subprocess([PY, "-c", "import sys; sys.exit(2)"])
    got = []
    p.set_exit_callback(got.append)
    plain = [p.wait_for_exit(raise_error=False) for _ in range(3)]
    raising = p.wait_for_exit()
    assert await asyncio.gather(*plain) == [2, 2, 2]
    with pytest.raises(CalledProcessError):
        await raising
    await asyncio.sleep(0)
    assert got == [2]


async def test_subprocess_cancelled_wait_is_harmless(io_loop):
    p = Subprocess([PY, "-c", "import time; time.sleep(0.2); raise SystemExit(1)"])
    for raise_error in (True, False):
        waiter = p.wait_for_exit(raise_error=raise_error)
        waiter.cancel()
    assert await p.wait_for_exit(raise_error=False) == 1


async def test_subprocess_callback_after_the_exit_was_seen(io_loop):
    p = Subprocess([PY, "-c", "pass"])
    assert await p.wait_for_exit() == 0
    done = asyncio.Event()
    p.set_exit_callback(lambda rc: done.set())
    await done.wait()


async def test_subprocess_reaped_through_popen_first(io_loop):
    p = Subprocess([PY, "-c", "raise SystemExit(4)"])
    p.proc.wait()
    assert await p.wait_for_exit(raise_error=False) == 4


@pytest.mark.parametrize("how", ["no pidfd_open", "pidfd_open fails"])
async def test_subprocess_exit_seen_by_a_thread_without_pidfd(io_loop, monkeypatch, how):
    if how == "no pidfd_open":
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    else:

        def unsupported(pid, flags=0):
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(os, "pidfd_open", unsupported)
    p = Subprocess(
        [PY, "-c", "import sys; sys.stdin.read(); raise SystemExit(6)"], stdin=subprocess.PIPE
    )
    calls = []
    done = asyncio.Event()
    p.set_exit_callback(
        lambda rc: (
            calls.append((rc, threading.current_thread() is threading.main_thread())),
            done.set(),
        )
    )
    # The child waits for its stdin to close: the waiting thread exists now.
    assert [t for t in threading.enumerate() if t.name == f"squall-wait-{p.pid}"]
    p.stdin.close()
    await done.wait()
    assert calls == [(6, True)]  # the callback still runs on the loop's thread
    assert await p.wait_for_exit(raise_error=False) == 6


async def test_subprocess_uses_a_pidfd_when_it_can(io_loop):
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd on this platform")
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        pytest.skip("pidfd_open unsupported by the kernel")
    p = Subprocess([PY, "-c", "import time; time.sleep(0.1)"])
    waiter = p.wait_for_exit()
    waiting_threads = [t for t in threading.enumerate() if t.name == f"squall-wait-{p.pid}"]
    assert waiting_threads == []
    assert await waiter == 0


async def test_subprocess_exit_callback_errors_are_logged(io_loop):
    p = Subprocess([PY, "-c", "pass"])
    waiter = p.wait_for_exit()

    def broken(rc):
        raise ZeroDivisionError("in exit callback")

    p.set_exit_callback(broken)
    with ExpectLog(app_log, "Exception in callback"):
        await waiter
        for _ in range(3):
            await asyncio.sleep(0)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_subprocess_that_cannot_start_leaks_no_pipes(io_loop):
    before = open_fds()
    with pytest.raises(FileNotFoundError):
        Subprocess(
            ["/nonexistent/program"],
            stdin=Subprocess.STREAM,
            stdout=Subprocess.STREAM,
            stderr=Subprocess.STREAM,
        )
    assert open_fds() == before


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_subprocess_out_of_descriptors_leaks_no_pipes(io_loop, monkeypatch):
    real_pipe = os.pipe
    made = []

    def pipe_then_emfile():
        if made:
            raise OSError(24, "Too many open files")
        made.append(real_pipe())
        return made[-1]

    before = open_fds()
    monkeypatch.setattr(os, "pipe", pipe_then_emfile)
    with pytest.raises(OSError, match="Too many open files"):
        Subprocess([PY, "-c", "pass"], stdin=Subprocess.STREAM, stdout=Subprocess.STREAM)
    assert made and open_fds() == before


async def test_subprocess_parent_closes_the_childs_pipe_ends(io_loop):
    # If our copy of the child's stdout write end stayed open, reading to
    # the end would never finish.
    p = Subprocess([PY, "-c", "print('done')"], stdout=Subprocess.STREAM)
    try:
        assert await p.stdout.read_until_close() == b"done\n"
        await p.wait_for_exit()
    finally:
        p.stdout.close()


def test_subprocess_initialize_and_uninitialize_are_safe():
    saved = Subprocess._initialized
    try:
        Subprocess.initialize()
        Subprocess.initialize()
        assert Subprocess._initialized
        Subprocess.uninitialize()
        assert not Subprocess._initialized
    finally:
        Subprocess._initialized = saved


async def test_subprocess_watched_after_uninitialize(io_loop):
    Subprocess.uninitialize()
    p = Subprocess([PY, "-c", "pass"])
    assert await p.wait_for_exit() == 0
    assert Subprocess._initialized  # wait_for_exit initializes, as in Tornado


def test_subprocess_outside_a_running_loop():
    io_loop = IOLoop(make_current=True)
    try:
        p = Subprocess([PY, "-c", "raise SystemExit(7)"])
        result = io_loop.run_sync(lambda: p.wait_for_exit(raise_error=False), timeout=STEP_TIMEOUT)
        assert result == 7
    finally:
        io_loop.close(all_fds=True)
        IOLoop.clear_current()
