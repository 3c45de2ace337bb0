"""IOLoop: the facade over asyncio, including the seeds' 1.x idioms."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import itertools
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from squall import gen
from squall.ioloop import AsyncIOLoop, AsyncIOMainLoop, IOLoop, PeriodicCallback, new_event_loop
from squall.testing import ExpectLog


@pytest.fixture
def loop():
    io_loop = IOLoop(make_current=True)
    yield io_loop
    if not io_loop.asyncio_loop.is_closed():
        io_loop.close(all_fds=True)
    IOLoop.clear_current()


def test_instance_is_current_and_creates_a_loop():
    IOLoop.clear_current()
    asyncio.set_event_loop(None)
    assert IOLoop.current(instance=False) is None
    io_loop = IOLoop.instance()
    try:
        assert io_loop is IOLoop.current()
        assert isinstance(io_loop, AsyncIOMainLoop)
    finally:
        io_loop.close()
        IOLoop.clear_current()
        asyncio.set_event_loop(None)


def test_uvloop_by_default_and_opt_out(monkeypatch):
    import uvloop

    monkeypatch.delenv("SQUALL_LOOP", raising=False)
    loop = new_event_loop()
    assert isinstance(loop, uvloop.Loop)
    loop.close()
    monkeypatch.setenv("SQUALL_LOOP", "asyncio")
    loop = new_event_loop()
    assert not isinstance(loop, uvloop.Loop)
    loop.close()


def test_current_inside_asyncio_run_wraps_the_running_loop():
    async def main():
        io_loop = IOLoop.current()
        assert io_loop.asyncio_loop is asyncio.get_running_loop()
        assert IOLoop.current() is io_loop  # one IOLoop per asyncio loop
        assert isinstance(io_loop, AsyncIOMainLoop)
        done = asyncio.get_running_loop().create_future()
        io_loop.add_callback(done.set_result, 42)
        return await done

    assert asyncio.run(main()) == 42
    IOLoop.clear_current()


def test_one_ioloop_per_asyncio_loop():
    aloop = asyncio.new_event_loop()
    try:
        io_loop = IOLoop(asyncio_loop=aloop, make_current=False)
        with pytest.raises(RuntimeError):
            IOLoop(asyncio_loop=aloop, make_current=False)
        io_loop.close()
    finally:
        aloop.close()


def test_current_picks_up_a_loop_set_with_asyncio():
    IOLoop.clear_current()
    aloop = asyncio.new_event_loop()
    asyncio.set_event_loop(aloop)
    try:
        io_loop = IOLoop.current()
        assert io_loop.asyncio_loop is aloop
        io_loop.close()
    finally:
        IOLoop.clear_current()
        asyncio.set_event_loop(None)
        aloop.close()


def test_start_stop_add_callback_with_args(loop):
    seen = []

    def cb(a, b=None):
        seen.append((a, b))
        loop.stop()

    loop.add_callback(cb, 1, b=2)
    loop.start()
    assert seen == [(1, 2)]


def test_start_twice_raises(loop):
    def inner():
        with pytest.raises(RuntimeError):
            loop.start()
        with pytest.raises(RuntimeError):
            loop.run_sync(lambda: None)
        with pytest.raises(RuntimeError):
            loop.close()
        loop.stop()

    loop.add_callback(inner)
    loop.start()


def test_add_callback_from_another_thread_wakes_the_loop(loop):
    result = []

    def worker():
        time.sleep(0.05)
        loop.add_callback(lambda: (result.append(threading.current_thread().name), loop.stop()))

    t = threading.Thread(target=worker, name="worker")
    t.start()
    loop.call_later(5, loop.stop)  # safety net
    loop.start()
    t.join()
    # The callback ran on the loop's thread, not the worker's.
    assert result == [threading.current_thread().name]


def test_add_callback_after_close_is_ignored():
    io_loop = IOLoop(make_current=False)
    io_loop.close()
    io_loop.add_callback(lambda: None)  # must not raise
    io_loop.close()  # closing twice is harmless


def test_callback_exceptions_are_logged_and_loop_survives(loop):
    def bad():
        raise ValueError("boom")

    async def bad_async():
        raise KeyError("async boom")

    with ExpectLog("squall.application", "Exception in callback") as log:
        loop.add_callback(bad)
        loop.add_callback(bad_async)
        loop.call_later(0.05, loop.stop)
        loop.start()
    assert sum(log.counts.values()) == 2


def test_spawn_and_signal_callbacks(loop):
    seen = []
    loop.spawn_callback(seen.append, "spawn")
    loop.add_callback_from_signal(seen.append, "signal")
    loop.add_callback(loop.stop)
    loop.start()
    assert seen == ["spawn", "signal"]


def test_run_sync_values_coroutines_futures_and_errors(loop):
    assert loop.run_sync(lambda: None) is None

    async def coro():
        await asyncio.sleep(0)
        return "coro"

    assert loop.run_sync(coro) == "coro"

    @gen.coroutine
    def gen_coro():
        yield gen.moment
        return "gen"

    assert loop.run_sync(gen_coro) == "gen"
    assert loop.run_sync(lambda: 7) == 7

    async def fails():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        loop.run_sync(fails)


def test_run_sync_timeout(loop):
    cancelled = []

    async def slow():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(TimeoutError, match=r"Operation timed out after 0\.05 seconds"):
        loop.run_sync(slow, timeout=0.05)
    assert cancelled == [True]
    # The loop stays usable afterwards.
    assert loop.run_sync(lambda: gen.sleep(0)) is None


def test_add_timeout_accepts_deadline_and_timedelta(loop):
    order = []
    start = time.monotonic()
    loop.add_timeout(loop.time() + 0.02, order.append, "deadline")
    loop.add_timeout(datetime.timedelta(seconds=0.04), order.append, "timedelta")
    loop.call_later(0.06, loop.stop)
    loop.start()
    assert order == ["deadline", "timedelta"]
    assert time.monotonic() - start >= 0.05
    with pytest.raises(TypeError):
        loop.add_timeout("soon", lambda: None)


def test_remove_timeout_cancels(loop):
    fired = []
    handle = loop.call_later(0.01, fired.append, 1)
    loop.remove_timeout(handle)
    at_handle = loop.call_at(loop.time() + 0.01, fired.append, 2)
    loop.remove_timeout(at_handle)
    loop.remove_timeout(None)  # not a handle: ignored
    loop.call_later(0.03, loop.stop)
    loop.start()
    assert fired == []


def test_time_is_wall_clock(loop):
    assert abs(loop.time() - time.time()) < 1


def test_add_future_with_asyncio_and_concurrent_futures(loop):
    seen = []
    executor = concurrent.futures.ThreadPoolExecutor(1)
    try:
        afut = loop.asyncio_loop.create_future()
        loop.add_future(afut, lambda f: seen.append(("asyncio", f.result())))
        cfut = executor.submit(lambda: "thread")
        loop.add_future(cfut, lambda f: seen.append(("concurrent", f.result())))
        afut.set_result("loop")
        loop.call_later(0.1, loop.stop)
        loop.start()
    finally:
        executor.shutdown()
    assert sorted(seen) == [("asyncio", "loop"), ("concurrent", "thread")]
    with pytest.raises(TypeError):
        loop.add_future("not a future", print)


def test_run_in_executor_and_default_executor(loop):
    executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="custom")
    loop.set_default_executor(executor)

    async def main():
        name = await loop.run_in_executor(None, lambda: threading.current_thread().name)
        value = await loop.run_in_executor(executor, pow, 2, 10)
        return name, value

    name, value = loop.run_sync(main)
    assert name.startswith("custom")
    assert value == 1024


def test_seed_004_add_handler_update_remove_on_a_raw_socket():
    # The talk's snippets, with squall for tornado: watch a listening socket
    # for READ, accept, switch a connection to WRITE, then remove handlers.
    from squall.ioloop import IOLoop

    ioloop = IOLoop.instance()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    port = sock.getsockname()[1]
    events_seen = []
    conns = []

    def on_connection_write(conn, events):
        events_seen.append(("write", events))
        conn.send(b"hello from squall\n")
        ioloop.remove_handler(conn)
        ioloop.remove_handler(sock.fileno())
        ioloop.stop()

    def on_connection_read(conn, events):
        events_seen.append(("read", events))
        assert conn.recv(100) == b"ping"
        ioloop.update_handler(conn, ioloop.WRITE)

    def dispatch(conn, events):
        if events & ioloop.READ:
            on_connection_read(conn, events)
        else:
            on_connection_write(conn, events)

    def callback(fd, events):
        assert fd == sock.fileno()
        conn, _ = sock.accept()
        conn.setblocking(False)
        conns.append(conn)
        ioloop.add_handler(conn, dispatch, ioloop.READ)

    ioloop.add_handler(sock.fileno(), callback, ioloop.READ)
    with pytest.raises(ValueError):
        ioloop.add_handler(sock.fileno(), callback, ioloop.READ)

    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(b"ping")
    ioloop.add_timeout(time.time() + 5, ioloop.stop)  # the seeds' deadline form
    ioloop.start()
    assert client.recv(100) == b"hello from squall\n"
    assert events_seen == [("read", IOLoop.READ), ("write", IOLoop.WRITE)]
    with pytest.raises(KeyError):
        ioloop.update_handler(conns[0], IOLoop.READ)
    ioloop.remove_handler(conns[0])  # removing twice is harmless
    client.close()
    ioloop.close(all_fds=True)
    assert conns[0].fileno() == -1 or True  # closed by close(all_fds) if still registered
    sock.close()
    conns[0].close()
    IOLoop.clear_current()


def test_seed_004_add_callback_and_add_timeout_with_time_time():
    from squall.ioloop import IOLoop

    results = []

    def parse_results(results_in):
        for result in results_in:
            results.append(result * 2)

    IOLoop.instance().add_callback(parse_results, [1, 2, 3])
    start = time.time()
    IOLoop.instance().add_timeout(time.time() + 0.05, IOLoop.instance().stop)
    IOLoop.instance().start()
    assert results == [2, 4, 6]
    assert time.time() - start >= 0.04
    IOLoop.instance().close()
    IOLoop.clear_current()


def test_handler_exception_is_logged(loop):
    r, w = os.pipe()
    try:

        def handler(fd, events):
            loop.remove_handler(fd)
            loop.stop()
            raise RuntimeError("handler failed")

        loop.add_handler(r, handler, IOLoop.READ)
        os.write(w, b"x")
        with ExpectLog("squall.application", "Exception in I/O handler"):
            loop.start()
    finally:
        os.close(r)
        os.close(w)


def test_close_all_fds_closes_registered_objects():
    io_loop = IOLoop(make_current=False)
    a, b = socket.socketpair()
    io_loop.add_handler(a, lambda fd, ev: None, IOLoop.READ | IOLoop.WRITE)
    io_loop.close(all_fds=True)
    assert a.fileno() == -1
    b.close()


def test_configure_chooses_implementation():
    saved = IOLoop._save_configuration()

    class Custom(AsyncIOLoop):
        pass

    try:
        IOLoop.configure(Custom)
        io_loop = IOLoop(make_current=False)
        assert type(io_loop) is Custom
        io_loop.close()
        IOLoop.configure("squall.ioloop.AsyncIOLoop")
        io_loop = IOLoop(make_current=False)
        assert type(io_loop) is AsyncIOLoop
        io_loop.close()
        with pytest.raises(ValueError):
            IOLoop.configure(dict)  # type: ignore[arg-type]
    finally:
        IOLoop._restore_configuration(saved)


def test_periodic_callback_runs_repeatedly_and_stops(loop):
    calls = []

    def tick():
        calls.append(loop.time())
        if len(calls) == 3:
            pc.stop()
            loop.stop()

    pc = PeriodicCallback(tick, 10)
    assert not pc.is_running()
    pc.start()
    assert pc.is_running()
    loop.call_later(2, loop.stop)
    loop.start()
    assert len(calls) == 3
    assert not pc.is_running()


def test_periodic_callback_skips_while_awaitable_runs(loop):
    starts = []

    async def slow():
        starts.append(loop.time())
        await asyncio.sleep(0.05)  # five intervals long

    pc = PeriodicCallback(slow, datetime.timedelta(milliseconds=10), jitter=0.1)
    pc.start()
    loop.call_later(0.17, loop.stop)
    loop.start()
    pc.stop()
    loop.run_sync(lambda: gen.sleep(0.06))  # let the last run finish
    # Never overlapping: at most one start per 50 ms of runtime.
    assert 2 <= len(starts) <= 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= 0.045 for g in gaps)


def test_periodic_callback_logs_errors_and_continues(loop):
    calls = []

    def bad():
        calls.append(1)
        if len(calls) >= 2:
            loop.stop()
        raise ValueError("tick failed")

    async def bad_async():
        raise ValueError("async tick failed")

    pc = PeriodicCallback(bad, 5)
    pc2 = PeriodicCallback(bad_async, 5)
    with ExpectLog("squall.application", "Exception in callback"):
        pc.start()
        pc2.start()
        loop.call_later(2, loop.stop)
        loop.start()
        pc.stop()
        pc2.stop()
        # Let the last async tick's done-callback run (and log) before closing.
        loop.run_sync(lambda: gen.sleep(0.02))
    assert len(calls) >= 2


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_periodic_callback_rejects_bad_interval(bad):
    with pytest.raises(ValueError):
        PeriodicCallback(lambda: None, bad)


def test_clear_instance_and_install(loop):
    IOLoop.clear_instance()
    assert IOLoop.current(instance=False) is not loop or loop.asyncio_loop.is_running()
    loop.install()
    assert IOLoop.current() is loop


def test_hello_world_script_with_instance_start_runs_in_a_subprocess(tmp_path):
    # The seeds' top-level idiom: build things, then IOLoop.instance().start().
    script = tmp_path / "main.py"
    script.write_text(
        "import time\n"
        "from squall.ioloop import IOLoop\n"
        "def stop():\n"
        "    print('stopped', flush=True)\n"
        "    IOLoop.instance().stop()\n"
        "IOLoop.instance().add_timeout(time.time() + 0.05, stop)\n"
        "IOLoop.instance().start()\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stopped"
