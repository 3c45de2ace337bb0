"""How a stream's results reach its caller: Futures and ``callback=``.

Private to squall.iostream. ``_StreamCallbacks`` is a base of
``BaseIOStream`` (in ``_iostream_base``): the Tornado-style ``callback=``
arguments, the close callback's timing, and running user code so that what
it raises is logged and closes the stream rather than escaping into the loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from squall.log import app_log

__all__: list[str] = []

_T = TypeVar("_T")


def _mark_failed(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Fail ``future``, unless done, without a "never retrieved" complaint.

    Reads and writes that fail because the stream closed are reported
    through the close callback too; an unawaited one is not an error.
    """
    if not future.done():
        future.set_exception(exc)
        future.exception()


def _resolve(future: asyncio.Future[_T], value: _T) -> None:
    if not future.done():
        future.set_result(value)


class _StreamCallbacks:
    """The user-callback side of ``BaseIOStream``, which sets these fields."""

    _loop: asyncio.AbstractEventLoop
    _closed: bool
    _close_callback: Callable[[], Any] | None
    # Callbacks given with callback= whose Future has not settled yet.
    _callbacks_pending: int

    if TYPE_CHECKING:

        def close(self, exc_info: Any = False) -> None: ...

    def _schedule_close_callback(self) -> None:
        if self._callbacks_pending:
            # Callback-style code chains reads from read callbacks; data
            # buffered before the close must reach them all before they
            # hear of the close (as with Tornado's callback API).
            return
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            self._loop.call_soon(self._run_callback, callback)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback; what it raises is logged and closes the stream."""
        try:
            result = callback(*args)
        except Exception:
            app_log.error(
                "Uncaught exception in stream callback, closing connection", exc_info=True
            )
            self.close(exc_info=True)
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(self._log_callback_failure)

    def _log_callback_failure(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            app_log.error("Uncaught exception in stream callback, closing connection", exc_info=exc)
            self.close(exc_info=exc)

    def _call_on_success(
        self, future: asyncio.Future[Any], callback: Callable[..., Any], with_result: bool
    ) -> None:
        """The ``callback=`` form: call it when ``future`` succeeds.

        On failure the callback is not called (as in Tornado 5, the close
        callback reports a closed stream).
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        self._callbacks_pending += 1

        def on_done(f: asyncio.Future[Any]) -> None:
            try:
                if f.cancelled() or f.exception() is not None:
                    return
                if with_result:
                    self._run_callback(callback, f.result())
                else:
                    self._run_callback(callback)
            finally:
                self._callbacks_pending -= 1
                if not self._callbacks_pending and self._closed:
                    self._schedule_close_callback()

        future.add_done_callback(on_done)
