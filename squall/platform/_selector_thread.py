"""Readiness callbacks for loops that have none: a selector in a thread.

Some event loops (Windows' proactor loop) implement no ``add_reader``. A
``SelectorThread`` watches file descriptors with ``select`` in a helper
thread and runs the callbacks on the loop's own thread. squall's loops
(asyncio's selector loop, uvloop) have readiness callbacks already; these
classes exist for programs that construct them by name.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["AddThreadSelectorEventLoop", "SelectorThread"]

_Callback = tuple[Callable[..., Any], tuple[Any, ...]]

# Selector threads not yet closed (Tornado's name). At interpreter exit the
# ones still open are stopped and their waker sockets closed, which the
# garbage collector would otherwise report as unclosed sockets.
_selector_loops: set[SelectorThread] = set()


def _atexit_callback() -> None:
    """Stop every selector thread still open (registered with ``atexit``)."""
    for selector in list(_selector_loops):
        selector._stop_thread()
    _selector_loops.clear()


atexit.register(_atexit_callback)


class SelectorThread:
    """``add_reader``/``add_writer`` for ``real_loop``, served by a thread.

    After reporting a batch of ready descriptors the thread waits until
    their callbacks have run on the loop, so a level-triggered descriptor
    the callback drains is not reported twice.

    The thread is started by a task (Tornado's ``_thread_manager_task``)
    created on the loop iteration after construction, and stopped by
    ``close()``, or at interpreter exit for a selector never closed.
    """

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._loop = real_loop
        self._readers: dict[int, _Callback] = {}
        self._writers: dict[int, _Callback] = {}
        self._lock = threading.Lock()
        self._closed = False
        # Set when the thread must leave its loop (close, or exit).
        self._closing_selector = False
        self._dispatched = threading.Event()
        # Writing a byte here interrupts select() so it sees new interests.
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._thread: threading.Thread | None = None
        self._thread_manager_task: asyncio.Task[None] | None = None
        _selector_loops.add(self)
        real_loop.call_soon(self._start_thread_manager)

    def _start_thread_manager(self) -> None:
        if self._closed:
            return  # closed already: no thread to start, nothing to leave pending
        self._thread_manager_task = self._loop.create_task(self._thread_manager())

    async def _thread_manager(self) -> None:
        """Start the selector thread (once; a closed selector's exits at once)."""
        self._ensure_thread()

    def _drop_unstarted_manager(self) -> None:
        """Closed before the manager task ran: it must never run, and must
        not be reported later as pending or as a coroutine never awaited
        (its loop may well be closed before it gets a turn)."""
        task = self._thread_manager_task
        if task is None or task.done():
            return
        task.cancel()
        setattr(task, "_log_destroy_pending", False)  # noqa: B010 - asyncio's flag
        coroutine = task.get_coro()
        if inspect.iscoroutine(coroutine):
            coroutine.close()  # an unstarted coroutine closes without a warning

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._set(self._readers, fd, (callback, args))

    def add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._set(self._writers, fd, (callback, args))

    def remove_reader(self, fd: Any) -> bool:
        return self._set(self._readers, fd, None)

    def remove_writer(self, fd: Any) -> bool:
        return self._set(self._writers, fd, None)

    def close(self) -> None:
        """Stop the thread and release its descriptors; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._drop_unstarted_manager()
        self._stop_thread()

    def _stop_thread(self) -> None:
        """Make the thread leave its loop, wait for it, close the wakers."""
        with self._lock:
            if self._closing_selector:
                return
            self._closing_selector = True
        _selector_loops.discard(self)
        self._wake()
        self._dispatched.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._waker_r.close()
        self._waker_w.close()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="squall-selector", daemon=True
                )
                self._thread.start()

    def _set(self, table: dict[int, _Callback], fd: Any, entry: _Callback | None) -> bool:
        fileno = fd if isinstance(fd, int) else fd.fileno()
        with self._lock:
            if self._closed:
                raise RuntimeError("SelectorThread is closed")
            if entry is None:
                existed = table.pop(fileno, None) is not None
            else:
                existed = True
                table[fileno] = entry
        self._ensure_thread()
        self._wake()
        return existed

    def _wake(self) -> None:
        try:
            self._waker_w.send(b"\0")
        except OSError:
            pass  # already closed, or the buffer is full: a wake is pending

    def _interests(self) -> dict[int, int]:
        with self._lock:
            wanted: dict[int, int] = {}
            for fd in self._readers:
                wanted[fd] = selectors.EVENT_READ
            for fd in self._writers:
                wanted[fd] = wanted.get(fd, 0) | selectors.EVENT_WRITE
            return wanted

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(self._waker_r, selectors.EVENT_READ)
            except (ValueError, OSError):
                return  # closed before the thread got going
            registered: dict[int, int] = {}
            while not self._closing_selector:
                wanted = self._interests()
                for fd in set(registered) - set(wanted):
                    selector.unregister(fd)
                    del registered[fd]
                for fd, events in wanted.items():
                    if fd not in registered:
                        selector.register(fd, events)
                    elif registered[fd] != events:
                        selector.modify(fd, events)
                    registered[fd] = events
                try:
                    ready = selector.select()
                except OSError:
                    # A descriptor was closed under us; its owner removes it.
                    continue
                readable, writable = [], []
                for key, events in ready:
                    if key.fileobj is self._waker_r:
                        self._drain_wakes()
                        continue
                    if events & selectors.EVENT_READ:
                        readable.append(key.fd)
                    if events & selectors.EVENT_WRITE:
                        writable.append(key.fd)
                if (readable or writable) and not self._closing_selector:
                    self._dispatched.clear()
                    try:
                        self._loop.call_soon_threadsafe(self._dispatch, readable, writable)
                    except RuntimeError:
                        return  # the loop is closed
                    self._dispatched.wait()

    def _drain_wakes(self) -> None:
        try:
            while self._waker_r.recv(4096):
                pass
        except OSError:
            pass

    def _dispatch(self, readable: list[int], writable: list[int]) -> None:
        try:
            for fds, table in ((readable, self._readers), (writable, self._writers)):
                for fd in fds:
                    entry = table.get(fd)
                    if entry is not None:
                        callback, args = entry
                        callback(*args)
        finally:
            self._dispatched.set()


class AddThreadSelectorEventLoop(asyncio.AbstractEventLoop):
    """Wraps ``real_loop``, adding readiness callbacks through a ``SelectorThread``.

    Every other attribute is the real loop's.
    """

    # Served by this wrapper rather than forwarded: our two slots, the four
    # readiness methods the selector thread provides, and close (which must
    # stop that thread too).
    _OWN_SLOTS = ("_real_loop", "_selector")
    _READINESS_METHODS = ("add_reader", "remove_reader", "add_writer", "remove_writer")
    MY_ATTRIBUTES = frozenset((*_OWN_SLOTS, *_READINESS_METHODS, "close"))

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._real_loop = real_loop
        self._selector = SelectorThread(real_loop)

    def __getattribute__(self, name: str) -> Any:
        if name in AddThreadSelectorEventLoop.MY_ATTRIBUTES or name.startswith("__"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_real_loop"), name)

    def add_reader(  # type: ignore[override]
        self, fd: Any, callback: Callable[..., Any], *args: Any
    ) -> None:
        self._selector.add_reader(fd, callback, *args)

    def add_writer(  # type: ignore[override]
        self, fd: Any, callback: Callable[..., Any], *args: Any
    ) -> None:
        self._selector.add_writer(fd, callback, *args)

    def remove_reader(self, fd: Any) -> bool:
        return self._selector.remove_reader(fd)

    def remove_writer(self, fd: Any) -> bool:
        return self._selector.remove_writer(fd)

    def close(self) -> None:
        self._selector.close()
        self._real_loop.close()
