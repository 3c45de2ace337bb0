"""What can go wrong with a hub.

::

    PubSubError                 base of everything below
    ├── HubClosedError          the hub was closed; no more publish/subscribe
    ├── BackendUnavailableError the backend (Redis) is down or unreachable;
    │                           the publication did not leave this process
    └── UnsupportedURLError     connect() does not know the URL's scheme

Bad arguments raise the usual ``TypeError``/``ValueError`` (a message that
is not bytes, str or JSON-able; an empty channel name; a message over the
size limit).
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "HubClosedError",
    "PubSubError",
    "UnsupportedURLError",
]


class PubSubError(Exception):
    """Base class of the hub's own errors."""


class HubClosedError(PubSubError):
    """``publish``/``subscribe``/``history`` after ``close()``."""


class BackendUnavailableError(PubSubError, ConnectionError):
    """The backend could not take the publication (or answer a history read).

    Subscribers in this process already received it when the hub keeps no
    history (local delivery never waits for the network).
    """


class UnsupportedURLError(PubSubError, ValueError):
    """``connect()`` was given a URL whose scheme no backend serves."""
