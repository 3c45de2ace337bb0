"""squall's loggers and the formatter and setup that make their output readable.

squall logs through three loggers, each with one job:

* ``access_log`` (``squall.access``): one line per finished request.
* ``app_log`` (``squall.application``): errors escaping application code,
  such as an uncaught exception in a handler or a scheduled callback.
* ``gen_log`` (``squall.general``): everything else squall itself reports,
  chiefly protocol and parse errors from peers.

``enable_pretty_logging`` installs handlers using ``LogFormatter`` according to
the logging options (``--logging``, ``--log-file-prefix`` ...), which
``define_logging_options`` declares. ``squall.options`` declares them on the
global parser when it is imported and applies them after
``parse_command_line``. This module imports ``squall.options`` only inside
functions, so that ``squall.options`` can import it at load time.
"""

from __future__ import annotations

import importlib
import logging
import logging.handlers
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squall.options import OptionParser

__all__ = [
    "LogFormatter",
    "access_log",
    "app_log",
    "define_logging_options",
    "enable_pretty_logging",
    "gen_log",
]

access_log = logging.getLogger("squall.access")
app_log = logging.getLogger("squall.application")
gen_log = logging.getLogger("squall.general")

# Continuation lines (the rest of a multi-line message, a traceback) are
# indented by this much so that each record stands out as one block.
_CONTINUATION_INDENT = "    "

# Used when the terminal database has no colour entry: the standard SGR escapes
# that every ANSI terminal understands ("foreground colour n", "reset").
_ANSI_FOREGROUND = "\033[3{}m"
_ANSI_RESET = "\033[0m"


def _optional_curses() -> ModuleType | None:
    """The curses module, or None on builds without it (Windows)."""
    try:
        return importlib.import_module("curses")
    except ImportError:  # pragma: no cover - only where curses is missing
        return None


# A module attribute, so that tests can stand in a fake terminal database.
curses = _optional_curses()


def _stderr_supports_color() -> bool:
    """Whether sys.stderr is a terminal that says it can show colours."""
    try:
        if not sys.stderr.isatty():
            return False
    except (AttributeError, ValueError):
        # Replaced or closed stderr objects do not always support isatty().
        return False
    if curses is None:
        return False
    try:
        # Describe the terminal stderr is on (the default would be stdout's).
        curses.setupterm(fd=sys.stderr.fileno())
        return bool(curses.tigetnum("colors") > 0)
    except Exception:
        # No terminfo entry for $TERM, no $TERM at all, or no real file
        # behind sys.stderr: colour is optional, so play it safe.
        return False


def _terminal_codes(colors: dict[int, int]) -> tuple[dict[int, str], str]:
    """The escape sequences for ``colors`` (level -> colour number) and reset.

    The terminal database's own sequences are preferred, as they are right for
    the terminal in use; plain ANSI escapes stand in when it cannot be read.
    """
    if curses is not None:
        try:
            foreground = curses.tigetstr("setaf") or curses.tigetstr("setf")
            reset = curses.tigetstr("sgr0")
            if foreground and reset:
                codes = {
                    level: curses.tparm(foreground, number).decode("ascii")
                    for level, number in colors.items()
                }
                return codes, reset.decode("ascii")
        except Exception:
            # setupterm() was never called or the entry is unusable.
            pass
    return {level: _ANSI_FOREGROUND.format(n) for level, n in colors.items()}, _ANSI_RESET


def _as_text(message: object) -> str:
    if isinstance(message, bytes):
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            return repr(message)
    return str(message)


class LogFormatter(logging.Formatter):
    """Formats records as ``[L yymmdd HH:MM:SS module:lineno] message``.

    ``L`` is the first letter of the level name. On a colour terminal (stderr
    is a tty and ``color`` is true) the bracketed prefix is coloured by level,
    using ``colors`` (level number -> terminal colour number 0-7). The format
    string may use ``%(color)s`` and ``%(end_color)s`` around the part to
    colour; both are empty when colour is off.

    Lines after the first (of the message, traceback or stack) are indented.
    A message that cannot be built (its arguments do not fit the format
    string, its ``__str__`` raises) is logged as a "Bad message" line showing
    the record's contents, since raising here would lose the record entirely.
    """

    DEFAULT_FORMAT = (
        "%(color)s[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
    )
    DEFAULT_DATE_FORMAT = "%y%m%d %H:%M:%S"
    # Terminal colour numbers: 1 red, 2 green, 3 yellow, 4 blue, 5 magenta.
    DEFAULT_COLORS = {
        logging.ERROR: 1,
        logging.INFO: 2,
        logging.WARNING: 3,
        logging.DEBUG: 4,
        logging.CRITICAL: 5,
    }

    def __init__(
        self,
        fmt: str = DEFAULT_FORMAT,
        datefmt: str = DEFAULT_DATE_FORMAT,
        style: str = "%",
        color: bool = True,
        colors: dict[int, int] = DEFAULT_COLORS,
    ) -> None:
        # The base class checks fmt against style and renders it for us.
        super().__init__(fmt=fmt, datefmt=datefmt, style=style)  # type: ignore[arg-type]
        self._colors: dict[int, str] = {}
        self._normal = ""
        if color and _stderr_supports_color():
            self._colors, self._normal = _terminal_codes(colors)

    def format(self, record: logging.LogRecord) -> str:
        try:
            record.message = _as_text(record.getMessage())
        except Exception as e:
            record.message = f"Bad message ({e!r}): {record.__dict__!r}"
        record.asctime = self.formatTime(record, self.datefmt)
        color = self._colors.get(record.levelno)
        record.color = color or ""
        record.end_color = self._normal if color else ""
        parts = [self.formatMessage(record)]
        if record.exc_info and not record.exc_text:
            # Cached on the record like the base class does, so that other
            # handlers do not format the same traceback again.
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts).replace("\n", "\n" + _CONTINUATION_INDENT)


def _level_number(name: str) -> int:
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(
            f"Unknown logging level {name!r}: use debug, info, warning, error, critical or none"
        )
    return level


def _file_handler(options: Any) -> logging.Handler:
    """The rotating handler for ``log_file_prefix``, per ``log_rotate_mode``."""
    mode = options.log_rotate_mode
    if mode not in ("size", "time"):
        raise ValueError(f'The log_rotate_mode option must be "size" or "time", not {mode!r}')
    path = options.log_file_prefix
    keep = options.log_file_num_backups
    if mode == "time":
        every = options.log_rotate_interval
        unit = options.log_rotate_when
        return logging.handlers.TimedRotatingFileHandler(
            path, when=unit, interval=every, backupCount=keep, encoding="utf-8"
        )
    limit = options.log_file_max_size
    # Appending ("a") is the handler's default mode.
    return logging.handlers.RotatingFileHandler(
        path, maxBytes=limit, backupCount=keep, encoding="utf-8"
    )


def enable_pretty_logging(options: Any = None, logger: logging.Logger | None = None) -> None:
    """Set up ``logger`` (default: the root logger) from the logging options.

    ``options`` is any object with the attributes ``define_logging_options``
    declares; by default the global ``squall.options.options``. A ``logging``
    option of ``"none"`` (or None) leaves logging untouched. Otherwise the
    level is set, a (rotating) file handler is added when
    ``log_file_prefix`` is set, and a colourised stderr handler is added when
    ``log_to_stderr`` is true, or is None and the logger has no handler yet.

    Raises ``ValueError`` for an unknown level or rotate mode, before the
    logger is changed.
    """
    if options is None:
        from squall.options import options as global_options

        options = global_options
    requested_level = options.logging
    if requested_level is None or requested_level.lower() == "none":
        return
    target = logging.getLogger() if logger is None else logger
    # Both can raise ValueError: they run before the logger is touched.
    level = _level_number(requested_level)
    file_handler = _file_handler(options) if options.log_file_prefix else None
    target.setLevel(level)
    if file_handler is not None:
        file_handler.setFormatter(LogFormatter(color=False))
        target.addHandler(file_handler)
    to_stderr = options.log_to_stderr
    # None means "only if nothing else reports yet", the file handler included.
    if to_stderr is None:
        to_stderr = not target.handlers
    if to_stderr:
        stderr_handler = logging.StreamHandler()
        stderr_handler.setFormatter(LogFormatter())
        target.addHandler(stderr_handler)


# What define_logging_options declares, in order:
# (name, type, default, metavar, help).
_LOGGING_OPTIONS: tuple[tuple[str, type, Any, str | None, str], ...] = (
    (
        "logging",
        str,
        "info",
        "debug|info|warning|error|none",
        "Level of the Python logging setup; 'none' leaves logging alone.",
    ),
    (
        "log_to_stderr",
        bool,
        None,
        None,
        "Log to stderr (in colour on a terminal). When unset, stderr is used "
        "only if no log file is given and no other handler is configured.",
    ),
    (
        "log_file_prefix",
        str,
        None,
        "PATH",
        "Write the log to this file. Several processes must not share one "
        "file: give each its own (add the port number, for example).",
    ),
    (
        "log_file_max_size",
        int,
        100 * 1000 * 1000,
        None,
        "Size in bytes at which the log file is rotated (size mode).",
    ),
    ("log_file_num_backups", int, 10, None, "Number of rotated log files to keep."),
    (
        "log_rotate_when",
        str,
        "midnight",
        None,
        "Unit of the rotation interval in time mode, as in "
        "TimedRotatingFileHandler: S, M, H, D, W0-W6 or midnight.",
    ),
    (
        "log_rotate_interval",
        int,
        1,
        None,
        "Number of log_rotate_when units between rotations (time mode).",
    ),
    ("log_rotate_mode", str, "size", None, "Rotate the log file by 'size' or by 'time'."),
)


def define_logging_options(options: OptionParser | None = None) -> None:
    """Declare the logging options on ``options`` (default: the global parser).

    Also registers a parse callback, so that a final ``parse_command_line`` or
    ``parse_config_file`` applies them with ``enable_pretty_logging``.
    """
    if options is None:
        from squall.options import options as global_options

        options = global_options
    for name, value_type, default, metavar, help_text in _LOGGING_OPTIONS:
        options.define(name, default=default, type=value_type, help=help_text, metavar=metavar)
    parser = options
    parser.add_parse_callback(lambda: enable_pretty_logging(parser))
