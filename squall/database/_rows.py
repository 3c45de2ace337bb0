"""Row: the mapping every query returns, readable as ``row["title"]`` or ``row.title``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

__all__ = ["Params", "Row", "normalize_params"]

# What a statement's parameters may be: positional values for ``%s``/``?``, or
# one mapping for named placeholders (``%(name)s``, ``:name``).
Params = Union[Sequence[Any], Mapping[str, Any]]


class Row(dict[str, Any]):
    """A result row: a plain dict whose keys can also be read as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"row has no column {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"row has no column {name!r}") from None


def normalize_params(params: tuple[Any, ...], named: Mapping[str, Any] | None = None) -> Params:
    """The one parameter set to hand the driver.

    ``query(sql, a, b)`` gives positional values; ``query(sql, x=1)`` or
    ``query(sql, {"x": 1})`` gives named ones. Mixing both is a caller error:
    no driver accepts it.
    """
    if named:
        if params:
            raise TypeError("pass positional or named parameters, not both")
        return dict(named)
    if len(params) == 1:
        only = params[0]
        # Plain values first: the Mapping check is an ABC lookup.
        if type(only) not in _PLAIN_VALUES and isinstance(only, Mapping):
            return only
    return params


_PLAIN_VALUES = frozenset({int, str, float, bytes, bool, type(None)})
