"""Tests for squall.log: the loggers, LogFormatter and logging setup."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import squall.log
from squall.log import (
    LogFormatter,
    access_log,
    app_log,
    define_logging_options,
    enable_pretty_logging,
    gen_log,
)
from squall.options import Error, OptionParser, options

CREATED = 1_700_000_000.0
STAMP = time.strftime("%y%m%d %H:%M:%S", time.localtime(CREATED))


def make_record(
    msg: Any,
    args: Any = (),
    level: int = logging.INFO,
    exc_info: Any = None,
    sinfo: str | None = None,
) -> logging.LogRecord:
    record = logging.LogRecord(
        "test", level, "/srv/app/handlers.py", 42, msg, args, exc_info, sinfo=sinfo
    )
    record.created = CREATED
    record.msecs = 0
    return record


def plain(msg: Any, *args: Any, level: int = logging.INFO) -> str:
    return LogFormatter(color=False).format(make_record(msg, args, level))


@pytest.fixture
def no_color_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(squall.log, "_stderr_supports_color", lambda: False)


@pytest.fixture
def color_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A colour terminal with no terminfo: the formatter uses plain ANSI codes."""
    monkeypatch.setattr(squall.log, "_stderr_supports_color", lambda: True)
    monkeypatch.setattr(squall.log, "curses", None)


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of the test's own, left without handlers afterwards."""
    # It propagates: pytest attaches its capture handlers to loggers that
    # do not, which would defeat the checks on the handlers we add.
    log = logging.getLogger(f"squall-test.{request.node.name}")
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    log.setLevel(logging.NOTSET)


@pytest.fixture
def parser() -> OptionParser:
    parser = OptionParser()
    define_logging_options(parser)
    return parser


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger; handlers the test adds with a LogFormatter are removed."""
    root = logging.getLogger()
    level = root.level
    yield root
    for handler in list(root.handlers):
        if isinstance(handler.formatter, LogFormatter):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_exported_names() -> None:
    assert sorted(squall.log.__all__) == [
        "LogFormatter",
        "access_log",
        "app_log",
        "define_logging_options",
        "enable_pretty_logging",
        "gen_log",
    ]
    for name in squall.log.__all__:
        assert hasattr(squall.log, name)


def test_logger_names() -> None:
    assert access_log is logging.getLogger("squall.access")
    assert app_log is logging.getLogger("squall.application")
    assert gen_log is logging.getLogger("squall.general")


# --- LogFormatter ---------------------------------------------------------------


def test_formatter_defaults() -> None:
    assert LogFormatter.DEFAULT_DATE_FORMAT == "%y%m%d %H:%M:%S"
    assert LogFormatter.DEFAULT_COLORS == {10: 4, 20: 2, 30: 3, 40: 1, 50: 5}
    for field in ("%(color)s", "%(end_color)s", "%(levelname)1.1s", "%(message)s"):
        assert field in LogFormatter.DEFAULT_FORMAT


def test_format_shape(no_color_terminal: None) -> None:
    assert plain("hello %s", "world") == f"[I {STAMP} handlers:42] hello world"


@pytest.mark.parametrize(
    ("level", "letter"),
    [
        (logging.DEBUG, "D"),
        (logging.INFO, "I"),
        (logging.WARNING, "W"),
        (logging.ERROR, "E"),
        (logging.CRITICAL, "C"),
        (5, "L"),  # an unnamed level is "Level 5"
    ],
)
def test_level_letter(level: int, letter: str) -> None:
    assert plain("m", level=level) == f"[{letter} {STAMP} handlers:42] m"


def test_multi_line_message_is_indented() -> None:
    assert plain("one\ntwo\nthree") == f"[I {STAMP} handlers:42] one\n    two\n    three"


def test_non_string_messages() -> None:
    assert plain(123) == f"[I {STAMP} handlers:42] 123"
    assert plain(None) == f"[I {STAMP} handlers:42] None"
    assert plain(b"\xff\xfe") == f"[I {STAMP} handlers:42] b'\\xff\\xfe'"
    assert plain("%s", b"\xff") == f"[I {STAMP} handlers:42] b'\\xff'"


class BytesRecord(logging.LogRecord):
    """A record whose message comes out as bytes, as some adapters produce."""

    def getMessage(self) -> Any:
        return self.msg


def test_bytes_message_decoded_or_shown_as_repr() -> None:
    formatter = LogFormatter(color=False)
    good = BytesRecord("t", logging.INFO, "/x/mod.py", 1, "café".encode(), (), None)
    bad = BytesRecord("t", logging.INFO, "/x/mod.py", 1, b"caf\xe9", (), None)
    assert formatter.format(good).endswith("] café")
    assert formatter.format(bad).endswith("] b'caf\\xe9'")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot print")


@pytest.mark.parametrize(
    ("msg", "args", "error"),
    [
        ("x %s %s", ("one",), "TypeError('not enough arguments for format string')"),
        ("x %d", ("one",), "TypeError('%d format: a real number is required, not str')"),
        (Unprintable(), (), "RuntimeError('cannot print')"),
    ],
)
def test_bad_message_becomes_placeholder(msg: Any, args: Any, error: str) -> None:
    line = LogFormatter(color=False).format(make_record(msg, args))
    assert line.startswith(f"[I {STAMP} handlers:42] Bad message ({error}): {{")
    assert "'lineno': 42" in line
    assert "\n" not in line


def test_bad_message_through_a_handler_does_not_raise(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keep the bad record away from pytest's own handlers, which would raise.
    monkeypatch.setattr(logger, "propagate", False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormatter(color=False))
    logger.addHandler(handler)
    logger.warning("%d apples", "three")
    logger.warning("fine")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "] Bad message (TypeError(" in lines[0]
    assert lines[1].endswith("] fine")


def raise_and_capture() -> Any:
    try:
        raise ValueError("broken\nin two")
    except ValueError:
        return sys.exc_info()


def test_exception_is_indented_and_cached() -> None:
    record = make_record("failed\nbadly", exc_info=raise_and_capture())
    text = LogFormatter(color=False).format(record)
    lines = text.split("\n")
    assert lines[0] == f"[I {STAMP} handlers:42] failed"
    assert lines[1] == "    badly"
    assert lines[2] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") for line in lines[1:])
    assert lines[-2:] == ["    ValueError: broken", "    in two"]
    # Kept on the record for other handlers, unindented like the base class's.
    assert record.exc_text is not None
    assert record.exc_text.startswith("Traceback (most recent call last):\n  File ")


def test_precomputed_exc_text_is_used() -> None:
    record = make_record("x")
    record.exc_text = "already\nformatted"
    assert LogFormatter(color=False).format(record) == (
        f"[I {STAMP} handlers:42] x\n    already\n    formatted"
    )


def test_stack_info_is_indented() -> None:
    record = make_record("x", sinfo="Stack (most recent call last):\n  File 'a.py'")
    assert LogFormatter(color=False).format(record) == (
        f"[I {STAMP} handlers:42] x\n    Stack (most recent call last):\n      File 'a.py'"
    )


def test_custom_format_and_date_format() -> None:
    formatter = LogFormatter(fmt="%(levelname)s|%(name)s|%(asctime)s|%(message)s", datefmt="%Y")
    year = time.strftime("%Y", time.localtime(CREATED))
    assert formatter.format(make_record("m")) == f"INFO|test|{year}|m"


def test_brace_and_dollar_styles(color_terminal: None) -> None:
    brace = LogFormatter(fmt="{color}{levelname}{end_color} {message}", style="{")
    dollar = LogFormatter(fmt="${color}${levelname}${end_color} ${message}", style="$")
    assert brace.format(make_record("m")) == "\033[32mINFO\033[0m m"
    assert dollar.format(make_record("m")) == "\033[32mINFO\033[0m m"


def test_bad_style_or_format_rejected() -> None:
    with pytest.raises(ValueError, match="Style must be one of"):
        LogFormatter(style="?")
    with pytest.raises(ValueError, match="Invalid format"):
        LogFormatter(fmt="no fields at all")


def test_no_color_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    record = make_record("m", level=logging.ERROR)
    assert LogFormatter().format(record) == f"[E {STAMP} handlers:42] m"


def test_ansi_colors_by_level(color_terminal: None) -> None:
    formatter = LogFormatter()
    for level, code in LogFormatter.DEFAULT_COLORS.items():
        text = formatter.format(make_record("m", level=level))
        letter = logging.getLevelName(level)[0]
        assert text == f"\033[3{code}m[{letter} {STAMP} handlers:42]\033[0m m"
    # Levels without a colour are left plain.
    assert formatter.format(make_record("m", level=5)) == f"[L {STAMP} handlers:42] m"


def test_color_false_and_custom_colors(color_terminal: None) -> None:
    assert LogFormatter(color=False).format(make_record("m")) == f"[I {STAMP} handlers:42] m"
    custom = LogFormatter(colors={logging.INFO: 6})
    assert custom.format(make_record("m")) == f"\033[36m[I {STAMP} handlers:42]\033[0m m"
    assert custom.format(make_record("m", level=logging.ERROR)) == f"[E {STAMP} handlers:42] m"


def fake_curses(**overrides: Any) -> types.SimpleNamespace:
    """Stands in for the curses module, whose terminal setup can run only once."""
    strings = {"setaf": b"<fg%d>", "setf": b"<old%d>", "sgr0": b"<reset>"}

    def tigetstr(name: str) -> bytes | None:
        return strings.get(name)

    def tparm(template: bytes, number: int) -> bytes:
        return template % number

    namespace = types.SimpleNamespace(
        setupterm=lambda **kwargs: None,
        tigetnum=lambda name: 8,
        tigetstr=tigetstr,
        tparm=tparm,
    )
    for key, value in overrides.items():
        if key in strings:
            strings[key] = value
        else:
            setattr(namespace, key, value)
    return namespace


def test_terminal_codes_from_terminfo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(squall.log, "_stderr_supports_color", lambda: True)
    monkeypatch.setattr(squall.log, "curses", fake_curses())
    text = LogFormatter().format(make_record("m", level=logging.WARNING))
    assert text == f"<fg3>[W {STAMP} handlers:42]<reset> m"
    # Terminals with only the older colour capability.
    monkeypatch.setattr(squall.log, "curses", fake_curses(setaf=None))
    text = LogFormatter().format(make_record("m", level=logging.WARNING))
    assert text == f"<old3>[W {STAMP} handlers:42]<reset> m"


def refuse(name: str) -> bytes:
    # What curses.tigetstr does when setupterm() was never called.
    raise RuntimeError("must call setupterm() first")


@pytest.mark.parametrize(
    "overrides",
    [
        {"setaf": None, "setf": None},
        {"sgr0": None},
        {"tigetstr": refuse},
    ],
)
def test_terminal_codes_fall_back_to_ansi(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any]
) -> None:
    monkeypatch.setattr(squall.log, "_stderr_supports_color", lambda: True)
    monkeypatch.setattr(squall.log, "curses", fake_curses(**overrides))
    text = LogFormatter().format(make_record("m", level=logging.WARNING))
    assert text == f"\033[33m[W {STAMP} handlers:42]\033[0m m"


class FakeStderr(io.StringIO):
    def __init__(self, tty: bool, fd: int | None = None) -> None:
        super().__init__()
        self._tty = tty
        self._fd = fd

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        if self._fd is None:
            raise io.UnsupportedOperation("no file behind this stream")
        return self._fd


def test_stderr_supports_color(monkeypatch: pytest.MonkeyPatch) -> None:
    supports = squall.log._stderr_supports_color
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(squall.log, "curses", fake_curses(setupterm=lambda **kw: calls.append(kw)))
    monkeypatch.setattr(sys, "stderr", FakeStderr(tty=True, fd=7))
    assert supports() is True
    assert calls == [{"fd": 7}]  # the terminal stderr is on, not stdout's
    monkeypatch.setattr(squall.log, "curses", fake_curses(tigetnum=lambda name: -1))
    assert supports() is False  # a terminal without colours
    monkeypatch.setattr(sys, "stderr", FakeStderr(tty=True, fd=None))
    monkeypatch.setattr(squall.log, "curses", fake_curses())
    assert supports() is False
    monkeypatch.setattr(sys, "stderr", FakeStderr(tty=False, fd=7))
    assert supports() is False
    monkeypatch.setattr(sys, "stderr", object())
    assert supports() is False
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    assert supports() is False
    monkeypatch.setattr(sys, "stderr", FakeStderr(tty=True, fd=7))
    monkeypatch.setattr(squall.log, "curses", None)
    assert supports() is False


COLOR_SCRIPT = """
import logging
from squall.log import LogFormatter
handler = logging.StreamHandler()
handler.setFormatter(LogFormatter())
log = logging.getLogger("demo")
log.addHandler(handler)
log.warning("on a terminal")
"""


def run_on_terminal(term: str) -> bytes:
    """Run COLOR_SCRIPT with stderr on a pseudo-terminal; returns what it wrote."""
    pty = pytest.importorskip("pty")
    controller, worker = pty.openpty()
    try:
        env = {**os.environ, "TERM": term}
        subprocess.run(
            [sys.executable, "-c", COLOR_SCRIPT],
            stderr=worker,
            stdout=subprocess.DEVNULL,
            env=env,
            check=True,
            timeout=60,
        )
        os.close(worker)
        worker = -1
        output = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            output += chunk
        return output
    finally:
        os.close(controller)
        if worker >= 0:
            os.close(worker)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_real_terminal_gets_colors() -> None:
    output = run_on_terminal("xterm-256color")
    if b"\x1b[" not in output and b"on a terminal" in output:
        pytest.skip("no terminfo entry for xterm-256color on this machine")
    assert output.startswith(b"\x1b[33m[W ")
    assert b"]\x1b(B\x1b[m on a terminal" in output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_without_colors_gets_none() -> None:
    output = run_on_terminal("dumb")
    assert output.startswith(b"[W ")
    assert b"\x1b" not in output
    assert b"] on a terminal" in output


# --- define_logging_options ------------------------------------------------------


def test_define_logging_options(parser: OptionParser) -> None:
    assert parser.group_dict(squall.log.__file__) == {
        "logging": "info",
        "log_to_stderr": None,
        "log_file_prefix": None,
        "log_file_max_size": 100 * 1000 * 1000,
        "log_file_num_backups": 10,
        "log_rotate_when": "midnight",
        "log_rotate_interval": 1,
        "log_rotate_mode": "size",
    }
    help_text = io.StringIO()
    parser.print_help(help_text)
    assert "--logging=debug|info|warning|error|none" in help_text.getvalue()
    assert "--log-file-prefix=PATH" in help_text.getvalue()
    parser.parse_command_line(
        ["prog", "--log-to-stderr", "--log-file-max-size=5", "--logging=none"]
    )
    assert (parser.log_to_stderr, parser.log_file_max_size) == (True, 5)


def test_define_logging_options_twice(parser: OptionParser) -> None:
    with pytest.raises(Error, match="Option 'logging' already defined"):
        define_logging_options(parser)


def test_define_logging_options_defaults_to_global() -> None:
    # The global parser got them when squall.options was imported.
    assert "log_rotate_mode" in options
    with pytest.raises(Error, match="Option 'logging' already defined"):
        define_logging_options()


def test_final_parse_enables_logging(
    parser: OptionParser, root_logger: logging.Logger, tmp_path: Path
) -> None:
    log_path = tmp_path / "app.log"
    parser.parse_command_line(["prog", f"--log-file-prefix={log_path}"], final=False)
    assert not [h for h in root_logger.handlers if isinstance(h.formatter, LogFormatter)]
    parser.parse_command_line(["prog", "--logging=error"])
    added = [h for h in root_logger.handlers if isinstance(h.formatter, LogFormatter)]
    assert [type(h) for h in added] == [logging.handlers.RotatingFileHandler]
    assert root_logger.level == logging.ERROR


# --- enable_pretty_logging -------------------------------------------------------


def test_file_logging_rotates_by_size(
    parser: OptionParser, logger: logging.Logger, tmp_path: Path
) -> None:
    prefix = tmp_path / "server.log"
    parser.log_file_prefix = str(prefix)
    parser.log_file_max_size = 200
    parser.log_file_num_backups = 2
    enable_pretty_logging(parser, logger)
    assert logger.level == logging.INFO
    [handler] = logger.handlers
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.baseFilename, handler.maxBytes, handler.backupCount) == (str(prefix), 200, 2)
    assert handler.encoding == "utf-8"
    logger.debug("below the level")
    logger.info("first line ✓")
    handler.flush()
    content = prefix.read_text(encoding="utf-8")
    assert content.startswith("[I ")
    assert content.endswith(" first line ✓\n")
    assert "\x1b" not in content and "below the level" not in content
    for n in range(20):
        logger.info("filler line number %d, long enough to need rotation soon", n)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["server.log", "server.log.1", "server.log.2"]


def test_file_logging_rotates_by_time(
    parser: OptionParser, logger: logging.Logger, tmp_path: Path
) -> None:
    prefix = tmp_path / "server.log"
    parser.log_file_prefix = str(prefix)
    parser.log_rotate_mode = "time"
    parser.log_rotate_when = "H"
    parser.log_rotate_interval = 6
    parser.log_file_num_backups = 3
    parser.logging = "debug"
    enable_pretty_logging(parser, logger)
    assert logger.level == logging.DEBUG
    [handler] = logger.handlers
    assert isinstance(handler, logging.handlers.TimedRotatingFileHandler)
    assert (handler.when, handler.interval, handler.backupCount) == ("H", 6 * 3600, 3)
    assert handler.encoding == "utf-8"
    logger.debug("timed")
    handler.flush()
    assert prefix.read_text(encoding="utf-8").endswith("] timed\n")


def test_bad_rotate_mode_changes_nothing(
    parser: OptionParser, logger: logging.Logger, tmp_path: Path
) -> None:
    parser.log_file_prefix = str(tmp_path / "x.log")
    parser.log_rotate_mode = "weekly"
    with pytest.raises(
        ValueError, match='The log_rotate_mode option must be "size" or "time", not \'weekly\''
    ):
        enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert logger.level == logging.NOTSET
    assert list(tmp_path.iterdir()) == []


def test_bad_level_changes_nothing(parser: OptionParser, logger: logging.Logger) -> None:
    parser.logging = "loud"
    with pytest.raises(ValueError, match="Unknown logging level 'loud'"):
        enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert logger.level == logging.NOTSET


@pytest.mark.parametrize("level", ["none", "NONE", None])
def test_level_none_leaves_logging_alone(
    parser: OptionParser, logger: logging.Logger, tmp_path: Path, level: str | None
) -> None:
    parser.logging = level
    parser.log_file_prefix = str(tmp_path / "x.log")
    parser.log_to_stderr = True
    enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert logger.level == logging.NOTSET


def test_stderr_handler_when_nothing_else(
    parser: OptionParser, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    parser.logging = "warning"
    enable_pretty_logging(parser, logger)
    [handler] = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert isinstance(handler.formatter, LogFormatter)
    logger.info("too quiet")
    logger.warning("heard")
    err = capsys.readouterr().err
    assert err.startswith("[W ") and err.endswith("] heard\n")
    assert "too quiet" not in err


def test_no_stderr_handler_when_logger_has_one(
    parser: OptionParser, logger: logging.Logger
) -> None:
    existing = logging.NullHandler()
    logger.addHandler(existing)
    enable_pretty_logging(parser, logger)
    assert logger.handlers == [existing]
    assert logger.level == logging.INFO


def test_no_stderr_with_file_unless_asked(
    parser: OptionParser, logger: logging.Logger, tmp_path: Path
) -> None:
    parser.log_file_prefix = str(tmp_path / "x.log")
    enable_pretty_logging(parser, logger)
    assert [type(h) for h in logger.handlers] == [logging.handlers.RotatingFileHandler]
    logger.handlers[0].close()
    logger.removeHandler(logger.handlers[0])
    parser.log_to_stderr = True
    enable_pretty_logging(parser, logger)
    assert [type(h) for h in logger.handlers] == [
        logging.handlers.RotatingFileHandler,
        logging.StreamHandler,
    ]


def test_log_to_stderr_false(parser: OptionParser, logger: logging.Logger) -> None:
    parser.log_to_stderr = False
    enable_pretty_logging(parser, logger)
    assert logger.handlers == []
    assert logger.level == logging.INFO


def test_any_object_with_the_attributes(logger: logging.Logger) -> None:
    settings = types.SimpleNamespace(logging="error", log_file_prefix=None, log_to_stderr=False)
    enable_pretty_logging(settings, logger)
    assert logger.level == logging.ERROR


def test_defaults_to_global_options_and_root_logger(root_logger: logging.Logger) -> None:
    from unittest import mock

    mockable = options.mockable()
    with (
        mock.patch.object(mockable, "logging", "critical"),
        mock.patch.object(options.mockable(), "log_to_stderr", True),
        mock.patch.object(options.mockable(), "log_file_prefix", None),
    ):
        enable_pretty_logging()
    added = [h for h in root_logger.handlers if isinstance(h.formatter, LogFormatter)]
    assert [type(h) for h in added] == [logging.StreamHandler]
    assert root_logger.level == logging.CRITICAL
