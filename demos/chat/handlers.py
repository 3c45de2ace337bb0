"""The chat's pages and AJAX endpoints.

- ``GET /``: the room (login required), with the cached messages.
- ``GET/POST /auth/login``, ``POST /auth/logout``: a nickname in a signed cookie.
- ``POST /a/message/new``: post a message; answers with it as JSON (its
  ``html`` is the escaped fragment the page inserts), or redirects back to
  ``next`` when a browser without JavaScript submitted the form; 503 when
  the room spans processes and its pub/sub backend is down.
- ``POST /a/message/updates``: the long poll. Answers with the messages after
  ``cursor`` at once if there are some, else holds the request open until
  the next message, the client goes away, or ``LONG_POLL_TIMEOUT``.

Every POST carries the XSRF token (``xsrf_cookies=True``): forms through
``xsrf_form_html()``, the page's script through the ``X-XSRFToken`` header.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from demos.chat.buffer import Message, MessageBuffer
from squall import pubsub
from squall.escape import to_unicode
from squall.ioloop import IOLoop
from squall.web import HTTPError, RequestHandler, UIModule, authenticated

__all__ = [
    "LONG_POLL_TIMEOUT",
    "MAX_MESSAGE_LENGTH",
    "MAX_NICKNAME_LENGTH",
    "USER_COOKIE",
    "LoginHandler",
    "LogoutHandler",
    "MainHandler",
    "MessageModule",
    "MessageNewHandler",
    "MessageUpdatesHandler",
    "signed_in_nickname",
]

# A chat line, not a document: longer posts get 413 (RFC 9110 §15.5.14,
# content larger than the server is willing to process).
MAX_MESSAGE_LENGTH = 1000
MAX_NICKNAME_LENGTH = 32
# An idle long poll is answered with no messages before proxies give up on
# it: nginx's proxy_read_timeout defaults to 60 s. The page polls again.
LONG_POLL_TIMEOUT = 55.0
USER_COOKIE = "chat_user"


def _local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def signed_in_nickname(handler: RequestHandler) -> str | None:
    """The nickname in the signed cookie, or None (absent, forged, expired)."""
    nickname = handler.get_signed_cookie(USER_COOKIE)
    return to_unicode(nickname) if nickname else None


class BaseHandler(RequestHandler):
    def get_current_user(self) -> str | None:
        return signed_in_nickname(self)

    def check_xsrf_cookie(self) -> None:
        try:
            super().check_xsrf_cookie()
        except HTTPError as e:
            # The default reason ("Forbidden") would not tell the page why.
            raise HTTPError(403, reason="XSRF token missing or invalid") from e


class MainHandler(BaseHandler):
    def initialize(self, buffer: MessageBuffer, socket_url: str = "") -> None:
        self.buffer = buffer
        self.socket_url = socket_url

    @authenticated
    def get(self) -> None:
        self.render(
            "index.html",
            messages=list(self.buffer.cache),
            max_length=MAX_MESSAGE_LENGTH,
            socket_url=self.socket_url,
        )


class LoginHandler(BaseHandler):
    def get(self) -> None:
        self._form()

    def post(self) -> None:
        nickname = self.get_argument("nickname", "")
        if not nickname:
            self.set_status(400, reason="Nickname required")
            self._form("Choose a nickname.")
            return
        if len(nickname) > MAX_NICKNAME_LENGTH:
            self.set_status(400, reason="Nickname too long")
            self._form(f"Nicknames have at most {MAX_NICKNAME_LENGTH} characters.")
            return
        self.set_signed_cookie(USER_COOKIE, nickname, httponly=True, samesite="Lax")
        self.redirect(_local_path(self.get_argument("next", "/")))

    def _form(self, error: str = "") -> None:
        self.render(
            "login.html",
            error=error,
            next=_local_path(self.get_argument("next", "/")),
            max_length=MAX_NICKNAME_LENGTH,
        )


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie(USER_COOKIE)
        self.redirect(self.reverse_url("login"))


class JSONHandler(BaseHandler):
    """Errors as ``{"error": reason, "status": code}`` for the page's script."""

    def initialize(self, buffer: MessageBuffer) -> None:
        self.buffer = buffer

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish({"error": self._reason, "status": status_code})


class MessageNewHandler(JSONHandler):
    @authenticated
    async def post(self) -> None:
        body = self.get_argument("body")
        if not body:
            raise HTTPError(400, reason="Empty message")
        if len(body) > MAX_MESSAGE_LENGTH:
            raise HTTPError(413, reason=f"Message longer than {MAX_MESSAGE_LENGTH} characters")
        message: Message = {"id": uuid.uuid4().hex, "from": self.current_user, "body": body}
        # Rendered (and escaped) once here, not by every client.
        message["html"] = to_unicode(self.render_string("message.html", message=message))
        try:
            await self.buffer.post(message)
        except pubsub.BackendUnavailableError as e:
            # The room spans processes and the hub's backend is down: the
            # message did not reach the others. The page may post again.
            raise HTTPError(503, reason="Chat room unavailable, try again") from e
        next_url = self.get_argument("next", None)
        if next_url is not None:
            self.redirect(_local_path(next_url))
        else:
            self.finish(message)


class MessageUpdatesHandler(JSONHandler):
    _waiting: asyncio.Future[list[Message]] | None = None

    @authenticated
    async def post(self) -> None:
        cursor = self.get_argument("cursor", None)
        self._waiting = self.buffer.wait_for_messages(cursor)
        io_loop = IOLoop.current()
        timeout = io_loop.call_later(LONG_POLL_TIMEOUT, self.buffer.cancel_wait, self._waiting)
        try:
            messages = await self._waiting
        finally:
            io_loop.remove_timeout(timeout)
        if self.request.connection is None or self._client_gone:
            return
        self.finish({"messages": messages})

    _client_gone = False

    def on_connection_close(self) -> None:
        # The client left: stop waiting, so a long quiet room does not
        # accumulate the futures of everyone who ever closed the tab.
        self._client_gone = True
        if self._waiting is not None:
            self.buffer.cancel_wait(self._waiting)
        super().on_connection_close()


class MessageModule(UIModule):
    """``{% module Message(message) %}``: one message, escaped."""

    def render(self, message: Message) -> bytes:  # type: ignore[override]
        return self.render_string("message.html", message=message)
