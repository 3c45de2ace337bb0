"""The ``socket`` of a TLS stream (private to squall.iostream).

In Tornado, ``SSLIOStream.socket`` is an ``ssl.SSLSocket``, and callers ask
it for the TLS session's details: ``cipher()``, ``version()``,
``getpeercert()``, ``selected_alpn_protocol()``... In squall the TLS work is
the transport's, done on an ``ssl.SSLObject``; ``_TLSSocket`` answers those
questions from that object and passes everything else (``fileno``,
``getpeername``, ``setsockopt``...) to the plain socket underneath.
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["_TLSSocket"]


class _TLSSocket:
    """A plain socket plus the TLS session the transport runs over it."""

    def __init__(self, sock: Any, ssl_object: ssl.SSLObject | None) -> None:
        self._sock = sock
        self._ssl_object = ssl_object

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The session (None until the handshake is done)."""
        return self._ssl_object

    # -- the session, as ssl.SSLSocket reports it ------------------------------

    def cipher(self) -> tuple[str, str, int] | None:
        return self._ssl_object.cipher() if self._ssl_object is not None else None

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        return self._ssl_object.shared_ciphers() if self._ssl_object is not None else None

    def version(self) -> str | None:
        return self._ssl_object.version() if self._ssl_object is not None else None

    def compression(self) -> str | None:
        return self._ssl_object.compression() if self._ssl_object is not None else None

    def selected_alpn_protocol(self) -> str | None:
        if self._ssl_object is None:
            return None
        return self._ssl_object.selected_alpn_protocol()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate (see ``ssl.SSLSocket.getpeercert``)."""
        if self._ssl_object is None:
            # As an SSLSocket says before its handshake.
            raise ValueError("handshake not done yet")
        return self._ssl_object.getpeercert(binary_form)

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if self._ssl_object is None:
            return None
        return self._ssl_object.get_channel_binding(cb_type)

    def pending(self) -> int:
        return self._ssl_object.pending() if self._ssl_object is not None else 0

    @property
    def context(self) -> ssl.SSLContext | None:
        return self._ssl_object.context if self._ssl_object is not None else None

    @property
    def server_side(self) -> bool | None:
        return self._ssl_object.server_side if self._ssl_object is not None else None

    @property
    def server_hostname(self) -> str | None:
        return self._ssl_object.server_hostname if self._ssl_object is not None else None

    @property
    def session(self) -> ssl.SSLSession | None:
        return self._ssl_object.session if self._ssl_object is not None else None

    @property
    def session_reused(self) -> bool | None:
        return self._ssl_object.session_reused if self._ssl_object is not None else None

    # -- everything else is the plain socket's ---------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_sock", "_ssl_object"):
            raise AttributeError(name)
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        state = self.version() or "no handshake yet"
        return f"<TLS socket ({state}) over {self._sock!r}>"
