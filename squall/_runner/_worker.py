"""One serving process: the application on the listening sockets until a
signal, then a graceful shutdown.

On the first SIGTERM or SIGINT the worker stops accepting, lets requests in
flight finish (up to the graceful timeout), and exits 0. A second signal
exits at once with status 1.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import ssl
import sys
from typing import Any

from squall.httpserver import HTTPServer
from squall.ioloop import IOLoop
from squall.log import access_log, gen_log

from ._options import RunnerConfig
from ._target import Servable, load_target

__all__ = ["serve", "setup_logging"]

# The exit status of a worker cut short by a second signal (as a shell
# reports an interrupted program, but without dying by the signal itself,
# so the supervisor can tell it from a crash).
EXIT_INTERRUPTED = 1

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def setup_logging(config: RunnerConfig) -> None:
    """One line per record on stderr, at ``--log-level``."""
    from squall.log import LogFormatter

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(LogFormatter(color=False))
        root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    # Access lines are INFO: --no-access-log silences just them.
    access_log.disabled = not config.access_log


def _ssl_context(config: RunnerConfig) -> ssl.SSLContext | None:
    if config.certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.certfile, config.keyfile)
    return context


def make_server(config: RunnerConfig, target: Servable) -> HTTPServer:
    kwargs: dict[str, Any] = {"xheaders": config.xheaders, "ssl_options": _ssl_context(config)}
    if config.xheaders:
        kwargs["trusted_proxies"] = [str(net) for net in config.trusted_proxies]
    if config.max_body_size is not None:
        kwargs["max_body_size"] = config.max_body_size
    if config.idle_timeout is not None:
        kwargs["idle_connection_timeout"] = config.idle_timeout
    return HTTPServer(target, **kwargs)


async def _serve(config: RunnerConfig, sockets: list[socket.socket], ready: int | None) -> int:
    target = load_target(config.target, config.factory)
    await _run_startup_hooks(target)
    server = make_server(config, target)
    server.add_sockets(sockets)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            gen_log.warning("second signal: exiting now")
            os._exit(EXIT_INTERRUPTED)
        gen_log.info(
            "%s: shutting down (graceful timeout %gs)",
            signal.Signals(signum).name,
            config.graceful_timeout,
        )
        stopping.set()

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    # SIGHUP is the supervisor's (rolling restart); a worker ignores it.
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    if ready is not None:
        os.write(ready, b"R")
        os.close(ready)
    await stopping.wait()
    await server.shutdown(config.graceful_timeout)
    return 0


async def _run_startup_hooks(target: Servable) -> None:
    """An Application's on_startup hooks, before the first request; one
    that fails stops the worker from starting (as ASGI lifespan does)."""
    for hook in list(getattr(target, "on_startup", None) or ()):
        result = hook()
        if inspect.isawaitable(result):
            await result


def serve(config: RunnerConfig, sockets: list[socket.socket], ready: int | None = None) -> int:
    """Serve until a signal; the process's exit status.

    ``ready``: a pipe to write one byte to once the application is loaded
    and the sockets are served (how the supervisor knows a worker started).
    """
    io_loop = IOLoop(make_current=False)
    try:
        status: int = io_loop.run_sync(lambda: _serve(config, sockets, ready))
        return status
    finally:
        io_loop.close(all_fds=True)
        sys.stdout.flush()
