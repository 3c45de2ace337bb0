"""The runner's command line: options, their environment variables, checks.

Every option can also come from the environment as ``SQUALL_<NAME>``
(``--graceful-timeout`` is ``SQUALL_GRACEFUL_TIMEOUT``); the command line
wins. A bad value is one line on stderr and exit status 2, as argparse's
own usage errors are.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from squall import version

__all__ = ["DEFAULT_GRACEFUL_TIMEOUT", "RunnerConfig", "UsageError", "parse_args"]

# The address and port a bare `python -m squall app:app` serves: loopback
# only (a development default, as uvicorn's), on the port Tornado's and the
# seeds' examples use.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8888

# How long a graceful shutdown may take before what is left is cut:
# gunicorn's --graceful-timeout default, and what the issue asks.
DEFAULT_GRACEFUL_TIMEOUT = 30.0

# Which peers may set the client address and scheme with X-Forwarded-*
# headers when --xheaders is on and no --trusted-proxy is given: this host
# only, uvicorn's --forwarded-allow-ips default.
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")

# Files --reload watches, and what it never watches, when no globs are given.
DEFAULT_RELOAD_INCLUDES = ("*.py",)
DEFAULT_RELOAD_EXCLUDES = (".*", ".*/*", "*/.*/*", "*/__pycache__/*", "*.pyc", "*~")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

ENV_PREFIX = "SQUALL_"

_SIZE_SUFFIXES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class UsageError(Exception):
    """A bad option value: printed as one line, exit status 2."""


@dataclasses.dataclass
class RunnerConfig:
    target: str
    factory: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    uds: str | None = None
    fd: int | None = None
    workers: int = 1
    reload: bool = False
    reload_dirs: list[str] = dataclasses.field(default_factory=list)
    reload_includes: list[str] = dataclasses.field(default_factory=list)
    reload_excludes: list[str] = dataclasses.field(default_factory=list)
    xheaders: bool = False
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = dataclasses.field(
        default_factory=list
    )
    certfile: str | None = None
    keyfile: str | None = None
    max_body_size: int | None = None
    idle_timeout: float | None = None
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT
    log_level: str = "info"
    access_log: bool = True


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage before the error; one line is
        # easier to spot in a service's log.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _size(text: str) -> int:
    """``1048576``, ``512k``, ``10M``, ``1G``: a byte count."""
    stripped = text.strip().lower()
    suffix = stripped[-1:] if stripped[-1:] in _SIZE_SUFFIXES else ""
    number = stripped[: len(stripped) - len(suffix)]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r}")
    return int(number) * _SIZE_SUFFIXES[suffix]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {text!r}")
    return int(text)


def _fd(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a file descriptor number: {text!r}")
    return int(text)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address or CIDR range: {text!r}") from None


def _target(text: str) -> str:
    module, sep, attr = text.partition(":")
    if not sep or not module or not attr:
        raise argparse.ArgumentTypeError(f"expected MODULE:ATTRIBUTE, got {text!r}")
    return text


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m squall",
        description=(
            "Serve a squall application. TARGET is MODULE:ATTRIBUTE, naming a "
            "web.Application, an HTTPServerConnectionDelegate, a callable taking an "
            "HTTPServerRequest, or (with --factory) a function returning one of these. "
            "Every option can also be set as an environment variable SQUALL_<OPTION> "
            "(e.g. SQUALL_PORT=9000); the command line wins."
        ),
    )
    add = parser.add_argument
    add("target", type=_target, metavar="TARGET", help="MODULE:ATTRIBUTE to serve")
    add("--factory", action="store_true", help="TARGET is a function returning the app")
    where = parser.add_argument_group(
        "where to listen (the first given wins: systemd, --fd, --uds, TCP)"
    )
    where.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    where.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    where.add_argument("--uds", metavar="PATH", help="listen on this Unix socket instead of TCP")
    where.add_argument("--fd", type=_fd, metavar="N", help="serve an inherited listening socket")
    procs = parser.add_argument_group("processes")
    procs.add_argument(
        "--workers",
        type=_count,
        default=1,
        metavar="N",
        help="worker processes (0: one per CPU; default 1)",
    )
    procs.add_argument(
        "--reload",
        action="store_true",
        help="restart when source files change (development; not with --workers)",
    )
    procs.add_argument(
        "--reload-dir",
        dest="reload_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to watch (repeatable; default: the current one)",
    )
    procs.add_argument(
        "--reload-include",
        dest="reload_includes",
        action="append",
        default=[],
        metavar="GLOB",
        help="watch files matching GLOB (repeatable; default *.py)",
    )
    procs.add_argument(
        "--reload-exclude",
        dest="reload_excludes",
        action="append",
        default=[],
        metavar="GLOB",
        help="never watch files matching GLOB (repeatable)",
    )
    procs.add_argument(
        "--graceful-timeout",
        type=_seconds,
        default=DEFAULT_GRACEFUL_TIMEOUT,
        metavar="SECONDS",
        help=f"on SIGTERM/SIGINT, how long requests in flight may take before they are cut (default {DEFAULT_GRACEFUL_TIMEOUT:g})",
    )
    http = parser.add_argument_group("HTTP")
    http.add_argument(
        "--xheaders",
        action="store_true",
        help="take the client address and scheme from X-Real-Ip/X-Forwarded-For/X-Scheme/X-Forwarded-Proto, from trusted proxies only",
    )
    http.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        type=_network,
        action="append",
        default=[],
        metavar="ADDR",
        help="an address or CIDR range whose X-Forwarded-* headers are believed (repeatable; default loopback); implies --xheaders",
    )
    http.add_argument("--certfile", help="TLS certificate chain (PEM); with --keyfile, serve HTTPS")
    http.add_argument("--keyfile", help="TLS private key (PEM)")
    http.add_argument(
        "--max-body-size",
        type=_size,
        metavar="BYTES",
        help="largest request body accepted (e.g. 100M)",
    )
    http.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="close keep-alive connections idle this long",
    )
    logs = parser.add_argument_group("logging")
    logs.add_argument("--log-level", choices=LOG_LEVELS, default="info", type=str.lower)
    logs.add_argument(
        "--access-log",
        dest="access_log",
        action="store_true",
        default=True,
        help="log one line per request (default)",
    )
    logs.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="do not log requests"
    )
    parser.add_argument("--version", action="version", version=f"squall {version}")
    return parser


# Options whose environment variable holds a list (comma-separated) or a flag.
_LIST_OPTIONS = {"trusted_proxies", "reload_dirs", "reload_includes", "reload_excludes"}
_FLAG_OPTIONS = {"factory", "reload", "xheaders", "access_log"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


def _environment_defaults(parser: _Parser, environ: Mapping[str, str]) -> None:
    """Turn SQUALL_* variables into defaults, checked as the options are."""
    defaults: dict[str, object] = {}
    for action in parser._actions:
        dest, convert = action.dest, action.type
        if isinstance(action, argparse._StoreFalseAction):
            continue  # --no-access-log: SQUALL_ACCESS_LOG=0 says it
        if dest in ("help", "version", "target") or dest in defaults or not action.option_strings:
            continue
        # Named after the option (--trusted-proxy: SQUALL_TRUSTED_PROXY).
        name = ENV_PREFIX + action.option_strings[0].lstrip("-").upper().replace("-", "_")
        if name not in environ:
            continue
        raw = environ[name]
        try:
            if dest in _FLAG_OPTIONS:
                defaults[dest] = raw.strip().lower() not in _FALSE_WORDS
            elif dest in _LIST_OPTIONS:
                items = [item for item in raw.split(",") if item.strip()]
                defaults[dest] = [convert(item) if callable(convert) else item for item in items]
            elif dest == "log_level":
                if raw.lower() not in LOG_LEVELS:
                    raise argparse.ArgumentTypeError(f"not a log level: {raw!r}")
                defaults[dest] = raw.lower()
            else:
                defaults[dest] = convert(raw) if callable(convert) else raw
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{name}: {exc}")
    parser.set_defaults(**defaults)


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> RunnerConfig:
    """The runner's configuration from the command line and the environment."""
    parser = _build_parser()
    _environment_defaults(parser, os.environ if environ is None else environ)
    namespace = parser.parse_args(sys.argv[1:] if argv is None else argv)
    config = RunnerConfig(**vars(namespace))
    try:
        _check(config)
    except UsageError as exc:
        parser.error(str(exc))
    return config


def _check(config: RunnerConfig) -> None:
    """Rules between options, which argparse cannot say."""
    if config.reload and config.workers != 1:
        raise UsageError("--reload cannot be used with --workers (reload runs one worker)")
    if (config.certfile is None) != (config.keyfile is None):
        raise UsageError("--certfile and --keyfile go together")
    for path in (config.certfile, config.keyfile):
        if path is not None and not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
    if config.trusted_proxies:
        config.xheaders = True
    elif config.xheaders:
        config.trusted_proxies = [ipaddress.ip_network(a) for a in DEFAULT_TRUSTED_PROXIES]
    if not config.reload_includes:
        config.reload_includes = list(DEFAULT_RELOAD_INCLUDES)
    config.reload_excludes = list(DEFAULT_RELOAD_EXCLUDES) + config.reload_excludes
    if not config.reload_dirs:
        config.reload_dirs = [os.getcwd()]
    for directory in config.reload_dirs:
        if config.reload and not os.path.isdir(directory):
            raise UsageError(f"--reload-dir: no such directory: {directory}")
