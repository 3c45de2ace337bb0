"""Tests for squall.options: definitions, parsing, config files, help, mocking."""

from __future__ import annotations

import datetime
import io
import logging
import logging.handlers
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import squall.options
from squall.log import LogFormatter
from squall.options import Error, OptionParser, options

LOG_PY = str(Path(squall.options.__file__).with_name("log.py"))


@pytest.fixture
def parser() -> OptionParser:
    return OptionParser()


@pytest.fixture
def global_options() -> Iterator[OptionParser]:
    """The global parser, put back as it was (definitions, values, callbacks)."""
    saved_options = dict(options._options)
    saved_values = {key: opt._value for key, opt in saved_options.items()}
    saved_callbacks = list(options._parse_callbacks)
    yield options
    options._options.clear()
    options._options.update(saved_options)
    for key, value in saved_values.items():
        options._options[key]._value = value
    options._parse_callbacks[:] = saved_callbacks


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
    assert sorted(squall.options.__all__) == [
        "Error",
        "OptionParser",
        "add_parse_callback",
        "define",
        "options",
        "parse_command_line",
        "parse_config_file",
        "print_help",
    ]
    for name in squall.options.__all__:
        assert hasattr(squall.options, name)
    assert isinstance(options, OptionParser)
    assert issubclass(Error, Exception)


# --- defining and reading ---------------------------------------------------


def test_define_and_read_as_attribute_and_item(parser: OptionParser) -> None:
    parser.define("port", default=8000)
    assert parser.port == 8000
    assert parser["port"] == 8000
    assert "port" in parser
    assert "nope" not in parser
    assert 5 not in parser


def test_fresh_parser_has_only_help(parser: OptionParser) -> None:
    assert list(parser) == ["help"]
    assert parser.help is None
    assert parser.groups() == {""}


def test_dashes_and_underscores_are_equivalent(parser: OptionParser) -> None:
    parser.define("log_file", default="a")
    parser.define("max-size", default=1)
    assert parser["log-file"] == "a"
    assert parser.log_file == "a"
    assert "log-file" in parser and "max_size" in parser
    assert parser.max_size == 1
    parser["log-file"] = "b"
    assert parser.log_file == "b"
    # Names are reported as they were defined.
    assert list(parser) == ["help", "log_file", "max-size"]


def test_iteration_items_and_as_dict(parser: OptionParser) -> None:
    parser.define("a", default=1)
    parser.define("b", default="x")
    assert list(parser) == ["help", "a", "b"]
    assert list(parser.items()) == [("help", None), ("a", 1), ("b", "x")]
    assert parser.as_dict() == {"help": None, "a": 1, "b": "x"}


def test_groups_and_group_dict(parser: OptionParser) -> None:
    parser.define("port", default=80, group="server")
    parser.define("host", default="h", group="server")
    parser.define("debug", default=False)
    assert parser.groups() == {"", "server", __file__}
    assert parser.group_dict("server") == {"port": 80, "host": "h"}
    assert parser.group_dict(__file__) == {"debug": False}
    assert parser.group_dict("missing") == {}
    # An empty group name selects every option.
    assert parser.group_dict("") == parser.as_dict()


def test_define_infers_type_from_default(parser: OptionParser) -> None:
    when = datetime.datetime(2024, 1, 31)
    parser.define("i", default=1)
    parser.define("f", default=1.5)
    parser.define("b", default=True)
    parser.define("s", default="x")
    parser.define("dt", default=when)
    parser.define("td", default=datetime.timedelta(seconds=1))
    parser.define("untyped")
    parser.define("ints", default=[1, 2], multiple=True)
    parser.define("strs", multiple=True)
    parser.parse_command_line(
        [
            "prog",
            "--i=2",
            "--f=2",
            "--b=false",
            "--s=y",
            "--dt=2024-02-01",
            "--td=2m",
            "--untyped=3",
            "--ints=3,4",
            "--strs=3,4",
        ]
    )
    assert parser.as_dict() == {
        "help": None,
        "i": 2,
        "f": 2.0,
        "b": False,
        "s": "y",
        "dt": datetime.datetime(2024, 2, 1),
        "td": datetime.timedelta(minutes=2),
        "untyped": "3",
        "ints": [3, 4],
        "strs": ["3", "4"],
    }
    assert isinstance(parser.f, float)


def test_multiple_defaults_to_empty_list(parser: OptionParser) -> None:
    parser.define("names", type=str, multiple=True)
    assert parser.names == []


def test_define_twice_names_both_places(parser: OptionParser) -> None:
    parser.define("port", default=1)
    first_line = sys._getframe().f_lineno - 1
    with pytest.raises(Error) as info:
        parser.define("port", default=2)
    second_line = sys._getframe().f_lineno - 1
    message = str(info.value)
    assert message.startswith("Option 'port' already defined in ")
    assert f"{__file__}:{first_line}" in message
    assert f"defined again in {__file__}:{second_line}" in message
    # The first definition stands.
    assert parser.port == 1


def test_define_twice_with_other_separator(parser: OptionParser) -> None:
    parser.define("log_file")
    with pytest.raises(Error, match="Option 'log-file' already defined"):
        parser.define("log-file")


def test_help_cannot_be_redefined(parser: OptionParser) -> None:
    with pytest.raises(Error, match=r"^Option 'help' already defined in .*options\.py, "):
        parser.define("help")


@pytest.mark.parametrize("name", ["", "-x", "--x", "a=b"])
def test_define_rejects_names_unusable_on_a_command_line(parser: OptionParser, name: str) -> None:
    with pytest.raises(Error, match=f"^Invalid option name {name!r}: it must be non-empty"):
        parser.define(name)
    assert list(parser) == ["help"]


def test_undefined_option_is_attribute_error(parser: OptionParser) -> None:
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        _ = parser.nope
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        _ = parser["nope"]
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        parser.nope = 1
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        parser["nope"] = 1
    assert "nope" not in parser


# --- setting values directly ------------------------------------------------


def test_setting_checks_the_type(parser: OptionParser) -> None:
    parser.define("port", default=80)
    parser.define("ratio", type=float)
    parser.port = 81
    assert parser.port == 81
    with pytest.raises(Error, match=r"Option 'port' must be int, not str \('81'\)"):
        parser.port = "81"
    assert parser.port == 81
    with pytest.raises(Error, match="Option 'ratio' must be float, not int"):
        parser.ratio = 1
    # None clears a value.
    parser.port = None
    assert parser.port is None


def test_setting_multiple_requires_a_list_of_the_type(parser: OptionParser) -> None:
    parser.define("ports", type=int, multiple=True)
    parser.ports = [1, 2]
    assert parser.ports == [1, 2]
    for bad in (5, (1, 2), [1, "2"], None):
        with pytest.raises(Error, match="Option 'ports' must be a list of int"):
            parser.ports = bad
    assert parser.ports == [1, 2]


def test_callback_receives_each_new_value(parser: OptionParser) -> None:
    seen: list[Any] = []
    parser.define("port", default=1, callback=seen.append)
    assert seen == []  # not called for the default
    parser.parse_command_line(["prog", "--port=2", "--port=3"])
    parser.port = 4
    assert seen == [2, 3, 4]


def test_callback_not_called_for_rejected_value(parser: OptionParser) -> None:
    seen: list[Any] = []
    parser.define("port", default=1, callback=seen.append)
    with pytest.raises(Error):
        parser.parse_command_line(["prog", "--port=x"])
    assert seen == []


# --- command line -----------------------------------------------------------


def test_parse_command_line_returns_remaining_arguments(parser: OptionParser) -> None:
    parser.define("port", default=1)
    rest = parser.parse_command_line(["prog", "--port=2", "file", "--port=3"])
    assert rest == ["file", "--port=3"]
    assert parser.port == 2


def test_double_dash_ends_options(parser: OptionParser) -> None:
    parser.define("port", default=1)
    assert parser.parse_command_line(["prog", "--port=2", "--", "--port=3", "x"]) == [
        "--port=3",
        "x",
    ]
    assert parser.port == 2
    assert parser.parse_command_line(["prog"]) == []
    assert parser.parse_command_line([]) == []


def test_any_number_of_leading_dashes(parser: OptionParser) -> None:
    parser.define("port", default=1)
    parser.parse_command_line(["prog", "-port=2"])
    assert parser.port == 2
    parser.parse_command_line(["prog", "---port=3"])
    assert parser.port == 3


def test_dashed_and_underscored_flags(parser: OptionParser) -> None:
    parser.define("log_file_prefix", type=str)
    parser.parse_command_line(["prog", "--log-file-prefix=a"])
    assert parser.log_file_prefix == "a"
    parser.parse_command_line(["prog", "--log_file_prefix=b"])
    assert parser.log_file_prefix == "b"


def test_value_may_contain_equals_sign_or_be_empty(parser: OptionParser) -> None:
    parser.define("expr", type=str)
    parser.parse_command_line(["prog", "--expr=a=b"])
    assert parser.expr == "a=b"
    parser.parse_command_line(["prog", "--expr="])
    assert parser.expr == ""


def test_parse_command_line_defaults_to_sys_argv(
    parser: OptionParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser.define("port", default=1)
    monkeypatch.setattr(sys, "argv", ["prog", "--port=9", "extra"])
    assert parser.parse_command_line() == ["extra"]
    assert parser.port == 9


def test_unrecognized_option_prints_help_and_raises(
    parser: OptionParser, capsys: pytest.CaptureFixture[str]
) -> None:
    parser.define("port", default=1)
    with pytest.raises(Error, match=r"^Unrecognized command line option: 'porrt'$"):
        parser.parse_command_line(["prog", "--porrt=1"])
    err = capsys.readouterr().err
    assert "Usage: " in err and "--port" in err
    # Names are compared after normalisation, and case matters.
    with pytest.raises(Error, match="Unrecognized command line option: 'Port'"):
        parser.parse_command_line(["prog", "--Port=1"])
    with pytest.raises(Error, match="Unrecognized command line option: 'a-b'"):
        parser.parse_command_line(["prog", "--a_b=1"])
    # A lone "-" is an option with an empty name, not an argument.
    with pytest.raises(Error, match="Unrecognized command line option: ''"):
        parser.parse_command_line(["prog", "-"])


def test_bare_flag_sets_bool_true(parser: OptionParser) -> None:
    parser.define("debug", default=False)
    parser.parse_command_line(["prog", "--debug"])
    assert parser.debug is True


def test_bare_flag_for_other_types_is_an_error(parser: OptionParser) -> None:
    parser.define("port", default=1)
    parser.define("names", multiple=True)
    with pytest.raises(Error, match=r"^Option 'port' requires a value$"):
        parser.parse_command_line(["prog", "--port"])
    with pytest.raises(Error, match=r"^Option 'names' requires a value$"):
        parser.parse_command_line(["prog", "--names"])
    assert parser.port == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("t", True),
        ("1", True),
        ("yes", True),
        ("y", True),
        ("on", True),
        ("false", False),
        ("FALSE", False),
        ("f", False),
        ("0", False),
        ("no", False),
        ("n", False),
        ("off", False),
    ],
)
def test_bool_values(parser: OptionParser, text: str, expected: bool) -> None:
    parser.define("debug", default=not expected)
    parser.parse_command_line(["prog", f"--debug={text}"])
    assert parser.debug is expected


@pytest.mark.parametrize("text", ["", "2", "maybe", "truthy"])
def test_bad_bool_value(parser: OptionParser, text: str) -> None:
    parser.define("debug", default=False)
    with pytest.raises(
        Error, match=f"Invalid value '{text}' for option 'debug' \\(bool expected\\)"
    ):
        parser.parse_command_line(["prog", f"--debug={text}"])
    assert parser.debug is False


def test_int_and_float_values(parser: OptionParser) -> None:
    parser.define("port", default=1)
    parser.define("ratio", default=0.5)
    parser.parse_command_line(["prog", "--port=-3", "--ratio=1e-3"])
    assert parser.port == -3
    assert parser.ratio == 0.001


@pytest.mark.parametrize(
    ("flag", "option", "type_name"),
    [
        ("--port=abc", "port", "int"),
        ("--port=1.5", "port", "int"),
        ("--ratio=fast", "ratio", "float"),
        ("--ports=1,x", "ports", "int"),
        ("--ports=", "ports", "int"),
        ("--ports=1:b", "ports", "int"),
        ("--when=tomorrow", "when", "datetime"),
        ("--delay=soon", "delay", "timedelta"),
    ],
)
def test_bad_value_is_error_naming_option_and_value(
    parser: OptionParser, flag: str, option: str, type_name: str
) -> None:
    parser.define("port", default=1)
    parser.define("ratio", default=0.5)
    parser.define("ports", type=int, multiple=True)
    parser.define("when", type=datetime.datetime)
    parser.define("delay", type=datetime.timedelta)
    before = parser.as_dict()
    value = flag.partition("=")[2]
    with pytest.raises(Error) as info:
        parser.parse_command_line(["prog", flag])
    assert str(info.value).startswith(
        f"Invalid value {value!r} for option {option!r} ({type_name} expected): "
    )
    # Code written for Tornado catches ValueError here.
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is not None
    assert parser.as_dict() == before


def test_custom_type_is_called_with_the_text(parser: OptionParser) -> None:
    class Celsius(float):
        pass

    parser.define("temp", type=Celsius)
    parser.define("path", type=Path)
    parser.parse_command_line(["prog", "--temp=21.5", "--path=/tmp/x"])
    assert parser.temp == Celsius(21.5) and isinstance(parser.temp, Celsius)
    assert parser.path == Path("/tmp/x")


class Level(str):
    """A custom option type that accepts only some words."""

    def __new__(cls, text: str) -> Level:
        if text not in ("low", "high"):
            raise LookupError(f"{text!r} is not a level")
        return super().__new__(cls, text)


def test_custom_type_failure_is_error(parser: OptionParser) -> None:
    parser.define("level", type=Level)
    parser.parse_command_line(["prog", "--level=low"])
    assert parser.level == "low" and isinstance(parser.level, Level)
    with pytest.raises(
        Error,
        match=r"^Invalid value 'x' for option 'level' \(Level expected\): 'x' is not a level$",
    ):
        parser.parse_command_line(["prog", "--level=x"])


def test_multiple_values_and_int_ranges(parser: OptionParser) -> None:
    parser.define("ports", type=int, multiple=True)
    parser.define("names", type=str, multiple=True)
    parser.define("ratios", type=float, multiple=True)
    parser.parse_command_line(["prog", "--ports=1,3:5,10", "--names=a, b,,c", "--ratios=0.5,2"])
    assert parser.ports == [1, 3, 4, 5, 10]
    # Items are taken as written: no stripping, empty items kept.
    assert parser.names == ["a", " b", "", "c"]
    assert parser.ratios == [0.5, 2.0]
    parser.parse_command_line(["prog", "--ports=5:3"])
    assert parser.ports == []


def test_int_range_has_a_size_limit(parser: OptionParser) -> None:
    parser.define("ports", type=int, multiple=True)
    limit = squall.options.MAX_RANGE_LENGTH
    parser.parse_command_line(["prog", f"--ports=1:{limit}"])
    assert len(parser.ports) == limit
    with pytest.raises(Error, match=f"range '0:{limit}' has more than {limit} values"):
        parser.parse_command_line(["prog", f"--ports=0:{limit}"])


def test_ranges_only_for_int_lists(parser: OptionParser) -> None:
    parser.define("names", type=str, multiple=True)
    parser.parse_command_line(["prog", "--names=a:b"])
    assert parser.names == ["a:b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31 13:45:59", datetime.datetime(2024, 1, 31, 13, 45, 59)),
        ("2024-01-31 13:45", datetime.datetime(2024, 1, 31, 13, 45)),
        ("2024-01-31T13:45:59", datetime.datetime(2024, 1, 31, 13, 45, 59)),
        ("2024-01-31T13:45", datetime.datetime(2024, 1, 31, 13, 45)),
        ("20240131 13:45:59", datetime.datetime(2024, 1, 31, 13, 45, 59)),
        ("20240131 13:45", datetime.datetime(2024, 1, 31, 13, 45)),
        ("2024-01-31", datetime.datetime(2024, 1, 31)),
        ("20240131", datetime.datetime(2024, 1, 31)),
        ("13:45:59", datetime.datetime(1900, 1, 1, 13, 45, 59)),
        ("13:45", datetime.datetime(1900, 1, 1, 13, 45)),
        ("Wed Jan 31 13:45:59 2024", datetime.datetime(2024, 1, 31, 13, 45, 59)),
    ],
)
def test_datetime_formats(parser: OptionParser, text: str, expected: datetime.datetime) -> None:
    parser.define("when", type=datetime.datetime)
    parser.parse_command_line(["prog", f"--when={text}"])
    assert parser.when == expected


@pytest.mark.parametrize(
    "text", ["", "garbage", "2024-13-01", "2024-01-31 13:45:59.5", "2024-01-31Z", " 2024-01-31"]
)
def test_bad_datetime(parser: OptionParser, text: str) -> None:
    parser.define("when", type=datetime.datetime)
    with pytest.raises(Error, match="unrecognized date/time format"):
        parser.parse_command_line(["prog", f"--when={text}"])


def test_datetime_list(parser: OptionParser) -> None:
    parser.define("days", type=datetime.datetime, multiple=True)
    parser.parse_command_line(["prog", "--days=2024-01-31,20240201"])
    assert parser.days == [datetime.datetime(2024, 1, 31), datetime.datetime(2024, 2, 1)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", datetime.timedelta(hours=1)),
        ("30s", datetime.timedelta(seconds=30)),
        ("5 minutes", datetime.timedelta(minutes=5)),
        ("1d 2h", datetime.timedelta(days=1, hours=2)),
        ("1d2h", datetime.timedelta(days=1, hours=2)),
        ("1.5h", datetime.timedelta(minutes=90)),
        (".5m", datetime.timedelta(seconds=30)),
        ("10", datetime.timedelta(seconds=10)),
        ("2.5", datetime.timedelta(seconds=2.5)),
        ("1e3", datetime.timedelta(seconds=1000)),
        ("2w", datetime.timedelta(weeks=2)),
        ("1 week", datetime.timedelta(weeks=1)),
        ("3 days", datetime.timedelta(days=3)),
        ("1 hour", datetime.timedelta(hours=1)),
        ("1min", datetime.timedelta(minutes=1)),
        ("2 sec", datetime.timedelta(seconds=2)),
        ("250ms", datetime.timedelta(milliseconds=250)),
        ("7 milliseconds", datetime.timedelta(milliseconds=7)),
        ("15us", datetime.timedelta(microseconds=15)),
        ("-1h", datetime.timedelta(hours=-1)),
        ("1h -30m", datetime.timedelta(minutes=30)),
        ("+2s", datetime.timedelta(seconds=2)),
        ("  1 h  ", datetime.timedelta(hours=1)),
    ],
)
def test_timedelta_formats(parser: OptionParser, text: str, expected: datetime.timedelta) -> None:
    parser.define("delay", type=datetime.timedelta)
    parser.parse_command_line(["prog", f"--delay={text}"])
    assert parser.delay == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("abc", "unrecognized duration text at 'abc'"),
        ("1h,2m", "unrecognized duration text at ',2m'"),
        ("1x", "unknown duration unit 'x'"),
        ("1H", "unknown duration unit 'H'"),
        ("1 fortnight", "unknown duration unit 'fortnight'"),
        ("1e20d", "duration '1e20d' is out of range"),
        ("999999999d 1d", "duration '999999999d 1d' is out of range"),
    ],
)
def test_bad_timedelta(parser: OptionParser, text: str, reason: str) -> None:
    parser.define("delay", type=datetime.timedelta)
    with pytest.raises(Error, match=f"for option 'delay' \\(timedelta expected\\): .*{reason}"):
        parser.parse_command_line(["prog", f"--delay={text}"])


# --- parse callbacks ----------------------------------------------------------


def test_parse_callbacks_run_after_final_parse(parser: OptionParser) -> None:
    calls: list[str] = []
    parser.define("port", default=1)
    parser.add_parse_callback(lambda: calls.append(f"first {parser.port}"))
    parser.add_parse_callback(lambda: calls.append("second"))
    parser.parse_command_line(["prog", "--port=2"], final=False)
    assert calls == []
    parser.parse_command_line(["prog", "--port=3"])
    assert calls == ["first 3", "second"]
    parser.run_parse_callbacks()
    assert calls == ["first 3", "second", "first 3", "second"]


def test_parse_callbacks_not_run_when_parsing_fails(parser: OptionParser) -> None:
    calls: list[str] = []
    parser.define("port", default=1)
    parser.add_parse_callback(lambda: calls.append("ran"))
    with pytest.raises(Error):
        parser.parse_command_line(["prog", "--port=x"])
    assert calls == []


# --- config files -------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_parse_config_file(parser: OptionParser, tmp_path: Path) -> None:
    parser.define("port", default=1)
    parser.define("name", type=str)
    parser.define("debug", default=False)
    parser.define("delay", type=datetime.timedelta)
    parser.define("ports", type=int, multiple=True)
    parser.define("names", type=str, multiple=True)
    parser.define("log_file", type=str)
    parser.define("untouched", default="same")
    path = write(
        tmp_path / "server.conf",
        "import os\n"
        "port = 9000\n"
        "name = 'café'  # non-ASCII text survives\n"
        "debug = True\n"
        "delay = '5m'  # strings are parsed as on the command line\n"
        "ports = '1,3:4'\n"
        "names = ['a', 'b']\n"
        "log_file = os.path.join(os.path.dirname(__file__), 'x.log')\n"
        "unrelated = 5\n",
    )
    parser.parse_config_file(path)
    assert parser.as_dict() == {
        "help": None,
        "port": 9000,
        "name": "café",
        "debug": True,
        "delay": datetime.timedelta(minutes=5),
        "ports": [1, 3, 4],
        "names": ["a", "b"],
        "log_file": str(tmp_path / "x.log"),
        "untouched": "same",
    }


def test_config_file_sees_absolute_file_path(
    parser: OptionParser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser.define("where", type=str)
    write(tmp_path / "c.py", "where = __file__\n")
    monkeypatch.chdir(tmp_path)
    parser.parse_config_file("c.py")
    assert parser.where == str(tmp_path / "c.py")


def test_config_file_strings_parse_by_type(parser: OptionParser, tmp_path: Path) -> None:
    parser.define("port", default=1)
    parser.define("debug", default=True)
    parser.define("names", type=str, multiple=True)
    parser.parse_config_file(
        write(tmp_path / "c.py", "port = '12'\ndebug = 'off'\nnames = 'a,b'\n")
    )
    assert (parser.port, parser.debug, parser.names) == (12, False, ["a", "b"])


def test_config_file_dashed_option_names(parser: OptionParser, tmp_path: Path) -> None:
    parser.define("max-size", default=1)
    parser.parse_config_file(write(tmp_path / "c.py", "max_size = 5\n"))
    assert parser.max_size == 5


def test_config_file_wrong_type(parser: OptionParser, tmp_path: Path) -> None:
    parser.define("port", default=1)
    parser.define("ports", type=int, multiple=True)
    with pytest.raises(Error, match="Option 'port' must be int, not list"):
        parser.parse_config_file(write(tmp_path / "a.py", "port = [1]\n"))
    with pytest.raises(Error, match="Invalid value 'abc' for option 'port'"):
        parser.parse_config_file(write(tmp_path / "b.py", "port = 'abc'\n"))
    with pytest.raises(Error, match="Option 'ports' must be a list of int"):
        parser.parse_config_file(write(tmp_path / "c.py", "ports = 5\n"))
    assert parser.port == 1


def test_config_file_errors_propagate_with_file_name(parser: OptionParser, tmp_path: Path) -> None:
    bad_syntax = write(tmp_path / "syntax.py", "port = \n")
    with pytest.raises(SyntaxError) as info:
        parser.parse_config_file(bad_syntax)
    assert info.value.filename == bad_syntax
    with pytest.raises(KeyError, match="boom"):
        parser.parse_config_file(write(tmp_path / "raise.py", "raise KeyError('boom')\n"))
    with pytest.raises(FileNotFoundError):
        parser.parse_config_file(str(tmp_path / "missing.py"))


def test_config_file_final_runs_callbacks(parser: OptionParser, tmp_path: Path) -> None:
    calls: list[int] = []
    parser.define("port", default=1)
    parser.add_parse_callback(lambda: calls.append(parser.port))
    path = write(tmp_path / "c.py", "port = 2\n")
    parser.parse_config_file(path, final=False)
    assert calls == []
    parser.parse_config_file(path)
    assert calls == [2]


def test_config_file_then_command_line(parser: OptionParser, tmp_path: Path) -> None:
    calls: list[tuple[int, str]] = []
    parser.define("port", default=1)
    parser.define("host", default="h")
    parser.add_parse_callback(lambda: calls.append((parser.port, parser.host)))
    parser.parse_config_file(write(tmp_path / "c.py", "port = 2\nhost = 'conf'\n"), final=False)
    parser.parse_command_line(["prog", "--port=3"])
    assert calls == [(3, "conf")]


# --- help ---------------------------------------------------------------------


def help_line(name: str, description: str = "") -> str:
    """One line of print_help: the name padded to 30 columns, then the text."""
    return f"  --{name:<30} {description}"


def test_print_help_layout(parser: OptionParser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["myserver"])
    parser.define("port", default=8000, help="port to listen on", group="server")
    parser.define("name", type=str, help="the name", metavar="NAME")
    parser.define("debug", default=False)
    parser.define("delay", type=datetime.timedelta)
    parser.define("empty", default="", help="no default shown")
    parser.define("names", type=str, multiple=True)
    parser.define("some_thing", default=0, help=" ".join(["word"] * 20))
    thirty = "abcdefghijklmnopqrstuvwxyz0123"
    parser.define(thirty, help="fits", group="long")
    parser.define(thirty + "4", group="long")
    parser.define(thirty + "_", metavar="VALUE", help="explained below", group="long")
    out = io.StringIO()
    parser.print_help(out)
    indent = " " * 35
    expected = [
        "Usage: myserver [OPTIONS]",
        "",
        "Options:",
        "",
        help_line("help", "show this help information"),
        "",
        f"{__file__} options:",
        "",
        help_line("debug", " (default False)"),
        help_line("delay"),
        help_line("empty", "no default shown"),
        help_line("name=NAME", "the name"),
        help_line("names", " (default [])"),
        help_line("some-thing", "word word word word word word word word word"),
        indent + "word word word word word word word word word",
        indent + "word word (default 0)",
        "",
        "long options:",
        "",
        # A name longer than its column gets a line of its own.
        help_line(thirty, "fits"),
        f"  --{thirty}-=VALUE ",
        indent + "explained below",
        f"  --{thirty}4 ",
        "",
        "server options:",
        "",
        help_line("port", "port to listen on (default 8000)"),
        "",
        "",
    ]
    # Groups are sorted by name, and the options of a group by name too.
    assert out.getvalue().split("\n") == expected


def test_print_help_defaults_to_stderr(
    parser: OptionParser, capsys: pytest.CaptureFixture[str]
) -> None:
    parser.define("port", default=1)
    parser.print_help()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Usage: ")
    assert help_line("port", " (default 1)") + "\n" in captured.err


def test_help_flag_prints_help_and_exits(
    parser: OptionParser, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    parser.define("port", default=1, help="the port")
    parser.add_parse_callback(lambda: calls.append("ran"))
    with pytest.raises(SystemExit) as info:
        parser.parse_command_line(["prog", "--help", "--port=2"])
    assert info.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert help_line("port", "the port (default 1)") in captured.err
    assert calls == []
    assert parser.port == 1


def test_help_false_does_nothing(parser: OptionParser, capsys: pytest.CaptureFixture[str]) -> None:
    assert parser.parse_command_line(["prog", "--help=false", "x"]) == ["x"]
    assert capsys.readouterr().err == ""


# --- mockable -----------------------------------------------------------------


def test_mockable_with_mock_patch(parser: OptionParser) -> None:
    parser.define("port", default=80)
    parser.define("host", default="h")
    with mock.patch.object(parser.mockable(), "port", 8080):
        assert parser.port == 8080
        with mock.patch.object(parser.mockable(), "host", "other"):
            assert (parser.port, parser.host) == (8080, "other")
        assert parser.host == "h"
    assert parser.port == 80


def test_mockable_restores_value_changed_during_patch(parser: OptionParser) -> None:
    parser.define("port", default=80)
    with mock.patch.object(parser.mockable(), "port", 1):
        parser.parse_command_line(["prog", "--port=2"])
    assert parser.port == 80


def test_mockable_reads_and_type_checks(parser: OptionParser) -> None:
    parser.define("port", default=80)
    mockable = parser.mockable()
    assert mockable.port == 80
    with pytest.raises(Error, match="Option 'port' must be int"):
        mockable.port = "x"
    assert parser.port == 80
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        _ = mockable.nope
    with pytest.raises(AttributeError, match="Unrecognized option 'nope'"):
        with mock.patch.object(parser.mockable(), "nope", 1, create=True):
            pass


def test_mockable_misuse(parser: OptionParser) -> None:
    parser.define("port", default=80)
    mockable = parser.mockable()
    mockable.port = 1
    with pytest.raises(RuntimeError, match="already patched through this object"):
        mockable.port = 2
    del mockable.port
    assert parser.port == 80
    with pytest.raises(AttributeError, match="Option 'port' was not patched"):
        del mockable.port


# --- the global parser and module functions -----------------------------------


def test_global_options_have_logging_options() -> None:
    assert options.group_dict(LOG_PY) == {
        "logging": "info",
        "log_to_stderr": None,
        "log_file_prefix": None,
        "log_file_max_size": 100 * 1000 * 1000,
        "log_file_num_backups": 10,
        "log_rotate_when": "midnight",
        "log_rotate_interval": 1,
        "log_rotate_mode": "size",
    }
    assert options.groups() >= {"", LOG_PY}


def test_module_functions_act_on_global(
    global_options: OptionParser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[int] = []
    squall.options.define("test_only_port", default=1, help="only for a test")
    squall.options.add_parse_callback(lambda: calls.append(global_options.test_only_port))
    with mock.patch.object(global_options.mockable(), "logging", "none"):
        assert squall.options.parse_command_line(["prog", "--test-only-port=2", "rest"]) == ["rest"]
        assert calls == [2]
        squall.options.parse_config_file(write(tmp_path / "c.py", "test_only_port = 3\n"))
        assert calls == [2, 3]
    squall.options.print_help()
    assert help_line("test-only-port", "only for a test (default 1)") in capsys.readouterr().err
    out = io.StringIO()
    squall.options.print_help(out)
    assert "--log-file-prefix=PATH" in out.getvalue()


def test_global_fixture_restores(global_options: OptionParser) -> None:
    # Guards the fixture the test above depends on: definitions from other
    # tests must not leak into the global parser.
    assert "test_only_port" not in global_options


def test_global_parse_applies_logging_options(
    global_options: OptionParser, root_logger: logging.Logger, tmp_path: Path
) -> None:
    log_path = tmp_path / "server.log"
    mockable = global_options.mockable()
    with (
        mock.patch.object(mockable, "log_to_stderr", False),
        mock.patch.object(global_options.mockable(), "log_file_prefix", None),
        mock.patch.object(global_options.mockable(), "logging", "info"),
    ):
        squall.options.parse_command_line(
            ["prog", f"--log-file-prefix={log_path}", "--logging=warning"]
        )
        added = [h for h in root_logger.handlers if isinstance(h.formatter, LogFormatter)]
        assert len(added) == 1
        assert isinstance(added[0], logging.handlers.RotatingFileHandler)
        assert added[0].baseFilename == str(log_path)
        assert root_logger.level == logging.WARNING
    assert global_options.log_file_prefix is None
