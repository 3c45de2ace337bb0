"""Logging a server's failed TLS handshakes, as Tornado does.

The event loop performs the handshake of each accepted TLS connection
(``create_server(ssl=...)``) and drops one that fails without a word
(it logs only in asyncio's debug mode): a client speaking plain HTTP to
the TLS port, or one refusing the certificate, would leave no trace.
Tornado logs such a failure as a warning on ``tornado.general`` ("SSL
Error on ..."), and operators look for that line.

The loop makes the TLS state of each connection through the context's
``sslobject_class``; ``log_handshake_errors`` sets that to a subclass
whose handshake logs a protocol error before the loop sees it. A peer
that merely hangs up mid-handshake is not logged (nor is it by Tornado).
"""

from __future__ import annotations

import ssl

from squall.log import gen_log

__all__ = ["log_handshake_errors"]


class _LoggedHandshake(ssl.SSLObject):
    """An ``SSLObject`` whose failed handshake is logged once."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except ssl.SSLError as e:
            # SSL_ERROR_SSL: the peer broke the protocol (plain HTTP, an
            # unknown CA...). WANT_READ/WRITE only mean "more bytes", and
            # EOF or ZERO_RETURN a peer that left.
            if e.errno == ssl.SSL_ERROR_SSL:
                gen_log.warning("SSL Error on a connection's TLS handshake: %s", e)
            raise


def log_handshake_errors(context: ssl.SSLContext) -> None:
    """Have connections made with ``context`` log failed handshakes."""
    if not issubclass(context.sslobject_class, _LoggedHandshake):
        context.sslobject_class = _LoggedHandshake
