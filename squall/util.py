"""Small utilities shared by every layer.

What lives here: ``Configurable`` (the base that lets a class pick its
implementation at construction time), ``ObjectDict``, ``GzipDecompressor``,
``import_object`` and a few helpers for errors and time. Nothing here imports
another squall module.
"""

from __future__ import annotations

import builtins
import datetime
import re
import warnings
import zlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

__all__ = [
    "ArgReplacer",
    "Configurable",
    "GzipDecompressor",
    "ObjectDict",
    "TimeoutError",
    "basestring_type",
    "bytes_type",
    "doctests",
    "errno_from_exception",
    "exec_in",
    "import_object",
    "raise_exc_info",
    "re_unescape",
    "timedelta_to_seconds",
    "unicode_type",
]

# Raised by ``IOLoop.run_sync``, ``gen.with_timeout`` and the lock and queue
# waits. It is the builtin (which ``asyncio.TimeoutError`` is as well since
# Python 3.11), so ``except TimeoutError`` catches ours and asyncio's alike.
TimeoutError = builtins.TimeoutError

unicode_type = str
basestring_type = str
bytes_type = bytes


def exec_in(code: Any, glob: dict[str, Any], loc: Any = None) -> None:
    """Run ``code`` (source text or a code object) in the given namespaces.

    Source is compiled on its own, without this module's ``__future__``
    flags, so it means what it says wherever it is called from.
    """
    if isinstance(code, str):
        code = compile(code, "<string>", "exec", dont_inherit=True)
    exec(code, glob, loc)


def doctests() -> Any:
    """This module's doctests as a ``unittest`` suite."""
    import doctest

    return doctest.DocTestSuite(__name__)


class ObjectDict(dict[str, Any]):
    """A dict whose keys can also be read and written as attributes."""

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal attribute lookup failed; a missing key
        # must look like a missing attribute so getattr()/hasattr() work.
        if name not in self:
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class GzipDecompressor:
    """Incremental gzip decompression with an optional output cap.

    With ``max_length`` set, ``decompress`` returns at most that many bytes;
    input it could not yet expand is kept in ``unconsumed_tail`` and must be
    passed back in on the next call. This is how callers bound the memory a
    small compressed body (a "gzip bomb") can make them allocate. Several
    gzip members one after another (RFC 1952 section 2.2) decompress as
    their concatenation. Calling without ``max_length`` is deprecated, as
    in Tornado 6.6: it expands everything at once.
    """

    def __init__(self) -> None:
        self._inflater = self._new_inflater()
        # Whether the current member has had any input: a started member
        # that never ended is a truncated stream.
        self._member_started = False
        # Input of a next gzip member held back because the output budget
        # of the call was spent; given out through unconsumed_tail.
        self._carry = b""

    @staticmethod
    def _new_inflater() -> Any:
        # wbits 16 + MAX_WBITS: expect the gzip header and trailer.
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, value: bytes, max_length: int = 0) -> bytes:
        if not max_length:
            warnings.warn(
                "GzipDecompressor.decompress without max_length is deprecated",
                DeprecationWarning,
                stacklevel=2,
            )
        self._carry = b""
        out = []
        produced = 0
        while True:
            budget = max_length - produced if max_length else 0
            if value:
                self._member_started = True
            chunk = self._inflater.decompress(value, budget)
            out.append(chunk)
            produced += len(chunk)
            if not (self._inflater.eof and self._inflater.unused_data):
                break
            # The member ended and another follows.
            value = self._inflater.unused_data
            self._inflater = self._new_inflater()
            self._member_started = False
            if max_length and produced >= max_length:
                self._carry = value
                break
        return b"".join(out)

    @property
    def unconsumed_tail(self) -> bytes:
        tail: bytes = self._carry or self._inflater.unconsumed_tail
        return tail

    @property
    def eof(self) -> bool:
        ended: bool = self._inflater.eof and not self._carry
        return ended

    def flush(self) -> bytes:
        """The last of the output; call once all input has been passed in."""
        if self.unconsumed_tail:
            raise ValueError("unconsumed_tail must be passed to decompress before flush")
        if self._member_started and not self._inflater.eof:
            # Truncated, or trailing bytes that never became a gzip member.
            raise zlib.error("incomplete gzip stream")
        rest: bytes = self._inflater.flush()
        return rest


def import_object(name: str) -> Any:
    """Import ``package.module.attr`` (or just ``package.module``) by name.

    Raises ``ImportError`` when nothing of that name exists, whether the
    missing piece is a module or an attribute.
    """
    if "." not in name:
        return __import__(name)
    module_name, _, attr = name.rpartition(".")
    module = __import__(module_name, fromlist=[attr])
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"No module named {attr}") from None


def raise_exc_info(
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> None:
    """Re-raise an exception captured by ``sys.exc_info()``."""
    _, exc, tb = exc_info
    if exc is None:
        raise TypeError("raise_exc_info called with no exception")
    raise exc.with_traceback(tb)


def errno_from_exception(e: BaseException) -> int | None:
    """The errno of an ``OSError``-like exception, or None if it has none."""
    errno = getattr(e, "errno", None)
    if errno is not None:
        return int(errno)
    if e.args and isinstance(e.args[0], int):
        return e.args[0]
    return None


def timedelta_to_seconds(td: datetime.timedelta) -> float:
    return td.total_seconds()


_RE_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def re_unescape(s: str) -> str:
    r"""Undo ``re.escape``: ``re_unescape(re.escape(s)) == s``.

    Escapes that stand for classes or special characters (``\d``, ``\n``...)
    have no literal meaning and raise ``ValueError``.
    """

    def unescape_one(m: re.Match[str]) -> str:
        ch = m.group(1)
        if ch.isalnum():
            raise ValueError(f"cannot unescape '\\\\{ch}'")
        return ch

    return _RE_UNESCAPE.sub(unescape_one, s)


def _takes_no_arguments(self: Any) -> None:
    """The default ``initialize``: an implementation with no settings."""


class Configurable:
    """A base class whose constructor can return a configured subclass.

    The family's base names itself with ``configurable_base()`` and its
    default implementation with ``configurable_default()``. Calling the base
    class then builds whichever implementation ``configure()`` chose, passing
    the keyword arguments given to ``configure`` as well. Implementations
    initialise in ``initialize()``, not ``__init__``, so that the base's
    ``__new__`` controls construction.
    """

    # Set by configure(), and only ever on the family's base class: the
    # keyword arguments every construction starts from, and the chosen class.
    __impl_kwargs: dict[str, Any] | None = None
    __impl_class: type[Configurable] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        family = cls.configurable_base()
        target: type[Configurable] = cls
        merged = dict(kwargs)
        # Only calling the base itself consults configure(); naming a
        # concrete subclass builds exactly that subclass.
        if cls is family:
            target = cls.configured_class()
            merged = dict(family.__impl_kwargs or {})
            merged.update(kwargs)
        if target.configurable_base() is family:
            obj = super().__new__(target)
            obj.initialize(*args, **merged)
            return obj
        # The chosen class is the base of a nested family: it picks in turn.
        return target(*args, **merged)

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """The root of this family of implementations (override)."""
        raise NotImplementedError(f"{cls.__name__} must define configurable_base()")

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """The implementation used until ``configure`` picks one (override)."""
        raise NotImplementedError(f"{cls.__name__} must define configurable_default()")

    # Takes the constructor's arguments in place of __init__; typed loosely
    # so that each implementation may accept its own.
    initialize: Callable[..., None] = _takes_no_arguments

    @classmethod
    def configure(cls, impl: str | type[Configurable] | None, **kwargs: Any) -> None:
        """Choose the implementation (a class or its dotted name) and defaults."""
        chosen = import_object(impl) if isinstance(impl, str) else impl
        # None resets to the default; anything else must belong to this family.
        acceptable = chosen is None or (isinstance(chosen, type) and issubclass(chosen, cls))
        if not acceptable:
            raise ValueError(f"Invalid subclass of {cls}")
        family = cls.configurable_base()
        family.__impl_class, family.__impl_kwargs = chosen, kwargs

    @classmethod
    def configured_class(cls) -> type[Configurable]:
        family = cls.configurable_base()
        # Read the family base's own __dict__: a subclass must not inherit a
        # configuration made for a different family higher up.
        chosen: type[Configurable] | None = family.__dict__.get("_Configurable__impl_class")
        if chosen is None:
            chosen = cls.configurable_default()
            family.__impl_class = chosen
        return chosen

    @classmethod
    def _save_configuration(cls) -> tuple[type[Configurable] | None, dict[str, Any] | None]:
        """Snapshot of the family's configuration, for _restore_configuration."""
        family = cls.configurable_base()
        return family.__impl_class, family.__impl_kwargs

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[Configurable] | None, dict[str, Any] | None]
    ) -> None:
        """Put back a snapshot taken by _save_configuration (tests use this)."""
        family = cls.configurable_base()
        family.__impl_class, family.__impl_kwargs = saved


class ArgReplacer:
    """Find and replace one argument of calls to ``func``, by position or name.

    Used where a legacy ``callback=`` argument must be pulled out of a call
    whose signature allows passing it either way.
    """

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        import inspect

        self.name = name
        params = list(inspect.signature(func).parameters)
        try:
            self.arg_pos: int | None = params.index(name)
        except ValueError:
            self.arg_pos = None

    def _index_in(self, args: Sequence[Any]) -> int | None:
        """The argument's index in ``args``, or None if it was not passed there."""
        pos = self.arg_pos
        return pos if pos is not None and pos < len(args) else None

    def get_old_value(
        self, args: Sequence[Any], kwargs: dict[str, Any], default: Any = None
    ) -> Any:
        """The argument's value in this call, or ``default`` if it is absent."""
        index = self._index_in(args)
        return kwargs.get(self.name, default) if index is None else args[index]

    def replace(
        self, new_value: Any, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[Any, Sequence[Any], dict[str, Any]]:
        """Put ``new_value`` in place of the argument; ``(old, args, kwargs)``.

        A positional argument is replaced in a new list (``args`` is left
        alone); otherwise ``kwargs`` is updated in place, and the old value is
        None if the argument was not given at all.
        """
        index = self._index_in(args)
        if index is None:
            previous = kwargs.get(self.name)
            kwargs[self.name] = new_value
            return previous, args, kwargs
        updated = [*args[:index], new_value, *args[index + 1 :]]
        return args[index], updated, kwargs


# RFC 6455 section 5.3: a WebSocket masking key is 32 bits.
_WEBSOCKET_MASK_BYTES = 4


def _websocket_mask_python(mask: bytes, data: bytes) -> bytes:
    """``data`` XORed with the 4-byte ``mask`` repeated (RFC 6455 section 5.3).

    Tornado's private pure-Python masking helper, kept under its name.
    Any bytes-like ``mask`` and ``data`` are accepted (``str`` is a
    ``TypeError``); a mask of another length is a ``ValueError``. The XOR
    runs over the payload as one integer, which CPython does in C.
    """
    if isinstance(mask, str) or isinstance(data, str):
        raise TypeError("mask and data must be bytes-like, not str")
    key = bytes(mask)
    if len(key) != _WEBSOCKET_MASK_BYTES:
        raise ValueError("mask must be 4 bytes")
    length = len(data)
    if length == 0:
        return b""
    repeated = (key * (length // _WEBSOCKET_MASK_BYTES + 1))[:length]
    value = int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(length, "little")


# Tornado picks its C extension here when it is built; squall has no C
# extension, so the Python helper is the one (as Tornado without its
# extension).
_websocket_mask = _websocket_mask_python
