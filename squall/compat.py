"""Run unchanged Tornado programs on squall: the ``tornado`` alias.

``install_tornado()`` makes ``import tornado`` and ``import tornado.X`` give
squall's own module objects, so that ``sys.modules["tornado.web"] is
sys.modules["squall.web"]``: ``isinstance`` checks, module globals and
monkeypatching all act on the one module. Only the top-level ``tornado``
module is separate, because it reports the Tornado API level squall
implements (``tornado.version``) while ``squall.version`` stays squall's own.

Three ways to switch it on, all ending here:

* ``squall.compat.install_tornado()`` from code, before anything imports
  ``tornado``;
* ``python -m squall.tornado PROGRAM [ARGS...]``;
* ``SQUALL_AS_TORNADO=1`` in the environment: a ``.pth`` file installed with
  the package calls ``install_from_environment()`` at interpreter start, so
  the alias reaches subprocesses too (``python -m tornado.autoreload``, test
  runners that spawn servers).

Without any of these nothing changes, and a real Tornado installed next to
squall stays importable.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

import squall
from squall import _tornado_mode

__all__ = [
    "ALIAS_ENV_VAR",
    "TORNADO_VERSION",
    "TORNADO_VERSION_INFO",
    "TornadoAliasError",
    "install_from_environment",
    "install_tornado",
    "is_installed",
]

# The Tornado release whose public API squall implements; programs that
# check ``tornado.version_info`` before using a feature see this level.
TORNADO_VERSION = "6.6.1"
TORNADO_VERSION_INFO = (6, 6, 1, 0)

# The environment variable the .pth hook looks at ("1" switches it on).
ALIAS_ENV_VAR = "SQUALL_AS_TORNADO"

_ALIAS = "tornado"
_TARGET = "squall"

# Tornado's logger names and the squall loggers that do their job.
_LOGGER_NAMES = {
    "tornado": "squall",
    "tornado.access": "squall.access",
    "tornado.application": "squall.application",
    "tornado.general": "squall.general",
}


# ``tornado.__all__`` as Tornado 6.6 has it: the submodules a star-import
# gives (websocket and wsgi are reachable as attributes but not listed).
_TORNADO_ALL = tuple(sorted(squall._LAZY_SUBMODULES - {"compat", "websocket", "wsgi"}))


class TornadoAliasError(ImportError):
    """The alias cannot be installed: a real ``tornado`` is already imported."""


class _AliasedModuleLoader(importlib.abc.Loader):
    """Hands the import system a squall module that is already loaded.

    The import system stamps the spec it was given onto the module; the
    module keeps its own (``squall.X``) spec so that ``importlib.reload``
    and pickling by module name still see squall's names.
    """

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module
        self._own_spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._own_spec

    # ``python -m tornado.X`` (runpy) runs a module's code afresh as
    # __main__: hand it squall.X's code, as ``python -m squall.X`` would run.
    def get_code(self, fullname: str) -> types.CodeType | None:
        loader = self._own_spec.loader if self._own_spec is not None else None
        get_code = getattr(loader, "get_code", None)
        if get_code is None or self._own_spec is None:
            return None
        code: types.CodeType | None = get_code(self._own_spec.name)
        return code

    def is_package(self, fullname: str) -> bool:
        return hasattr(self._module, "__path__")


class _TornadoFinder(importlib.abc.MetaPathFinder):
    """Finds ``tornado.X`` as ``squall.X`` when squall has that module."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_ALIAS + "."):
            return None
        parent_name = fullname.rpartition(".")[0]
        parent = sys.modules.get(parent_name)
        # Only children of aliased packages are ours: a package that some
        # other finder loaded under the tornado name (a test tree, say)
        # keeps its own children.
        if parent is not None and not _is_aliased(parent):
            return None
        target_name = _TARGET + fullname[len(_ALIAS) :]
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (
                exc.name == target_name or target_name.startswith(exc.name + ".")
            ):
                return None  # squall has no such module
            raise
        loader = _AliasedModuleLoader(module)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, loader, is_package=is_package)


def _is_aliased(module: types.ModuleType) -> bool:
    if isinstance(module, _TornadoPackage):
        return True
    name = getattr(module, "__name__", "")
    return name == _TARGET or name.startswith(_TARGET + ".")


class _TornadoPackage(types.ModuleType):
    """The top-level ``tornado`` module: version attributes, lazy submodules."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{_ALIAS}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {_ALIAS!r} has no attribute {name!r}") from None


class _NamespacePortions(list):  # type: ignore[type-arg]
    """The alias package's ``__path__``: directories added to it by hand,
    then every ``tornado/`` directory on ``sys.path`` that is a namespace
    portion (no ``__init__.py``), looked up afresh each time.

    So a tree that only adds modules under the name, such as Tornado's own
    test package extracted next to a program, imports as ``tornado.X`` for
    whatever squall lacks, in subprocesses too. A real Tornado install has
    an ``__init__.py`` and is never merged in.
    """

    def __iter__(self) -> Any:
        seen = set()
        for entry in list.__iter__(self):
            seen.add(entry)
            yield entry
        for base in list(sys.path):
            candidate = os.path.join(base or os.getcwd(), _ALIAS)
            if candidate in seen or not os.path.isdir(candidate):
                continue
            if os.path.exists(os.path.join(candidate, "__init__.py")):
                continue
            seen.add(candidate)
            yield candidate


def _make_package() -> _TornadoPackage:
    package = _TornadoPackage(_ALIAS, f"Tornado's API, served by squall ({__name__}).")
    package.__path__ = _NamespacePortions()
    package.__package__ = _ALIAS
    package.__file__ = __file__
    package.version = TORNADO_VERSION  # type: ignore[attr-defined]
    package.version_info = TORNADO_VERSION_INFO  # type: ignore[attr-defined]
    package.__all__ = list(_TORNADO_ALL)  # type: ignore[attr-defined]
    spec = importlib.machinery.ModuleSpec(_ALIAS, None, is_package=True)
    spec.submodule_search_locations = package.__path__
    package.__spec__ = spec
    return package


_finder = _TornadoFinder()


def is_installed() -> bool:
    """Whether ``tornado`` currently names squall."""
    return isinstance(sys.modules.get(_ALIAS), _TornadoPackage)


def install_tornado() -> None:
    """Make ``import tornado`` (and every ``tornado.X``) give squall's modules.

    Call it before anything imports ``tornado``; calling it again does
    nothing. Raises ``TornadoAliasError`` if a real Tornado is already
    imported in this process, since its modules and squall's cannot be
    merged after the fact.
    """
    if is_installed():
        return
    real = sys.modules.get(_ALIAS)
    if real is not None:
        raise TornadoAliasError(
            f"a real tornado is already imported from {getattr(real, '__file__', '?')}; "
            "install the alias before importing it"
        )
    sys.modules[_ALIAS] = _make_package()
    # Refusals answered with Tornado's statuses (400 where squall says 413...).
    _tornado_mode.answer_as_tornado = True
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    _alias_loggers()
    # Modules already loaded under squall's names are valid tornado names now.
    for name, module in list(sys.modules.items()):
        if name.startswith(_TARGET + ".") and module is not None:
            alias = _ALIAS + name[len(_TARGET) :]
            sys.modules.setdefault(alias, module)


def install_from_environment() -> None:
    """Install the alias if ``SQUALL_AS_TORNADO=1``; the .pth hook calls this."""
    if os.environ.get(ALIAS_ENV_VAR) == "1":
        install_tornado()


def _alias_loggers() -> None:
    """Let configuration of Tornado's logger names reach squall's loggers.

    ``logging.getLogger("tornado.access")`` returns squall's access logger
    from now on, so levels, handlers and filters set through either name
    land on the same object; loggers created later under ``tornado.``
    hang below squall's.
    """
    manager = logging.Logger.manager
    logging._acquireLock()  # type: ignore[attr-defined]
    try:
        for alias, target in _LOGGER_NAMES.items():
            ours = logging.getLogger(target)
            existing = manager.loggerDict.get(alias)
            if isinstance(existing, logging.Logger) and existing is not ours:
                # Configured before the alias: carry that configuration over.
                for handler in existing.handlers:
                    ours.addHandler(handler)
                if existing.level != logging.NOTSET:
                    ours.setLevel(existing.level)
            manager.loggerDict[alias] = ours
    finally:
        logging._releaseLock()  # type: ignore[attr-defined]
