"""The errors squall.database raises itself.

Errors a driver raises about the SQL (syntax, constraints, types) reach the
caller unchanged, as the driver's own DB-API exceptions: wrapping them would
hide the codes and fields each driver documents.

Error tree::

    DatabaseError
    ├── ConfigurationError (also ValueError)   bad URL, unknown scheme, driver missing
    ├── MultipleRowsError                      get() found more than one row
    ├── PoolTimeoutError (also TimeoutError)   no connection free within acquire_timeout
    ├── QueryTimeoutError (also TimeoutError)  a statement ran past its timeout=
    ├── ConnectionLostError                    the server went away inside a transaction
    └── ClosedError                            the database or transaction is closed
"""

from __future__ import annotations

__all__ = [
    "ClosedError",
    "ConfigurationError",
    "ConnectionLostError",
    "DatabaseError",
    "MultipleRowsError",
    "PoolTimeoutError",
    "QueryTimeoutError",
]


class DatabaseError(Exception):
    """Base of every error squall.database raises on its own account."""


class ConfigurationError(DatabaseError, ValueError):
    """The URL or the arguments cannot describe a database we can open."""


class MultipleRowsError(DatabaseError):
    """``get()`` expects at most one row and the statement returned more."""


class PoolTimeoutError(DatabaseError, TimeoutError):
    """Every pooled connection stayed borrowed for ``acquire_timeout`` seconds."""


class QueryTimeoutError(DatabaseError, TimeoutError):
    """A statement passed its ``timeout=``; it was cancelled on the server too."""


class ConnectionLostError(DatabaseError):
    """The connection broke inside a transaction.

    The transaction's work is gone with the server session, so nothing is
    retried: the caller decides whether to run the whole transaction again.
    """


class ClosedError(DatabaseError):
    """The database (or a finished transaction) no longer accepts calls."""
