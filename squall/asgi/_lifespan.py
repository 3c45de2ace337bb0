"""The ASGI lifespan protocol, both ways.

``serve_lifespan``: an ASGI server starts and stops a squall application;
its ``on_startup`` hooks run on ``lifespan.startup``, ``on_shutdown`` on
``lifespan.shutdown``. ``LifespanDriver``: squall starts and stops a hosted
ASGI application the way an ASGI server would.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import traceback
from collections.abc import Iterable
from typing import Any

from squall.asgi._common import (
    ASGI_VERSION,
    ASGIApp,
    LifespanFailure,
    Message,
    ProtocolViolation,
    Receive,
    Scope,
    Send,
)
from squall.log import app_log, gen_log

_state: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("squall_asgi_state")


def lifespan_state() -> dict[str, Any]:
    """The ASGI server's lifespan ``state`` dict, inside a startup or
    shutdown hook run by ``to_asgi``. What a hook puts there, the server
    copies into every request's scope (``request.connection.scope["state"]``).

    Raises ``LookupError`` outside a hook (or when the server has no state).
    """
    return _state.get()


async def _run_hooks(hooks: Iterable[Any]) -> None:
    for hook in list(hooks):
        result = hook()
        if result is not None and inspect.isawaitable(result):
            await result


async def serve_lifespan(delegate: object, scope: Scope, receive: Receive, send: Send) -> None:
    state = scope.get("state")
    if isinstance(state, dict):
        _state.set(state)
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            hooks = getattr(delegate, "on_startup", ())
            phase = "startup"
        elif kind == "lifespan.shutdown":
            hooks = getattr(delegate, "on_shutdown", ())
            phase = "shutdown"
        else:
            continue
        try:
            await _run_hooks(hooks)
        except Exception:
            app_log.error("Uncaught exception in a %s hook", phase, exc_info=True)
            await send({"type": f"lifespan.{phase}.failed", "message": traceback.format_exc()})
            return
        await send({"type": f"lifespan.{phase}.complete"})
        if phase == "shutdown":
            return


# How long shutdown waits for the hosted application to answer. uvicorn
# does not bound it; hypercorn waits 60 s (its shutdown_timeout).
LIFESPAN_SHUTDOWN_TIMEOUT = 60.0


class LifespanDriver:
    """Runs a hosted ASGI application's lifespan: ``startup()`` before
    serving, ``shutdown()`` after. ``state`` is the dict every request's
    scope gets a shallow copy of."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.supported: bool | None = None  # None until startup() has run
        self._inbox: asyncio.Queue[Message] | None = None
        self._replies: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        if self._task is not None:
            raise ProtocolViolation("startup() called twice")
        self._inbox = asyncio.Queue()
        self._replies = asyncio.Queue()
        scope: Scope = {"type": "lifespan", "asgi": dict(ASGI_VERSION), "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._replies.get()
        kind = reply.get("type")
        if kind == "lifespan.startup.complete":
            self.supported = True
        elif kind == "lifespan.startup.failed":
            raise LifespanFailure(reply.get("message") or "startup failed")
        else:  # the application ended without answering: no lifespan support
            self.supported = False

    async def shutdown(self) -> None:
        if not self.supported or self._task is None or self._task.done():
            return
        assert self._inbox is not None and self._replies is not None
        await self._inbox.put({"type": "lifespan.shutdown"})
        getting = asyncio.ensure_future(self._replies.get())
        done, _ = await asyncio.wait((getting,), timeout=LIFESPAN_SHUTDOWN_TIMEOUT)
        if not done:
            getting.cancel()
            gen_log.warning("ASGI application did not finish its shutdown in time")
            return
        reply = getting.result()
        if reply.get("type") == "lifespan.shutdown.failed":
            raise LifespanFailure(reply.get("message") or "shutdown failed")

    async def _receive(self) -> Message:
        assert self._inbox is not None
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        assert self._replies is not None
        kind = message.get("type")
        if kind not in (
            "lifespan.startup.complete",
            "lifespan.startup.failed",
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        ):
            raise ProtocolViolation(f"unexpected lifespan message {kind!r}")
        await self._replies.put(message)

    async def _run(self, scope: Scope) -> None:
        assert self._replies is not None
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as e:
            if self.supported:
                app_log.error("Exception in ASGI lifespan", exc_info=True)
            else:
                # The spec: an application that raises on the lifespan scope
                # does not support it; go on without.
                gen_log.info("ASGI application has no lifespan support: %r", e)
        finally:
            # Whoever waits for a reply must not wait forever.
            await self._replies.put({"type": "lifespan.ended"})
