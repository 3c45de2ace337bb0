"""``python -m squall``: the command-line runner (private; see docs/deploy.md).

- ``_options``: the command line and its ``SQUALL_*`` environment variables.
- ``_target``: importing ``MODULE:ATTRIBUTE``.
- ``_sockets``: the listening sockets (systemd, ``--fd``, ``--uds``, TCP).
- ``_worker``: one serving process and its graceful shutdown.
- ``_supervisor``: several workers, restarts, rolling replacement (SIGHUP).
- ``_reloader``: ``--reload``'s source watcher.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence

from squall import version
from squall.log import gen_log
from squall.process import cpu_count

from ._options import RunnerConfig, parse_args
from ._reloader import SourceWatcher
from ._sockets import SocketError, describe, listening_sockets
from ._supervisor import Supervisor
from ._target import TargetError
from ._worker import serve, setup_logging

__all__ = ["main"]

# Exit statuses: 2 for a usage error (argparse's), 1 for a failure to start.
EXIT_FAILED_START = 1


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    setup_logging(config)
    try:
        sockets = listening_sockets(config)
    except SocketError as exc:
        print(f"python -m squall: error: {exc}", file=sys.stderr)
        return EXIT_FAILED_START
    workers = config.workers or cpu_count()
    where = ", ".join(describe(s) for s in sockets)
    scheme = "https" if config.certfile else "http"
    gen_log.info(
        "squall %s serving %s on %s (%s) with %d worker(s)%s",
        version,
        config.target,
        where,
        scheme,
        workers,
        ", reloading on changes" if config.reload else "",
    )
    if workers == 1 and not config.reload:
        return _serve_here(config, sockets)
    watcher = SourceWatcher(config) if config.reload else None
    return Supervisor(config, sockets, _serve_in_worker, workers, watcher).run()


def _serve_here(config: RunnerConfig, sockets: list[socket.socket]) -> int:
    try:
        return serve(config, sockets)
    except TargetError as exc:
        print(f"python -m squall: error: {exc}", file=sys.stderr)
        return EXIT_FAILED_START
    finally:
        for sock in sockets:
            sock.close()


def _serve_in_worker(config: RunnerConfig, sockets: list[socket.socket], ready: int) -> int:
    try:
        return serve(config, sockets, ready)
    except TargetError as exc:
        print(f"python -m squall: error: {exc}", file=sys.stderr)
        return EXIT_FAILED_START
