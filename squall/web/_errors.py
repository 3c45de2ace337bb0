"""Exceptions a handler raises to end a request early.

HTTPError(status_code, log_message=None, *args, reason=None)
    answered with ``status_code`` through ``write_error``;
    ``log_message % args`` is logged, never shown to the client.
├── MissingArgumentError(arg_name)   400: a required argument is absent
Finish(*args)
    not an error: ``raise Finish()`` ends the request like ``finish()``.
"""

from __future__ import annotations

from typing import Any

from squall.httputil import responses


class HTTPError(Exception):
    """An HTTP error response, raised from anywhere in a handler.

    ``log_message`` (formatted with ``args``, %-style) goes to the log with
    the request; the client sees only the status and ``reason``, which
    defaults to the standard phrase for the code.
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.status_code = status_code
        self.log_message = log_message
        self.args = args
        self.reason: str | None = kwargs.get("reason", None)
        if log_message and not args:
            # A literal % in a message given without arguments must survive
            # the formatting done when it is logged.
            self.log_message = log_message.replace("%", "%%")

    def get_message(self) -> str | None:
        """``log_message`` with its arguments filled in (None if there is none)."""
        if self.log_message is None:
            return None
        return self.log_message % self.args

    def __str__(self) -> str:
        message = "HTTP %d: %s" % (
            self.status_code,
            self.reason or responses.get(self.status_code, "Unknown"),
        )
        if self.log_message:
            return message + " (" + (self.log_message % self.args) + ")"
        return message


class MissingArgumentError(HTTPError):
    """A required ``get_argument`` is missing: answered with 400."""

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s" % arg_name)
        self.arg_name = arg_name


class Finish(Exception):
    """Raise to finish the request without an error.

    ``raise Finish()`` is ``self.finish()``; arguments are passed to
    ``finish`` (``raise Finish("done")`` writes "done"). Whatever status and
    headers were set beforehand are kept, so this is how to send, say, a 401
    with a custom body from deep inside helper code.
    """
