"""Finding what to serve from ``MODULE:ATTRIBUTE``."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, Union

from squall.httputil import HTTPServerConnectionDelegate, HTTPServerRequest

__all__ = ["TargetError", "load_target"]

Servable = Union[HTTPServerConnectionDelegate, Callable[[HTTPServerRequest], Any]]


class TargetError(Exception):
    """TARGET cannot be imported, or names nothing that can be served."""


def load_target(spec: str, factory: bool = False) -> Servable:
    """Import ``MODULE:ATTRIBUTE`` (dots in ATTRIBUTE reach into objects).

    The current directory is searched first, as ``python -m`` does for a
    program, so ``python -m squall app:application`` finds ``./app.py``.
    """
    module_name, _, attr_path = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise TargetError(f"cannot import module {module_name!r}: no such module") from exc
        raise  # the module exists; something it imports does not: show the traceback
    value: Any = module
    for part in attr_path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if factory:
        if not callable(value):
            raise TargetError(f"--factory: {spec} is not callable")
        value = value()
    if isinstance(value, HTTPServerConnectionDelegate):
        return value
    if isinstance(value, type) or not callable(value) or _takes_no_arguments(value):
        # A request callable takes the request; a class or a function of no
        # arguments is more likely an application factory.
        hint = " (did you mean --factory?)" if callable(value) else ""
        raise TargetError(
            f"{spec} is a {type(value).__name__}, not an Application, an "
            f"HTTPServerConnectionDelegate or a request callable{hint}"
        )
    return value  # type: ignore[no-any-return]


def _takes_no_arguments(value: Any) -> bool:
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return False  # a builtin or C callable: give it the benefit of the doubt
    try:
        signature.bind(object())
    except TypeError:
        return True
    return False
