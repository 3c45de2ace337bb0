"""The listening sockets: from systemd, an inherited fd, a Unix path, or TCP.

The supervisor opens them once, before any worker exists; every worker (and
every replacement of one) serves the same sockets, so a restart never
refuses a connection: the kernel queues it until some worker accepts.
"""

from __future__ import annotations

import os
import socket
import stat

from squall.netutil import bind_sockets, bind_unix_socket

from ._options import RunnerConfig

__all__ = ["SocketError", "describe", "listening_sockets"]

# sd_listen_fds(3): passed sockets start at fd 3.
SD_LISTEN_FDS_START = 3


class SocketError(Exception):
    """A listening socket could not be had: one line for the operator."""


def _systemd_fds(environ: dict[str, str] | os._Environ[str]) -> list[int]:
    """Sockets systemd (or systemd-socket-activate) passed to this process.

    Only when LISTEN_PID names this process (the variables may be left
    over from a parent); they are removed afterwards, so the application's
    own children do not take the sockets for theirs.
    """
    pid, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    if not pid or not count or not pid.isdigit() or int(pid) != os.getpid():
        return []
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    if not count.isdigit():
        raise SocketError(f"LISTEN_FDS is not a number: {count!r}")
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)))


def _adopt(fd: int, origin: str) -> socket.socket:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        raise SocketError(f"{origin}: file descriptor {fd} is not open") from None
    if not stat.S_ISSOCK(mode):
        raise SocketError(f"{origin}: file descriptor {fd} is not a socket")
    sock = socket.socket(fileno=fd)
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise SocketError(f"{origin}: file descriptor {fd} is not a stream socket")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise SocketError(f"{origin}: file descriptor {fd} is not listening")
    sock.setblocking(False)
    return sock


def listening_sockets(config: RunnerConfig) -> list[socket.socket]:
    """The sockets to serve, by the first source configured."""
    systemd = _systemd_fds(os.environ)
    if systemd:
        return [_adopt(fd, "systemd socket activation") for fd in systemd]
    if config.fd is not None:
        return [_adopt(config.fd, "--fd")]
    try:
        if config.uds is not None:
            return [bind_unix_socket(config.uds, mode=0o666)]
        return bind_sockets(config.port, config.host)
    except (OSError, ValueError) as exc:
        where = config.uds if config.uds is not None else f"{config.host}:{config.port}"
        raise SocketError(f"cannot listen on {where}: {exc}") from None


def describe(sock: socket.socket) -> str:
    """Where a listening socket is, as a URL or path for the startup line."""
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{address or '(unnamed)'}"
    host, port = address[0], address[1]
    if sock.family == socket.AF_INET6:
        host = f"[{host}]"
    return f"{host}:{port}"
