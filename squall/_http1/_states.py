"""The named states of one HTTP/1 server connection.

Two small machines, each one attribute of the protocol, in place of a set
of booleans.

Where the parser is in the message stream (``Message``)::

    BETWEEN --first byte--> HEAD --blank line--> BODY --end of body--> BETWEEN

``BETWEEN`` is also the state from accept until the first byte (when the
header timeout already runs, as nginx's client_header_timeout does). A
message without a body passes through ``BODY`` at once.

What is still done with the connection (``Life``)::

    OPEN --Upgrade/CONNECT parsed--> UPGRADING --answered normally--> OPEN
    OPEN | UPGRADING --Connection: close, a refusal, an error, the peer's
        EOF, a timeout--> ANSWERING
    any --connection lost, detach()--> CLOSED

In ``ANSWERING`` nothing more is read: the requests already received are
answered in order, then the connection closes. ``UPGRADING`` holds the
bytes after an upgrade request for whoever takes the connection over.
"""

from __future__ import annotations

import enum

__all__ = ["Life", "Message"]


class Message(enum.Enum):
    BETWEEN = "between messages"
    HEAD = "reading a head"
    BODY = "reading a body"


class Life(enum.Enum):
    OPEN = "open"
    UPGRADING = "upgrade pending"
    ANSWERING = "answering, then closing"
    CLOSED = "closed"
