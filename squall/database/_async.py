"""The asynchronous API: ``await connect_async(url)`` gives a pooled ``AsyncDatabase``.

Every call borrows a connection for one statement and gives it back;
``async with db.transaction() as tx`` keeps one connection for the block.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from ._base import AsyncSession, AsyncStream, Backend, Result, load_backend
from ._blocking import DEFAULT_MAX_IDLE_TIME
from ._errors import ClosedError, MultipleRowsError
from ._pool import Lease, Pool
from ._rows import Params, Row, normalize_params
from ._urls import parse_url

__all__ = [
    "DEFAULT_ACQUIRE_TIMEOUT",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MIN_SIZE",
    "ITER_BATCH_SIZE",
    "AsyncDatabase",
    "AsyncRowIterator",
    "Transaction",
    "connect_async",
]

T = TypeVar("T")
ManyParams = Sequence[Sequence[Any] | Mapping[str, Any]]

# Pool sizes and the borrowing wait: psycopg_pool's defaults (min 4 is
# lowered to 1 so a small app holds one idle connection, max 10 kept; its
# getconn timeout is 30 s).
DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 10
DEFAULT_ACQUIRE_TIMEOUT = 30.0
# Rows fetched per round trip by iter(): aiomysql's and DB-API's arraysize
# are 1, far too chatty; a hundred rows keeps memory small and trips few.
ITER_BATCH_SIZE = 100


class _Queries:
    """The statement methods, shared by the database and its transactions."""

    _backend: Backend

    @property
    def backend(self) -> str:
        """``"sqlite"``, ``"postgresql"`` or ``"mysql"``."""
        return self._backend.name

    @property
    def placeholder(self) -> str:
        """The driver's positional placeholder: ``"%s"`` or ``"?"``."""
        return self._backend.placeholder

    async def _call(self, op: Callable[[AsyncSession], Awaitable[T]], timeout: float | None) -> T:
        raise NotImplementedError

    async def _run(self, sql: str, params: Params, timeout: float | None) -> Result:
        return await self._call(lambda session: session.run(sql, params), timeout)

    async def _run_many(self, sql: str, seq: ManyParams, timeout: float | None) -> Result:
        rows = list(seq)
        return await self._call(lambda session: session.run_many(sql, rows), timeout)

    async def query(self, sql: str, *params: Any, timeout: float | None = None) -> list[Row]:
        """All rows the statement returns.

        Named parameters: pass one mapping, ``query(sql, {"id": 3})``.
        ``timeout`` (seconds) cancels the statement on the server and raises
        ``QueryTimeoutError``.
        """
        return (await self._run(sql, normalize_params(params), timeout)).rows or []

    async def get(self, sql: str, *params: Any, timeout: float | None = None) -> Row | None:
        """The only row, or None; more than one row raises ``MultipleRowsError``."""
        rows = (await self._run(sql, normalize_params(params), timeout)).rows or []
        if len(rows) > 1:
            raise MultipleRowsError(
                f"get() expects at most one row, the statement returned {len(rows)}"
            )
        return rows[0] if rows else None

    async def execute(self, sql: str, *params: Any, timeout: float | None = None) -> int | None:
        """Run a statement; the id of the row it inserted (see ``execute_lastrowid``)."""
        return (await self._run(sql, normalize_params(params), timeout)).lastrowid

    async def execute_lastrowid(
        self, sql: str, *params: Any, timeout: float | None = None
    ) -> int | None:
        """The id of the inserted row (PostgreSQL: ``INSERT ... RETURNING id``)."""
        return (await self._run(sql, normalize_params(params), timeout)).lastrowid

    async def execute_rowcount(self, sql: str, *params: Any, timeout: float | None = None) -> int:
        """The number of rows the statement changed."""
        return (await self._run(sql, normalize_params(params), timeout)).rowcount

    async def executemany(
        self, sql: str, seq: ManyParams, *, timeout: float | None = None
    ) -> int | None:
        return (await self._run_many(sql, seq, timeout)).lastrowid

    async def executemany_lastrowid(
        self, sql: str, seq: ManyParams, *, timeout: float | None = None
    ) -> int | None:
        return (await self._run_many(sql, seq, timeout)).lastrowid

    async def executemany_rowcount(
        self, sql: str, seq: ManyParams, *, timeout: float | None = None
    ) -> int:
        return (await self._run_many(sql, seq, timeout)).rowcount


class AsyncDatabase(_Queries):
    """A pool of connections to one database; see ``connect_async``."""

    def __init__(self, backend: Backend, pool: Pool) -> None:
        self._backend = backend
        self._pool = pool

    @property
    def pool(self) -> Pool:
        return self._pool

    async def _call(self, op: Callable[[AsyncSession], Awaitable[T]], timeout: float | None) -> T:
        lease = await self._pool.acquire()
        try:
            return await lease.call(op, timeout)
        finally:
            self._pool.release(lease)

    async def _run(self, sql: str, params: Params, timeout: float | None) -> Result:
        # The hot path (one statement, no timeout) spelled out: every await
        # level is walked again each time the driver's I/O resumes, so fewer
        # levels is measurably faster than going through _call and Lease.call.
        if timeout is not None:
            return await self._call(lambda session: session.run(sql, params), timeout)
        pool = self._pool
        lease = pool.acquire_now() or await pool.acquire()
        try:
            return await lease.session.run(sql, params)
        except asyncio.CancelledError:
            await lease.settle_after_cancel()
            raise
        except BaseException as exc:
            raise lease.lost_or(exc, in_transaction=False) from exc
        finally:
            self._pool.release(lease)

    def iter(
        self,
        sql: str,
        *params: Any,
        timeout: float | None = None,
        batch_size: int = ITER_BATCH_SIZE,
    ) -> AsyncRowIterator:
        """``async for row in db.iter(sql, ...)``: rows streamed from the server.

        One connection is held until the rows run out, an error, or
        ``aclose()``; ``async with db.iter(...) as rows:`` closes it even
        when the loop breaks early.
        """
        return AsyncRowIterator(self, None, sql, normalize_params(params), timeout, batch_size)

    def transaction(self) -> Transaction:
        """``async with db.transaction() as tx:`` — one connection, committed at the
        end of the block, rolled back on an exception or a cancellation."""
        return Transaction(self, None)

    async def close(self) -> None:
        """Refuse new calls, wait until every borrowed connection is back, close all."""
        await self._pool.close()

    async def __aenter__(self) -> AsyncDatabase:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class Transaction(_Queries):
    """A block of statements on one connection: all committed, or none.

    ``tx.transaction()`` opens a nested block, a savepoint: its failure rolls
    back only its own statements.
    """

    def __init__(self, database: AsyncDatabase, parent: Transaction | None) -> None:
        self._backend = database._backend
        self._database = database
        self._parent = parent
        self._depth: int = 0 if parent is None else parent._depth + 1
        self._lease: Lease | None = None
        self._child: Transaction | None = None
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def _savepoint(self) -> str:
        return f"squall_savepoint_{self._depth}"

    async def _call(self, op: Callable[[AsyncSession], Awaitable[T]], timeout: float | None) -> T:
        if not self._active or self._lease is None:
            raise ClosedError("this transaction is not open (use it inside its async with block)")
        if self._child is not None:
            raise ClosedError("a nested transaction is open: run statements on it instead")
        return await self._lease.call(op, timeout, in_transaction=True)

    async def _control(self, sql: str) -> None:
        assert self._lease is not None
        await self._lease.call(lambda session: session.run(sql, ()), None, in_transaction=True)

    async def __aenter__(self) -> Transaction:
        if self._active or self._lease is not None:
            raise RuntimeError("a Transaction object opens once; call transaction() again")
        parent = self._parent
        if parent is None:
            lease = await self._database._pool.acquire()
            self._lease = lease
            try:
                await self._control("BEGIN")
            except BaseException:
                lease.usable = False
                self._database._pool.release(lease)
                raise
        else:
            if not parent._active or parent._child is not None:
                raise ClosedError("the enclosing transaction is not open, or has a block open")
            self._lease = parent._lease
            parent._child = self
            try:
                await self._control(f"SAVEPOINT {self._savepoint()}")
            except BaseException:
                parent._child = None
                raise
        self._active = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        lease = self._lease
        assert lease is not None
        self._active = False
        try:
            if exc_type is None:
                await self._finish(commit=True)
            else:
                # Includes CancelledError: a cancelled handler's work is undone.
                try:
                    await self._finish(commit=False)
                except Exception:
                    # The block's own exception matters more; the connection
                    # is in an unknown state and will not be reused.
                    lease.usable = False
        finally:
            if self._parent is None:
                self._database._pool.release(lease)
            else:
                self._parent._child = None

    async def _finish(self, commit: bool) -> None:
        lease = self._lease
        assert lease is not None
        if not lease.usable:
            # Lost connection: nothing to commit or roll back on this side.
            return
        try:
            if self._parent is None:
                await self._control("COMMIT" if commit else "ROLLBACK")
            elif commit:
                await self._control(f"RELEASE SAVEPOINT {self._savepoint()}")
            else:
                await self._control(f"ROLLBACK TO SAVEPOINT {self._savepoint()}")
                await self._control(f"RELEASE SAVEPOINT {self._savepoint()}")
        except BaseException:
            if self._parent is None and commit:
                # COMMIT failed: make sure the server keeps nothing half-done.
                try:
                    await self._control("ROLLBACK")
                except BaseException:
                    lease.usable = False
            raise

    def transaction(self) -> Transaction:
        """A nested block (a savepoint) inside this transaction."""
        return Transaction(self._database, self)

    def iter(
        self,
        sql: str,
        *params: Any,
        timeout: float | None = None,
        batch_size: int = ITER_BATCH_SIZE,
    ) -> AsyncRowIterator:
        """Rows streamed on this transaction's connection."""
        return AsyncRowIterator(
            self._database, self, sql, normalize_params(params), timeout, batch_size
        )


class AsyncRowIterator:
    """Rows of one statement, fetched from the server in batches as they are used."""

    def __init__(
        self,
        database: AsyncDatabase,
        transaction: Transaction | None,
        sql: str,
        params: Params,
        timeout: float | None,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._database = database
        self._transaction = transaction
        self._sql = sql
        self._params = params
        self._timeout = timeout
        self._batch_size = batch_size
        self._lease: Lease | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: AsyncStream | None = None
        self._buffer: collections.deque[Row] = collections.deque()
        self._finished = False

    def __aiter__(self) -> AsyncRowIterator:
        return self

    async def __aenter__(self) -> AsyncRowIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _start(self) -> AsyncStream:
        self._loop = asyncio.get_running_loop()
        if self._transaction is not None:
            tx = self._transaction
            if not tx._active or tx._lease is None:
                raise ClosedError("this transaction is not open")
            self._lease = tx._lease
        else:
            self._lease = await self._database._pool.acquire()
        sql, params = self._sql, self._params
        try:
            stream = await self._lease.call(
                lambda session: session.open_stream(sql, params),
                self._timeout,
                in_transaction=self._transaction is not None,
            )
        except BaseException:
            self._give_back(usable=False)
            raise
        self._stream = stream
        return stream

    async def __anext__(self) -> Row:
        if not self._buffer:
            if self._finished:
                raise StopAsyncIteration
            stream = self._stream or await self._start()
            assert self._lease is not None
            count = self._batch_size
            try:
                batch = await self._lease.call(
                    lambda session: stream.fetch(count),
                    self._timeout,
                    in_transaction=self._transaction is not None,
                )
            except BaseException:
                await self.aclose()
                raise
            if not batch:
                await self.aclose()
                raise StopAsyncIteration
            self._buffer.extend(batch)
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """Stop reading: unread rows are discarded and the connection goes back."""
        self._finished = True
        self._buffer.clear()
        stream, self._stream = self._stream, None
        lease = self._lease
        if lease is None:
            return
        usable = lease.usable
        if stream is not None and usable:
            try:
                await lease.call(lambda session: stream.close(), None)
            except BaseException:
                usable = False
                self._give_back(usable)
                raise
        self._give_back(usable)

    def _give_back(self, usable: bool) -> None:
        lease, self._lease = self._lease, None
        self._finished = True
        if lease is None or self._transaction is not None:
            return
        if not usable:
            lease.usable = False
        self._database._pool.release(lease)

    def __del__(self) -> None:
        # Dropped mid-way (a loop that broke out without aclose): give the
        # connection back from the loop it belongs to.
        lease = getattr(self, "_lease", None)
        loop = getattr(self, "_loop", None)
        if lease is None or loop is None or self._transaction is not None:
            return
        self._lease = None
        if not loop.is_closed():
            loop.call_soon_threadsafe(_close_abandoned, self._database, lease, self._stream)


def _close_abandoned(database: AsyncDatabase, lease: Lease, stream: AsyncStream | None) -> None:
    async def finish() -> None:
        try:
            if stream is not None and lease.usable:
                await lease.call(lambda session: stream.close(), None)
        except Exception:
            lease.usable = False
        database._pool.release(lease)

    task = asyncio.ensure_future(finish())
    _abandoned_closes.add(task)
    task.add_done_callback(_abandoned_closes.discard)


# Strong references: the loop keeps only weak ones to running tasks.
_abandoned_closes: set[asyncio.Task[None]] = set()


async def connect_async(
    url: str,
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    max_size: int = DEFAULT_MAX_SIZE,
    acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
    max_idle_time: float = DEFAULT_MAX_IDLE_TIME,
) -> AsyncDatabase:
    """Open a pool to the database the URL names and return it, ready.

    ``min_size`` connections are opened now (a wrong password fails here);
    up to ``max_size`` are opened on demand. A call that finds all of them
    borrowed waits ``acquire_timeout`` seconds, then raises
    ``PoolTimeoutError``. An in-memory SQLite database lives in its one
    connection, so ``sqlite://`` always gets a pool of exactly one.
    """
    parsed = parse_url(url)
    backend = load_backend(parsed.backend)
    if parsed.backend == "sqlite" and parsed.path == ":memory:":
        min_size, max_size = 1, 1
        max_idle_time = float("inf")
    pool = backend.make_pool(
        parsed,
        min_size=min_size,
        max_size=max_size,
        acquire_timeout=acquire_timeout,
        max_idle_time=max_idle_time,
    )
    await pool.start()
    return AsyncDatabase(backend, pool)
