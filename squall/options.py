"""Server settings from the command line and from Python config files.

Each module declares the settings it reads with ``define`` (usually at import
time, so that every setting exists before parsing); the program then fills
them in with ``parse_command_line`` and/or ``parse_config_file`` and reads them
as attributes of the global ``options``::

    from squall.options import define, options, parse_command_line

    define("port", default=8888, help="port to listen on")
    parse_command_line()
    print(options.port)

Values are typed: ``str``, ``int``, ``float``, ``bool``, ``datetime.datetime``,
``datetime.timedelta`` or any callable that builds a value from a string. With
``multiple=True`` a value is a comma-separated list; ``int`` lists also take
inclusive ranges (``1:3`` is ``1, 2, 3``). Dashes and underscores in names are
interchangeable: ``--log-file-prefix`` sets ``options.log_file_prefix``.

Errors: a problem with a definition or a value raises ``Error``; reading or
writing an option that was never defined raises ``AttributeError``.

The logging options of ``squall.log`` are defined on the global parser here,
and a final parse applies them (see ``squall.log.enable_pretty_logging``).
"""

from __future__ import annotations

import datetime
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from textwrap import wrap as _wrap_text
from typing import Any, TextIO

from squall.log import define_logging_options

__all__ = [
    "Error",
    "OptionParser",
    "add_parse_callback",
    "define",
    "options",
    "parse_command_line",
    "parse_config_file",
    "print_help",
]


class Error(Exception):
    """A bad option definition, or a bad value for an option."""


class _BadValueError(Error, ValueError):
    # Tornado lets the converter's ValueError escape for a value that does not
    # parse; deriving from both keeps ``except ValueError`` code working.
    pass


# The biggest inclusive range ``a:b`` a multiple int option expands. Tornado has
# no cap; squall adds one (a million, well above the 65,535 ports a range
# could sensibly span) so that a typo cannot make parsing allocate gigabytes.
MAX_RANGE_LENGTH = 1_000_000

# Layout of print_help: option names start after a two-space indent and are
# padded to this width; descriptions start after them and wrap so that lines
# stay within 79 columns. These are the column positions Tornado's help uses.
_HELP_NAME_WIDTH = 30
_HELP_LINE_WIDTH = 79
_HELP_DESCRIPTION_COLUMN = len("  --") + _HELP_NAME_WIDTH + 1

# The text forms the datetime parser accepts (no two can match the same
# string, so the order they are tried in does not matter): the ctime() layout,
# a dashed or compact date with or without a time of day (the dashed date may
# also be joined to the time ISO-style, with a "T"), and a bare time of day,
# which gets the date 1900-01-01.
_DASHED_DATE = "%Y-%m-%d"
_COMPACT_DATE = "%Y%m%d"
_TIMES_OF_DAY = ("%H:%M:%S", "%H:%M")
_DATETIME_FORMATS: tuple[str, ...] = (
    "%a %b %d %H:%M:%S %Y",
    *(
        date + joiner + clock
        for date, joiner in ((_DASHED_DATE, " "), (_DASHED_DATE, "T"), (_COMPACT_DATE, " "))
        for clock in _TIMES_OF_DAY
    ),
    _DASHED_DATE,
    _COMPACT_DATE,
    *_TIMES_OF_DAY,
)

_TIMEDELTA_UNITS = {
    "": "seconds",
    **dict.fromkeys(("us", "usec", "usecs", "microsecond", "microseconds"), "microseconds"),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), "milliseconds"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "seconds"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("d", "day", "days"), "days"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "weeks"),
}
# One "<number><unit>" term; terms may be separated by spaces.
_TIMEDELTA_TERM = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*")

_TRUE_WORDS = frozenset(("true", "t", "1", "yes", "y", "on"))
_FALSE_WORDS = frozenset(("false", "f", "0", "no", "n", "off"))


def _parse_datetime(value: str) -> datetime.datetime:
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(
        "unrecognized date/time format; use e.g. '2024-01-31 13:45:00', "
        "'2024-01-31', '20240131 13:45' or '13:45'"
    )


def _parse_timedelta(value: str) -> datetime.timedelta:
    if not value.strip():
        raise ValueError("empty duration")
    total = datetime.timedelta()
    pos = 0
    while pos < len(value):
        match = _TIMEDELTA_TERM.match(value, pos)
        if match is None:
            raise ValueError(f"unrecognized duration text at {value[pos:]!r}")
        number, unit = match.groups()
        if unit not in _TIMEDELTA_UNITS:
            raise ValueError(
                f"unknown duration unit {unit!r}; use us, ms, s, m, h, d or w "
                "(or spelled out, e.g. 'minutes')"
            )
        try:
            total += datetime.timedelta(**{_TIMEDELTA_UNITS[unit]: float(number)})
        except OverflowError:
            raise ValueError(f"duration {value!r} is out of range") from None
        pos = match.end()
    return total


def _parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("expected true/false, yes/no, on/off or 1/0")


def _parse_str(value: str) -> str:
    return value


# Types whose constructor does not take the text forms we accept; any other
# type is called with the text.
_CONVERTERS: dict[type, Callable[[str], Any]] = {
    datetime.datetime: _parse_datetime,
    datetime.timedelta: _parse_timedelta,
    bool: _parse_bool,
    str: _parse_str,
}


def _caller_location() -> tuple[str, int]:
    """File and line of the nearest caller outside this module."""
    here = _caller_location.__code__.co_filename
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == here:
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def _normalize_name(name: str) -> str:
    return name.replace("_", "-")


class _Option:
    """A declared option, remembering how it was declared and what it holds.

    ``origin`` is the (file, line) of the ``define`` call; a line of 0 means
    "unknown". A multiple option without a default starts as an empty list.
    """

    def __init__(
        self,
        name: str,
        *,
        origin: tuple[str, int],
        group_name: str | None,
        default: Any = None,
        value_type: type | None = None,
        multiple: bool = False,
        help_text: str | None = None,
        metavar: str | None = None,
        on_change: Callable[[Any], None] | None = None,
    ) -> None:
        initial = [] if multiple and default is None else default
        self.name = name
        self.file_name, self.line = origin
        self.group_name = group_name
        self.multiple = multiple
        self.type = value_type if value_type is not None else _infer_type(initial, multiple)
        self.default = initial
        self.help, self.metavar = help_text, metavar
        self.callback = on_change
        self._value: Any = initial

    def value(self) -> Any:
        return self._value

    def where(self) -> str:
        """Where the option was defined, for error messages."""
        return f"{self.file_name}:{self.line}" if self.line else str(self.file_name)

    def parse(self, value: str) -> Any:
        """Set the option from its text form; returns the new value."""
        try:
            if self.multiple:
                parsed: Any = self._parse_list(value)
            else:
                parsed = self._converter()(value)
        except Exception as e:
            # The type may be any callable, so any exception it raises means
            # the text is not a valid value; the original stays as __cause__.
            raise _BadValueError(
                f"Invalid value {value!r} for option {self.name!r} "
                f"({_type_name(self.type)} expected): {e}"
            ) from e
        self.set(parsed)
        return self._value

    def set(self, value: Any) -> None:
        """Set the option to an already-typed value (None clears a single one)."""
        if self.multiple:
            if not isinstance(value, list) or not all(
                item is None or isinstance(item, self.type) for item in value
            ):
                raise Error(
                    f"Option {self.name!r} must be a list of {_type_name(self.type)}, not {value!r}"
                )
        elif value is not None and not isinstance(value, self.type):
            raise Error(
                f"Option {self.name!r} must be {_type_name(self.type)}, "
                f"not {_type_name(type(value))} ({value!r})"
            )
        self._value = value
        if self.callback is not None:
            self.callback(value)

    def _converter(self) -> Callable[[str], Any]:
        return _CONVERTERS.get(self.type, self.type)

    def _parse_list(self, value: str) -> list[Any]:
        convert = self._converter()
        items: list[Any] = []
        for part in value.split(","):
            if self.type is int and ":" in part:
                low, _, high = part.partition(":")
                first, last = int(low), int(high)
                if last - first + 1 > MAX_RANGE_LENGTH:
                    raise ValueError(f"range {part!r} has more than {MAX_RANGE_LENGTH} values")
                items.extend(range(first, last + 1))
            else:
                items.append(convert(part))
        return items


def _type_name(t: type) -> str:
    return getattr(t, "__name__", repr(t))


def _infer_type(default: Any, multiple: bool) -> type:
    if multiple:
        if isinstance(default, list) and default and default[0] is not None:
            return type(default[0])
        return str
    return str if default is None else type(default)


class OptionParser:
    """A collection of options, read and written as attributes or items.

    Most programs use the global instance ``squall.options.options`` through
    the module-level functions; separate instances are for tests and for
    programs that want their own namespace.
    """

    def __init__(self) -> None:
        # Attribute writes are routed to options, so internals go in __dict__.
        help_option = _Option(
            "help",
            origin=(__file__, 0),
            # An empty group is printed first, with no heading of its own.
            group_name="",
            value_type=bool,
            help_text="show this help information",
            on_change=self._help_callback,
        )
        vars(self).update(_options={"help": help_option}, _parse_callbacks=[])

    _options: dict[str, _Option]
    _parse_callbacks: list[Callable[[], None]]

    def _lookup(self, name: str) -> _Option:
        try:
            return self._options[_normalize_name(name)]
        except KeyError:
            raise AttributeError(f"Unrecognized option {name!r}") from None

    def __getattr__(self, name: str) -> Any:
        return self._lookup(name).value()

    def __setattr__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __getitem__(self, name: str) -> Any:
        return self._lookup(name).value()

    def __setitem__(self, name: str, value: Any) -> None:
        self._lookup(name).set(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize_name(name) in self._options

    def __iter__(self) -> Iterator[str]:
        return (opt.name for opt in self._options.values())

    def items(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs of every option, in definition order."""
        return [(opt.name, opt.value()) for opt in self._options.values()]

    def groups(self) -> set[str]:
        """The group names in use (a defining file's path, unless given)."""
        return {opt.group_name or "" for opt in self._options.values()}

    def group_dict(self, group: str) -> dict[str, Any]:
        """Name -> value for the options of ``group`` (all of them if empty).

        Handy for passing a group to a constructor::

            define("template_path", group="application")
            app = web.Application(handlers, **options.group_dict("application"))
        """
        return {
            opt.name: opt.value()
            for opt in self._options.values()
            if not group or group == opt.group_name
        }

    def as_dict(self) -> dict[str, Any]:
        """Name -> value for every option."""
        return {opt.name: opt.value() for opt in self._options.values()}

    def define(
        self,
        name: str,
        default: Any = None,
        type: type | None = None,
        help: str | None = None,
        metavar: str | None = None,
        multiple: bool = False,
        group: str | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        """Declare an option.

        Without ``type`` the type of ``default`` is used (``str`` if there is
        no default). ``multiple`` makes the value a list. ``help`` and
        ``metavar`` appear in ``print_help``, under ``group`` (by default, the
        file calling ``define``). ``callback`` is called with each new value.

        Raises ``Error`` if an option of that name (dashes and underscores
        being the same) already exists, or the name cannot be typed on a
        command line.
        """
        if not isinstance(name, str) or not name or name.startswith("-") or "=" in name:
            raise Error(
                f"Invalid option name {name!r}: it must be non-empty, without '=' "
                "and without a leading '-'"
            )
        file_name, line = _caller_location()
        key = _normalize_name(name)
        existing = self._options.get(key)
        if existing is not None:
            raise Error(
                f"Option {name!r} already defined in {existing.where()}, "
                f"defined again in {file_name}:{line}"
            )
        self._options[key] = _Option(
            name,
            origin=(file_name, line),
            group_name=group or file_name,
            default=default,
            value_type=type,
            multiple=multiple,
            help_text=help,
            metavar=metavar,
            on_change=callback,
        )

    def parse_command_line(self, args: list[str] | None = None, final: bool = True) -> list[str]:
        """Set options from ``args`` (default ``sys.argv``; ``args[0]`` is skipped).

        Options look like ``--name=value`` (any number of leading dashes); a
        bool option may be given bare (``--debug``) to mean true. Parsing
        stops at the first argument not starting with ``-``, or after ``--``,
        and the arguments left are returned.

        With ``final`` (the default) the parse callbacks run afterwards; pass
        False when a config file or a second parse will follow.
        """
        argv = sys.argv if args is None else args
        position = 1
        while position < len(argv) and argv[position].startswith("-"):
            if argv[position] == "--":
                # The separator itself is consumed; everything after it is left.
                position += 1
                break
            self._apply_flag(argv[position])
            position += 1
        leftover = list(argv[position:])
        if final:
            self.run_parse_callbacks()
        return leftover

    def _apply_flag(self, arg: str) -> None:
        """Handle one ``--name[=value]`` command-line argument."""
        raw_name, has_value, text = arg.lstrip("-").partition("=")
        key = _normalize_name(raw_name)
        option = self._options.get(key)
        if option is None:
            # A mistyped name usually means the exact spelling is not known,
            # so list what there is before failing.
            self.print_help()
            raise Error(f"Unrecognized command line option: {key!r}")
        if not has_value:
            if option.type is not bool:
                raise Error(f"Option {key!r} requires a value")
            text = "true"
        option.parse(text)

    def parse_config_file(self, path: str, final: bool = True) -> None:
        """Run the Python file at ``path`` and take the options it assigns.

        Top-level names matching a defined option set it; other names are
        ignored. Strings are parsed as on the command line (so ``"5m"`` works
        for a timedelta); other values must already have the option's type
        (a list, for a multiple option). The file can use ``__file__``.

        With ``final`` (the default) the parse callbacks run afterwards.
        """
        path = os.path.abspath(path)
        namespace: dict[str, Any] = {"__file__": path}
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        exec(code, namespace, namespace)
        known = self._options
        # In the file's own order, so that option callbacks fire in that order.
        matches = [(_normalize_name(key), found) for key, found in namespace.items()]
        for option_name, found in matches:
            if option_name in known:
                _assign_from_config(known[option_name], found)
        if not final:
            return
        self.run_parse_callbacks()

    def print_help(self, file: TextIO | None = None) -> None:
        """Write a usage summary, options grouped by group, to ``file`` (stderr)."""
        out = sys.stderr if file is None else file
        program = sys.argv[0] if sys.argv else ""
        lines = [f"Usage: {program} [OPTIONS]", "", "Options:", ""]
        by_group: dict[str, list[_Option]] = {}
        for option in self._options.values():
            by_group.setdefault(option.group_name or "", []).append(option)
        for group in sorted(by_group):
            if group:
                lines += ["", f"{group} options:", ""]
            for option in sorted(by_group[group], key=lambda o: _normalize_name(o.name)):
                lines += _help_lines(option)
        lines.append("")
        out.write("\n".join(lines) + "\n")

    def _help_callback(self, value: bool | None) -> None:
        # Attached to the built-in --help flag: show the listing and stop the
        # program the way argparse-style tools do, with a success status.
        if not value:
            return
        self.print_help()
        sys.exit(0)

    def run_parse_callbacks(self) -> None:
        # In registration order; a callback added while running is run too.
        pending = self._parse_callbacks
        index = 0
        while index < len(pending):
            pending[index]()
            index += 1

    def add_parse_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each final parse."""
        registered = self._parse_callbacks
        registered.append(callback)

    def mockable(self) -> _Mockable:
        """An object whose attributes are the options, for ``mock.patch.object``.

        ``mock.patch.object(options, "port", 1)`` cannot work on the parser
        itself (the options are not its real attributes), but does on this::

            with mock.patch.object(options.mockable(), "port", 1):
                ...
        """
        return _Mockable(self)


def _help_lines(option: _Option) -> list[str]:
    label = _normalize_name(option.name)
    label = f"{label}={option.metavar}" if option.metavar else label
    # An empty-string default says nothing useful, so it is not shown.
    shows_default = option.default is not None and option.default != ""
    text = (option.help or "") + (f" (default {option.default})" if shows_default else "")
    body = _wrap_text(text, _HELP_LINE_WIDTH - _HELP_DESCRIPTION_COLUMN)
    if not body or len(label) > _HELP_NAME_WIDTH:
        # The name takes its line alone; the description starts below it.
        body = ["", *body]
    first, *rest = body
    pad = " " * _HELP_DESCRIPTION_COLUMN
    return [f"  --{label:<{_HELP_NAME_WIDTH}} {first}", *(pad + line for line in rest)]


def _assign_from_config(option: _Option, value: Any) -> None:
    # Text goes through the command-line parser; anything else is taken typed.
    (option.parse if isinstance(value, str) else option.set)(value)


class _Mockable:
    """Attribute access to an ``OptionParser`` that ``mock.patch`` can undo.

    ``mock.patch.object`` sets the attribute and, on exit, deletes it, expecting
    the original to reappear; deleting here restores the saved original value.
    """

    def __init__(self, options: OptionParser) -> None:
        vars(self).update(_originals={}, _options=options)

    _options: OptionParser
    _originals: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        # Reached only for names not set on this wrapper: all of them forward.
        wrapped = vars(self)["_options"]
        return getattr(wrapped, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._originals:
            raise RuntimeError(
                f"Option {name!r} is already patched through this object; "
                "use a new options.mockable() for each patch"
            )
        saved = getattr(self._options, name)
        setattr(self._options, name, value)
        # Recorded only once the new value was accepted.
        self._originals.setdefault(name, saved)

    def __delattr__(self, name: str) -> None:
        if name not in self._originals:
            # mock.patch deletes after a failed set too: name the real problem.
            if name not in self._options:
                raise AttributeError(f"Unrecognized option {name!r}")
            raise AttributeError(f"Option {name!r} was not patched through this object")
        setattr(self._options, name, self._originals.pop(name))


options = OptionParser()
"""The global options: what ``define`` and the other functions here act on."""


def define(
    name: str,
    default: Any = None,
    type: type | None = None,
    help: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    group: str | None = None,
    callback: Callable[[Any], None] | None = None,
) -> None:
    """Declare an option on the global ``options``; see ``OptionParser.define``."""
    # Positional pass-through: the two signatures are kept identical.
    options.define(name, default, type, help, metavar, multiple, group, callback)


def parse_command_line(args: list[str] | None = None, final: bool = True) -> list[str]:
    """Parse the global options from the command line; see ``OptionParser``."""
    leftovers = options.parse_command_line(args, final)
    return leftovers


def parse_config_file(path: str, final: bool = True) -> None:
    """Parse the global options from a config file; see ``OptionParser``."""
    options.parse_config_file(final=final, path=path)


def print_help(file: TextIO | None = None) -> None:
    """Print the global options' help, to stderr by default."""
    options.print_help(file=file)


def add_parse_callback(callback: Callable[[], None]) -> None:
    """Call ``callback()`` after each final parse of the global options."""
    options.add_parse_callback(callback=callback)


define_logging_options(options)
