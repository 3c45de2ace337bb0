"""What every backend provides: a blocking session and an asynchronous one.

The public classes (``Connection``, ``AsyncDatabase``, ``Transaction``) speak
only to these interfaces; each ``_<backend>.py`` module implements them over
its driver. A *session* owns one driver connection.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError
from ._rows import Params, Row
from ._urls import DatabaseURL

if TYPE_CHECKING:
    from ._pool import Pool

__all__ = ["AsyncSession", "AsyncStream", "Backend", "Result", "SyncSession", "load_backend"]


@dataclasses.dataclass(slots=True)
class Result:
    """What one statement gave back."""

    rows: list[Row] | None  # None when the statement returns no result set
    lastrowid: int | None
    rowcount: int


class SyncSession(abc.ABC):
    """One blocking driver connection, in autocommit mode."""

    @abc.abstractmethod
    def run(self, sql: str, params: Params) -> Result: ...

    @abc.abstractmethod
    def run_many(self, sql: str, seq: Sequence[Params]) -> Result: ...

    def fetch(self, sql: str, params: Params) -> list[Row]:
        """The rows alone: ``query`` and ``get`` need nothing else, and a
        backend may skip building a ``Result`` for them."""
        return self.run(sql, params).rows or []

    @abc.abstractmethod
    def stream(self, sql: str, params: Params) -> Iterator[Row]:
        """Rows as the server sends them; closing the generator early cleans up."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def broken(self) -> bool:
        """After an error: is the connection itself gone (not just the statement)?"""


class AsyncStream(abc.ABC):
    """Rows of one statement, fetched a batch at a time."""

    @abc.abstractmethod
    async def fetch(self, count: int) -> list[Row]:
        """Up to ``count`` rows; an empty list at the end."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Discard unread rows so the connection can run the next statement."""


class AsyncSession(abc.ABC):
    """One asynchronous driver connection, in autocommit mode."""

    @abc.abstractmethod
    async def run(self, sql: str, params: Params) -> Result: ...

    @abc.abstractmethod
    async def run_many(self, sql: str, seq: Sequence[Params]) -> Result: ...

    @abc.abstractmethod
    async def open_stream(self, sql: str, params: Params) -> AsyncStream: ...

    @abc.abstractmethod
    async def cancel_running(self) -> None:
        """Ask the server to stop the statement this session is running.

        Called from another task while ``run`` is in flight; that ``run``
        then ends soon, usually with the driver's "cancelled" error.
        """

    @abc.abstractmethod
    async def settle_after_cancel(self) -> bool:
        """The awaiting caller was cancelled in the middle of a driver call:
        make sure the statement stops on the server; True if the connection
        is idle and can be reused, False if it must be dropped."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop the connection now, without a goodbye to the server."""

    @abc.abstractmethod
    def looks_dead(self) -> bool:
        """Cheap check before reuse: did the server hang up while we idled?"""

    @abc.abstractmethod
    def is_lost(self, exc: BaseException) -> bool:
        """Did ``exc`` leave this connection unusable (as opposed to a SQL error)?"""


class Backend(abc.ABC):
    name: str
    # The driver's own placeholder, for docs and the tests: "%s" or "?".
    placeholder: str

    @abc.abstractmethod
    def open_sync(self, url: DatabaseURL, **options: Any) -> SyncSession: ...

    @abc.abstractmethod
    async def open_async(self, url: DatabaseURL) -> AsyncSession: ...

    def make_pool(self, url: DatabaseURL, **limits: Any) -> Pool:
        """The pool ``connect_async`` uses: ours, unless the driver has one."""
        from ._pool import Pool  # _pool imports this module

        return Pool(self, url, **limits)


# Backend name -> (module, the pip extra that installs its driver).
_BACKEND_MODULES = {
    "sqlite": ("squall.database._sqlite", None),
    "postgresql": ("squall.database._postgres", "postgresql"),
    "mysql": ("squall.database._mysql", "mysql"),
}


def load_backend(name: str) -> Backend:
    """Import a backend only when used, so a missing driver bothers no one else."""
    module_name, extra = _BACKEND_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {name} backend needs its driver: pip install 'squall[{extra}]' ({exc})"
        ) from exc
    backend: Backend = module.BACKEND
    return backend
