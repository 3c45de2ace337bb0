"""The WebSocket transport: ``/chatsocket`` pushes new messages.

The page opens ``/chatsocket?cursor=<last id>`` and receives
``{"messages": [...]}`` frames (the same JSON as a long poll answers): first
what it missed since the cursor, then each new message. It never sends on
the socket: posting stays an XSRF-checked ``POST /a/message/new``, so the
socket needs no token of its own. The handshake requires the signed-in
cookie (403 otherwise) and a same-origin ``Origin`` (``check_origin``'s
default), which stops other sites from opening it with the user's cookie.

Imported by ``demos.chat.app.socket_routes`` only; without squall.websocket
the import fails and the chat runs on long polling alone.
"""

from __future__ import annotations

from collections.abc import Callable

from demos.chat.buffer import Message, MessageBuffer
from demos.chat.handlers import signed_in_nickname
from squall.web import HTTPError
from squall.websocket import WebSocketClosedError, WebSocketHandler

__all__ = ["ChatSocketHandler"]


class ChatSocketHandler(WebSocketHandler):
    def initialize(self, buffer: MessageBuffer) -> None:
        self.buffer = buffer
        self._unsubscribe: Callable[[], None] | None = None

    def get_current_user(self) -> str | None:
        return signed_in_nickname(self)

    def prepare(self) -> None:
        # Refuse the handshake itself: an anonymous socket never opens.
        if not self.current_user:
            raise HTTPError(403, reason="Sign in first")

    def open(self, *args: str, **kwargs: str) -> None:
        missed = self.buffer.messages_since(self.get_argument("cursor", None))
        if missed:
            self.write_message({"messages": missed})
        self._unsubscribe = self.buffer.listen(self._push)

    def _push(self, messages: list[Message]) -> None:
        try:
            self.write_message({"messages": messages})
        except WebSocketClosedError:
            # Closing, and on_close has not run yet: it will unsubscribe.
            pass

    def on_message(self, message: str | bytes) -> None:
        # The page only listens; anything it sends is a mistake.
        self.close(1003, "this socket only sends")  # RFC 6455 §7.4.1: unacceptable data

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
