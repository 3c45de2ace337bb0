"""The errors ``squall.wsgi`` raises.

::

    WSGIError                    anything this package raises of its own
    ├── ClientDisconnected       (also OSError) the client went away: reading
    │                            wsgi.input or writing the response failed
    └── WSGIUnsupportedError     (also RuntimeError) a squall feature that needs
                                 the event loop was used under a WSGI server
"""

from __future__ import annotations

__all__ = ["ClientDisconnected", "WSGIError", "WSGIUnsupportedError"]


class WSGIError(Exception):
    """Base class of the errors raised by ``squall.wsgi``."""


class ClientDisconnected(WSGIError, OSError):
    """The client closed the connection before the exchange was over.

    Raised to the WSGI application by ``wsgi.input`` reads and by the
    ``write()`` callable; an OSError, as a socket error would be under a
    server that hands the socket to the application.
    """


class WSGIUnsupportedError(WSGIError, RuntimeError):
    """A squall handler used something a WSGI server cannot provide.

    A WSGI call must produce the whole response before it returns, on a
    thread with no event loop serving it, so coroutines that wait on I/O
    or timers, ``@asynchronous``, ``flush()`` to the client, WebSocket and
    the async HTTP client cannot work there. The message names which.
    """
