"""``websocket_mask`` at Tornado's ``tornado.speedups`` path.

Tornado ships it as a C extension; squall's masking (in
``squall._websocket_frames``) XORs the payload as one big integer, which
CPython does in C already, so this module is plain Python.
"""

from __future__ import annotations

from squall._websocket_frames import apply_mask

__all__ = ["websocket_mask"]

# RFC 6455 section 5.3: the masking key is 32 bits.
MASK_BYTES = 4


def websocket_mask(mask: bytes | str, data: bytes) -> bytes:
    """``data`` XORed with the 4-byte ``mask`` repeated (RFC 6455 section 5.3)."""
    key = mask.encode("latin-1") if isinstance(mask, str) else bytes(mask)
    if len(key) != MASK_BYTES:
        raise ValueError("mask must be 4 bytes")
    return apply_mask(key, data)
