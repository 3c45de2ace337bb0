"""HTTPHeaders, the header container, and the errors of the HTTP layer."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from squall._http1._abnf import VISIBLE_VALUE_RE, is_token


class HTTPInputError(Exception):
    """The peer sent malformed or oversized HTTP input."""


class HTTPOutputError(Exception):
    """The application tried to send something that is not valid HTTP."""


# RFC 9110 section 5.6.3: optional whitespace (OWS) is spaces and tabs only.
# Python's str.strip() would also remove \x0b, \x1c or \xa0, which are data.
HTTP_WHITESPACE = " \t"

# The grammar (RFC 9110 §5.6.2 tokens, §5.5 field values) is the HTTP/1
# core's: one copy for every role. A value with anything but HTAB, SP,
# visible ASCII and obs-text could split or smuggle a header.
_FORBIDDEN_VALUE_RE = VISIBLE_VALUE_RE

_FOLDING_REFUSED = "header line cannot start with whitespace, folding not supported"

# Header names seen on the wire repeat endlessly, so their normalized form is
# cached. The cap keeps a peer sending random names from growing it without
# bound (Tornado caches 1000 names too); past it names are still normalized,
# just not remembered.
_NORMALIZE_CACHE_SIZE = 1000
_normalized_names: dict[str, str] = {}


def _normalize_header(name: str) -> str:
    """``content-TYPE`` -> ``Content-Type``: each dash-separated word capitalized."""
    normalized = _normalized_names.get(name)
    if normalized is None:
        normalized = "-".join(word.capitalize() for word in name.split("-"))
        if len(_normalized_names) < _NORMALIZE_CACHE_SIZE:
            _normalized_names[name] = normalized
    return normalized


# The ``_joined`` cache of headers nobody has read a multi-valued field of
# yet (most of them): shared, and never written to, so that building headers
# costs no dict for it.
_NOTHING_JOINED: dict[str, str] = {}


class _FieldError(HTTPInputError, ValueError):
    """A header set on ``HTTPHeaders`` that could never be sent: both an
    ``HTTPInputError`` (what ``add`` raises, as Tornado's does) and a
    ``ValueError`` (what a client raises for a request it refuses)."""


def _as_text(value: str | bytes) -> str:
    """A value given as bytes is kept as the Latin-1 text of those bytes:
    they go out on the wire unchanged (heads are written as Latin-1)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _check_field(name: str, value: str) -> None:
    """Refuse a field that could not be sent as it is: a CR or LF would
    start a header line of its own (header injection), a NUL truncate it."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise _FieldError(f"Illegal characters (CR, LF or NUL) in header: {name}: {value!r}")
    if not is_token(name):
        if "\r" in name or "\n" in name or "\x00" in name:
            raise _FieldError(f"Illegal characters (CR, LF or NUL) in header name: {name!r}")
        raise _FieldError(f"Invalid header name {name!r}")


class HTTPHeaders(MutableMapping[str, str]):
    """A case-insensitive dict of HTTP headers that keeps repeated fields.

    Names are stored as ``Content-Type`` (each word capitalized) whatever the
    case they were given in. A field can have several values: ``add`` appends
    one, ``get_list`` returns them all, and plain item access joins them with
    ``","`` (RFC 9110 section 5.3). Assigning an item replaces every value.

    >>> fields = HTTPHeaders(vary="Accept-Encoding")
    >>> fields.add("x-forwarded-for", "192.0.2.7")
    >>> fields.add("X-FORWARDED-FOR", "198.51.100.3")
    >>> fields.get_list("X-Forwarded-For")
    ['192.0.2.7', '198.51.100.3']
    >>> fields["x-forwarded-for"]
    '192.0.2.7,198.51.100.3'
    >>> sorted(fields)
    ['Vary', 'X-Forwarded-For']

    The constructor takes what ``dict`` takes (a mapping, pairs, keywords);
    given another ``HTTPHeaders`` it copies every value of every field.
    """

    __slots__ = ("_joined", "_lists")

    def __init__(self, *args: Any, **kwargs: str) -> None:
        # Every value of every field, in arrival order. Each add() is an
        # append, so building headers is linear however often a name repeats.
        self._lists: dict[str, list[str]] = {}
        # "a,b" strings for fields with several values, built on first read
        # and dropped when the field changes.
        self._joined: dict[str, str] = {}
        if len(args) > 1:
            raise TypeError(f"HTTPHeaders expected at most 1 positional argument, got {len(args)}")
        if args and isinstance(args[0], HTTPHeaders):
            for name, values in args[0]._lists.items():
                self._lists[name] = list(values)
            args = args[1:]
        elif args and type(args[0]) is dict and not kwargs:
            # The common HTTPHeaders({...}) call: skip MutableMapping.update.
            lists = self._lists
            for name, value in args[0].items():
                value = _as_text(value)
                _check_field(name, value)
                lists[_normalize_header(name)] = [value]
            return
        if args or kwargs:
            self.update(*args, **kwargs)

    @classmethod
    def _from_fields(cls, fields: dict[str, list[str]]) -> HTTPHeaders:
        """Fast constructor for squall's own code: ``fields`` must map
        canonical names (``Content-Type``) to fresh lists of values."""
        headers = cls.__new__(cls)
        headers._lists = fields
        headers._joined = _NOTHING_JOINED
        return headers

    # -- multi-value interface --------------------------------------------

    def add(self, name: str, value: str | bytes) -> None:
        """Append a value for ``name``, keeping the existing ones.

        Raises ``HTTPInputError`` if the name is not a token or the value
        holds characters a header cannot carry (CR, LF, NUL, other controls).
        A bytes value is kept as its Latin-1 text.
        """
        value = _as_text(value)
        if not is_token(name):
            raise HTTPInputError(f"Invalid header name {name!r}")
        if _FORBIDDEN_VALUE_RE.search(value):
            raise HTTPInputError(f"Invalid header value {value!r}")
        self._add_raw(name, value)

    def _add_raw(self, name: str, value: str) -> None:
        """Append a header without validating it: the HTTP parser's fast path.

        For the server's parser callbacks, which call this once per header
        line with the name and value already decoded to ``str`` (latin-1)
        and already checked by the parser. ``name`` may be in any case;
        ``value`` is stored exactly as given, so the caller must already
        have removed the surrounding whitespace.
        """
        key = _normalized_names.get(name)
        if key is None:
            key = _normalize_header(name)
        values = self._lists.get(key)
        if values is None:
            self._lists[key] = [value]
        else:
            values.append(value)
            self._joined.pop(key, None)

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name`` (a new list), or ``[]`` if it is absent."""
        return list(self._lists.get(_normalize_header(name), ()))

    def get_all(self) -> Iterator[tuple[str, str]]:
        """Yield ``(name, value)`` once per value, fields in insertion order."""
        for name, values in self._lists.items():
            for value in values:
                yield name, value

    def parse_line(self, line: str) -> None:
        """Add one header line (``"Name: value"``) to this object.

        A trailing CRLF or LF is ignored, and so is an empty line.

        Raises ``HTTPInputError`` for a line without a colon, an invalid name
        or value, or a line starting with a space or tab: that is obs-fold
        (RFC 9112 section 5.2), a continuation of the previous line, which
        squall refuses everywhere as Tornado 6.6 does; unfolding it was how
        header smuggling got past one parser and not another.
        """
        if line.endswith("\n"):
            line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        if not line:
            return
        if line[0] in HTTP_WHITESPACE:
            raise HTTPInputError(_FOLDING_REFUSED)
        name, colon, value = line.partition(":")
        if not colon:
            raise HTTPInputError("no colon in header line")
        self.add(name, value.strip(HTTP_WHITESPACE))

    @classmethod
    def parse(cls, headers: str) -> HTTPHeaders:
        """Build headers from a block of ``Name: value`` lines.

        Lines may end in CRLF or LF; empty lines are skipped. A line that
        starts with whitespace (obs-fold) is refused, as ``parse_line``
        describes. A stray CR inside a line is not a line break: it makes
        the value invalid.

        >>> block = "Accept-Language: fr\\nETag: \\"v7\\"\\r\\n"
        >>> HTTPHeaders.parse(block)["etag"]
        '"v7"'
        """
        h = cls()
        lines = headers.split("\n")
        # Only a line that ended in LF may drop a CR before it; a CR at the
        # very end of the text is not a line ending.
        unterminated = lines.pop()
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if line:
                h.parse_line(line)
        if unterminated:
            h.parse_line(unterminated)
        return h

    @classmethod
    def _parse_strict(cls, headers: str) -> HTTPHeaders:
        """``parse`` for MIME part headers: CRLF line ends only, no obs-fold."""
        if headers.count("\n") != headers.count("\r\n"):
            raise HTTPInputError("bare LF in header block")
        h = cls()
        for line in headers.split("\r\n"):
            h.parse_line(line)
        return h

    # -- MutableMapping ---------------------------------------------------

    def __getitem__(self, name: str) -> str:
        key = _normalize_header(name)
        values = self._lists[key]
        if len(values) == 1:
            return values[0]
        joined = self._joined.get(key)
        if joined is None:
            joined = ",".join(values)
            if self._joined is _NOTHING_JOINED:
                self._joined = {}
            self._joined[key] = joined
        return joined

    def __setitem__(self, name: str, value: str | bytes) -> None:
        value = _as_text(value)
        _check_field(name, value)
        key = _normalize_header(name)
        self._lists[key] = [value]
        self._joined.pop(key, None)

    def __delitem__(self, name: str) -> None:
        key = _normalize_header(name)
        del self._lists[key]
        self._joined.pop(key, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize_header(name) in self._lists

    def __len__(self) -> int:
        return len(self._lists)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    # -- copying, pickling, display ---------------------------------------

    def copy(self) -> HTTPHeaders:
        """An independent copy, every value of every field included."""
        new = self.__class__.__new__(self.__class__)
        new._lists = {name: list(values) for name, values in self._lists.items()}
        new._joined = dict(self._joined)
        return new

    # Values are immutable strings, so a copy of the lists is a deep copy.
    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> HTTPHeaders:
        return self.copy()

    def __getstate__(self) -> dict[str, list[str]]:
        return self._lists

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self._lists = {name: list(values) for name, values in state.items()}
        self._joined = {}

    def __str__(self) -> str:
        # "Name: value" lines, one per value, ending in "\n" as Tornado's
        # do; parse() reads them back.
        return "".join(f"{name}: {value}\n" for name, value in self.get_all())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({list(self.get_all())!r})"
