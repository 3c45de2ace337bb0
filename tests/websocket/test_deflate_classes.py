"""The permessage-deflate compressor and decompressor under Tornado's names.

``squall.websocket._PerMessageDeflateCompressor`` / ``_PerMessageDeflateDecompressor``
are the classes FrameCodec compresses and inflates with; these tests drive
them directly, checked against zlib as an independent peer.
"""

from __future__ import annotations

import os
import random
import zlib

import pytest

from squall._websocket_frames import FrameCodec, Message, PerMessageDeflate, ProtocolError
from squall.websocket import (
    _DecompressTooLargeError,
    _PerMessageDeflateCompressor,
    _PerMessageDeflateDecompressor,
)

TAIL = b"\x00\x00\xff\xff"


def zlib_inflate(payload: bytes, wbits: int = 15) -> bytes:
    return zlib.decompressobj(-wbits).decompress(payload + TAIL)


def sample(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choices(b"abcdefghij", k=rng.randint(2, 7))) for _ in range(200)]
    return b" ".join(rng.choices(words, k=size // 5))[:size]


# -- compressor ----------------------------------------------------------------


@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("wbits", [None, 9, 12, 15])
def test_round_trip(persistent, wbits):
    compressor = _PerMessageDeflateCompressor(persistent, wbits)
    decompressor = _PerMessageDeflateDecompressor(persistent, wbits, 1 << 20)
    messages = [b"", sample(3000, 1), os.urandom(300), sample(3000, 1), b"x"]
    for message in messages:
        assert decompressor.decompress(compressor.compress(message)) == message


def test_output_leaves_the_sync_tail_off():
    compressor = _PerMessageDeflateCompressor(False, None)
    assert compressor.compress(b"") == b"\x00"
    payload = compressor.compress(b"hello hello hello")
    assert not payload.endswith(TAIL)
    assert zlib_inflate(payload) == b"hello hello hello"


def test_context_takeover_only_when_persistent():
    text = sample(2000, 2)
    persistent = _PerMessageDeflateCompressor(True, None)
    first, second = persistent.compress(text), persistent.compress(text)
    # The second copy is a back-reference to the first.
    assert len(second) < len(first) // 10
    fresh = _PerMessageDeflateCompressor(False, None)
    assert fresh.compress(text) == fresh.compress(text) == first
    # A peer that keeps no context cannot read the persistent second message.
    with pytest.raises(zlib.error):
        zlib_inflate(second)


def test_max_wbits_bounds_the_window():
    block = os.urandom(400)
    # The repeat lies 1400 bytes back: out of reach of a 512-byte window.
    data = block + os.urandom(1000) + block
    narrow = _PerMessageDeflateCompressor(False, 9).compress(data)
    wide = _PerMessageDeflateCompressor(False, 15).compress(data)
    assert len(wide) < len(narrow) - 300
    assert zlib_inflate(narrow, 9) == data


def test_compression_options():
    text = sample(4000, 3)
    default = _PerMessageDeflateCompressor(False, None).compress(text)
    stored = _PerMessageDeflateCompressor(False, None, {"compression_level": 0}).compress(text)
    assert len(stored) > len(text) > len(default)
    assert zlib_inflate(stored) == text
    # Level 6 and memLevel 8 are the defaults; keys we do not know are ignored.
    same = _PerMessageDeflateCompressor(
        False, None, {"compression_level": 6, "mem_level": 8, "other": True}
    )
    assert same.compress(text) == default
    small_memory = _PerMessageDeflateCompressor(False, None, {"mem_level": 1})
    assert zlib_inflate(small_memory.compress(text)) == text


@pytest.mark.parametrize(
    ("wbits", "options", "error"),
    [
        (8, None, ValueError),  # zlib cannot compress with an 8-bit window
        (7, None, ValueError),
        (16, None, ValueError),
        ("15", None, TypeError),
        (15.0, None, TypeError),
        (True, None, ValueError),  # a bool is the int 1
        (None, {"compression_level": 10}, ValueError),
        (None, {"compression_level": -2}, ValueError),
        (None, {"compression_level": "9"}, TypeError),
        (None, {"compression_level": None}, TypeError),
        (None, {"mem_level": 0}, ValueError),
        (None, {"mem_level": 10}, ValueError),
    ],
)
def test_compressor_rejects_bad_arguments_at_construction(wbits, options, error):
    with pytest.raises(error):
        _PerMessageDeflateCompressor(False, wbits, options)


# -- decompressor --------------------------------------------------------------


def test_output_is_bounded_by_max_message_size():
    payload = _PerMessageDeflateCompressor(False, None).compress(b"a" * 100)
    assert _PerMessageDeflateDecompressor(False, None, 100).decompress(payload) == b"a" * 100
    with pytest.raises(_DecompressTooLargeError) as info:
        _PerMessageDeflateDecompressor(False, None, 99).decompress(payload)
    # It is the codec's "message too big" error, close code 1009.
    assert isinstance(info.value, ProtocolError) and info.value.code == 1009
    empty = _PerMessageDeflateCompressor(False, None).compress(b"")
    zero = _PerMessageDeflateDecompressor(False, None, 0)
    assert zero.decompress(empty) == b""
    with pytest.raises(_DecompressTooLargeError):
        zero.decompress(payload)


def test_deflate_bomb_stops_at_the_limit():
    bomb = _PerMessageDeflateCompressor(False, None).compress(b"\x00" * (8 << 20))
    assert len(bomb) < 10000
    decompressor = _PerMessageDeflateDecompressor(False, None, 1 << 20)
    with pytest.raises(_DecompressTooLargeError):
        decompressor.decompress(bomb)
    # The next message starts a fresh stream.
    assert (
        decompressor.decompress(_PerMessageDeflateCompressor(False, None).compress(b"ok")) == b"ok"
    )


def test_corrupt_data_raises_zlib_error_and_the_next_message_still_inflates():
    decompressor = _PerMessageDeflateDecompressor(False, None, 1000)
    with pytest.raises(zlib.error):
        decompressor.decompress(b"\xff\xff\xff")
    assert (
        decompressor.decompress(_PerMessageDeflateCompressor(False, None).compress(b"ok")) == b"ok"
    )


def test_persistent_decompressor_keeps_the_peers_context():
    text = sample(2000, 4)
    compressor = _PerMessageDeflateCompressor(True, None)
    first, second = compressor.compress(text), compressor.compress(text)
    keeping = _PerMessageDeflateDecompressor(True, None, 1 << 20)
    assert keeping.decompress(first) == text and keeping.decompress(second) == text
    forgetting = _PerMessageDeflateDecompressor(False, None, 1 << 20)
    assert forgetting.decompress(first) == text
    with pytest.raises(zlib.error):
        forgetting.decompress(second)


def test_decompressor_window_is_max_wbits():
    block = os.urandom(300)
    compressor = _PerMessageDeflateCompressor(True, 15)
    first = compressor.compress(block + os.urandom(700))
    second = compressor.compress(block)  # reaches 1000 bytes back
    narrow = _PerMessageDeflateDecompressor(True, 9, 1 << 20)
    narrow.decompress(first)
    with pytest.raises(zlib.error):
        narrow.decompress(second)
    wide = _PerMessageDeflateDecompressor(True, None, 1 << 20)
    wide.decompress(first)
    assert wide.decompress(second) == block
    # 8 bits is a valid window to inflate with, unlike to compress with.
    assert _PerMessageDeflateDecompressor(False, 8, 10).decompress(b"\x03\x00") == b""


@pytest.mark.parametrize(
    ("wbits", "max_message_size", "error"),
    [
        (7, 100, ValueError),
        (16, 100, ValueError),
        ("15", 100, TypeError),
        (None, -1, ValueError),
        (None, 1.5, TypeError),
        (None, None, TypeError),
    ],
)
def test_decompressor_rejects_bad_arguments(wbits, max_message_size, error):
    with pytest.raises(error):
        _PerMessageDeflateDecompressor(False, wbits, max_message_size)


# -- the codec uses the same classes -------------------------------------------------


def test_codec_inflates_fragments_within_the_message_limit():
    state = PerMessageDeflate()
    assert isinstance(state.compressor, _PerMessageDeflateCompressor)
    data = os.urandom(60) + b"x" * 60
    payload = state.compressor.compress(data)
    assert 10 < len(payload) < 120
    # Two fragments: RSV1 on the first only (RFC 7692 section 6.1).
    frames = bytes((0x42, 10)) + payload[:10] + bytes((0x80, len(payload) - 10)) + payload[10:]
    codec = FrameCodec(is_client=True, max_message_size=120, deflate=PerMessageDeflate())
    assert codec.receive(frames) == [Message(data)]
    small = FrameCodec(is_client=True, max_message_size=119, deflate=PerMessageDeflate())
    with pytest.raises(ProtocolError) as info:
        small.receive(frames)
    assert info.value.code == 1009
