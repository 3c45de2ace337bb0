"""One switch: answer bad requests as Tornado does.

squall answers a request it refuses with the most precise status (413 for
a body over the limit, 431 for a header block too large, 408 when a
request is too slow to arrive). Tornado answers all of these with a bare
400, or closes the connection without a word. Programs written against
Tornado, and Tornado's own tests, can depend on that, so the alias
(``squall.compat.install_tornado()``, ``SQUALL_AS_TORNADO=1``, ``python -m
squall.tornado``) turns this switch on.

Only the error paths read it; it changes nothing for a request that is
answered normally.
"""

from __future__ import annotations

__all__ = ["answer_as_tornado"]

# Set by squall.compat.install_tornado(); tests may flip it and restore it.
answer_as_tornado = False
