"""The supervisor: workers forked onto shared sockets, kept alive, replaced.

The supervisor never imports the application and never runs an event loop:
each worker is forked from it and loads the application itself, so a worker
started after a code change (SIGHUP, --reload) runs the new code.

- A worker reports it is ready by writing a byte on a pipe once it serves.
- A worker that dies after being ready is started again after a backoff
  delay that doubles per quick death and resets once a worker has lived
  for a while.
- Workers that die before ever being ready at startup mean the application
  cannot start: the supervisor stops them all and exits 1 with one line,
  rather than restarting them forever.
- SIGHUP (and a source change under --reload) replaces the workers one by
  one: a new one is started and must be ready before an old one is asked to
  stop. The listening sockets stay open in the supervisor throughout, so no
  connection is refused; one the old worker no longer accepts waits in the
  kernel's queue for another.
- SIGTERM/SIGINT is passed on to every worker; the supervisor exits once
  they have (0 if they all shut down cleanly). A second one is passed on
  too, which makes the workers exit at once.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable

from squall.log import gen_log

from ._options import RunnerConfig

__all__ = ["Supervisor"]

# How long a new worker may take to load the application and start serving
# before it counts as failed (gunicorn's --timeout default is 30 s too).
WORKER_START_TIMEOUT = 30.0

# Restart backoff: the first restart waits MIN, each quick death doubles it
# up to MAX; a worker that lived STABLE seconds resets it (systemd's
# RestartSec/StartLimit idea, with uvicorn-like small numbers).
RESTART_BACKOFF_MIN = 0.1
RESTART_BACKOFF_MAX = 10.0
RESTART_STABLE_AFTER = 10.0

# How much longer than the graceful timeout the supervisor waits for
# workers asked to stop before it kills them (their own timer should end
# them first; this covers a worker stuck outside its event loop).
KILL_MARGIN = 5.0

# How often the supervisor wakes with nothing to do (checks timers).
TICK = 0.25

ServeFunction = Callable[[RunnerConfig, list[socket.socket], int], int]


@dataclasses.dataclass
class _Worker:
    pid: int
    ready_fd: int
    started: float
    ready: bool = False
    stopping: bool = False
    stop_sent_at: float = 0.0


class Supervisor:
    def __init__(
        self,
        config: RunnerConfig,
        sockets: list[socket.socket],
        serve: ServeFunction,
        count: int,
        watcher: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.sockets = sockets
        self.serve = serve
        self.count = count
        # Called every tick under --reload: True when sources changed.
        self.watcher = watcher
        self.workers: dict[int, _Worker] = {}
        self.selector = selectors.DefaultSelector()
        self.signal_r, self.signal_w = os.pipe()
        os.set_blocking(self.signal_r, False)
        os.set_blocking(self.signal_w, False)
        self.selector.register(self.signal_r, selectors.EVENT_READ, None)
        self.stop_signals = 0
        self.backoff = RESTART_BACKOFF_MIN
        self.restart_at: float | None = None  # a death is waiting for its backoff
        self.missing = 0  # workers to start again after deaths
        self.rolling: list[int] = []  # old pids still to replace
        self.startup = True  # no worker has been ready yet
        self.exit_status = 0

    # -- signals ---------------------------------------------------------------------

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self.signal_w, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, lambda *_: None)

    def _read_signals(self) -> list[int]:
        try:
            data = os.read(self.signal_r, 64)
        except BlockingIOError:
            return []
        return list(data)

    # -- workers ---------------------------------------------------------------------

    def _spawn(self) -> None:
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured by the subprocess tests
            os.close(ready_r)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            self.selector.close()
            os.close(self.signal_r)
            os.close(self.signal_w)
            status = 1
            try:
                status = self.serve(self.config, self.sockets, ready_w)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                gen_log.exception("worker %d failed", os.getpid())
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        os.close(ready_w)
        os.set_blocking(ready_r, False)
        self.workers[pid] = _Worker(pid, ready_r, time.monotonic())
        self.selector.register(ready_r, selectors.EVENT_READ, pid)

    def _on_ready(self, pid: int) -> None:
        worker = self.workers.get(pid)
        if worker is None:
            return
        try:
            data = os.read(worker.ready_fd, 1)
        except BlockingIOError:
            return
        self._forget_pipe(worker)
        if not data:
            return  # closed without a byte: it died first; waitpid tells
        worker.ready = True
        if self.startup and all(w.ready for w in self.workers.values()):
            self.startup = False
            gen_log.info("%d worker(s) ready", len(self.workers))
        if self.rolling:
            self._stop_worker(self.rolling.pop(0))
            self._continue_rolling()

    def _forget_pipe(self, worker: _Worker) -> None:
        if worker.ready_fd >= 0:
            self.selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = -1

    def _stop_worker(self, pid: int, signum: int = signal.SIGTERM) -> None:
        worker = self.workers.get(pid)
        if worker is None:
            return
        if not worker.stopping:
            worker.stopping = True
            worker.stop_sent_at = time.monotonic()
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self._forget_pipe(worker)
            self._on_exit(worker, status)

    def _on_exit(self, worker: _Worker, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        if worker.stopping:
            if code != 0:
                self.exit_status = 1
            gen_log.info("worker %d stopped (status %d)", worker.pid, code)
            return
        if self.stop_signals:
            return
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        if not worker.ready:
            if self.startup or self.rolling:
                self._failed_start(worker, how)
                return
        gen_log.warning("worker %d died (%s); starting another", worker.pid, how)
        now = time.monotonic()
        if now - worker.started >= RESTART_STABLE_AFTER:
            self.backoff = RESTART_BACKOFF_MIN
        self.missing += 1
        if self.restart_at is None:
            self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, RESTART_BACKOFF_MAX)

    def _failed_start(self, worker: _Worker, how: str) -> None:
        if self.rolling or (self.watcher is not None and not self.startup):
            # A replacement that cannot start: keep the workers that run.
            gen_log.error(
                "new worker %d failed to start (%s); keeping the running workers",
                worker.pid,
                how,
            )
            self.rolling.clear()
            return
        gen_log.error("worker %d failed to start (%s); stopping", worker.pid, how)
        self.exit_status = 1
        self._begin_stop(signal.SIGTERM)

    def _check_start_timeouts(self, now: float) -> None:
        for worker in list(self.workers.values()):
            if not worker.ready and not worker.stopping:
                if now - worker.started > WORKER_START_TIMEOUT:
                    gen_log.error("worker %d not ready after %gs", worker.pid, WORKER_START_TIMEOUT)
                    self._stop_worker(worker.pid, signal.SIGKILL)
            elif worker.stopping:
                limit = self.config.graceful_timeout + KILL_MARGIN
                if now - worker.stop_sent_at > limit:
                    self._stop_worker(worker.pid, signal.SIGKILL)

    # -- rolling restart ---------------------------------------------------------------

    def _begin_rolling(self, why: str) -> None:
        if self.rolling:
            return  # one at a time; this one already picks up the change
        self.rolling = [w.pid for w in self.workers.values() if not w.stopping]
        gen_log.info("%s: replacing %d worker(s) one by one", why, len(self.rolling))
        self._continue_rolling()

    def _continue_rolling(self) -> None:
        if self.rolling:
            self._spawn()
        else:
            gen_log.info("all workers replaced")

    # -- stopping ----------------------------------------------------------------------

    def _begin_stop(self, signum: int) -> None:
        self.stop_signals += 1
        self.rolling.clear()
        for pid in list(self.workers):
            self._stop_worker(pid, signum)

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        try:
            for _ in range(self.count):
                self._spawn()
            while self.workers or (not self.stop_signals and self.missing):
                self._tick()
            return self.exit_status
        finally:
            for sock in self.sockets:
                sock.close()
            signal.set_wakeup_fd(-1)
            self.selector.close()
            os.close(self.signal_r)
            os.close(self.signal_w)

    def _tick(self) -> None:
        now = time.monotonic()
        timeout = TICK
        if self.restart_at is not None:
            timeout = max(0.0, min(timeout, self.restart_at - now))
        try:
            events = self.selector.select(timeout)
        except OSError as exc:  # pragma: no cover - EINTR is retried by Python
            if exc.errno != errno.EINTR:
                raise
            events = []
        for key, _ in events:
            if key.data is None:
                for signum in self._read_signals():
                    self._on_signal(signum)
            else:
                self._on_ready(key.data)
        self._reap()
        now = time.monotonic()
        self._check_start_timeouts(now)
        if self.restart_at is not None and now >= self.restart_at and not self.stop_signals:
            self.restart_at = None
            while self.missing:
                self.missing -= 1
                self._spawn()
        if self.watcher is not None and not self.stop_signals and self.watcher():
            self._begin_rolling("source changed")

    def _on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            name = signal.Signals(signum).name
            if self.stop_signals:
                gen_log.warning("%s again: workers exit now", name)
            else:
                gen_log.info("%s: stopping workers gracefully", name)
            self._begin_stop(signum)
        elif signum == signal.SIGHUP and not self.stop_signals:
            self._begin_rolling("SIGHUP")
