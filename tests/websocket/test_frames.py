"""The sans-I/O WebSocket core: masking, framing, validation, deflate."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from squall._websocket_frames import (
    Close,
    FrameCodec,
    HandshakeError,
    Message,
    PerMessageDeflate,
    Ping,
    Pong,
    ProtocolError,
    accept_key,
    apply_mask,
    check_client_key,
    client_accept_deflate,
    client_deflate_offer,
    is_valid_close_code,
    parse_extensions,
    server_negotiate_deflate,
)


def reference_mask(mask: bytes, data: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def test_mask_matches_bytewise_reference_on_random_inputs():
    rng = random.Random(6455)
    lengths = [0, 1, 2, 3, 4, 5, 7, 8, 125, 126, 127, 65535, 65536, 70001]
    lengths += [rng.randrange(0, 5000) for _ in range(300)]
    for length in lengths:
        mask = rng.randbytes(4)
        data = rng.randbytes(length)
        assert apply_mask(mask, data) == reference_mask(mask, data), length
        # Masking is its own inverse.
        assert apply_mask(mask, apply_mask(mask, data)) == data


def test_mask_keeps_leading_and_trailing_zero_bytes():
    # Big-integer XOR must not drop zero bytes at either end.
    assert apply_mask(b"\x00\x00\x00\x00", b"\x00\x00\x01\x00") == b"\x00\x00\x01\x00"
    assert apply_mask(b"\xff\x00\x00\xff", b"\xff\x01\x02\xff\xff") == b"\x00\x01\x02\x00\x00"


def test_mask_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.given(st.binary(min_size=4, max_size=4), st.binary(max_size=3000))
    @hypothesis.settings(max_examples=300, deadline=None)
    def check(mask: bytes, data: bytes) -> None:
        assert apply_mask(mask, data) == reference_mask(mask, data)

    check()


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked frame as a client would send it."""
    return (
        FrameCodec(is_client=True, max_message_size=1 << 30).frame(opcode, payload, fin)
        if (rsv == 0)
        else _raw_frame(opcode, payload, fin, rsv, masked=True)
    )


def _raw_frame(opcode: int, payload: bytes, fin: bool, rsv: int, masked: bool) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    if length < 126:
        head = bytes((first, (0x80 if masked else 0) | length))
    elif length < 65536:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, length)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, length)
    if not masked:
        return head + payload
    mask = b"\x01\x02\x03\x04"
    return head + mask + apply_mask(mask, payload)


def server(max_message_size: int = 1 << 20, deflate: PerMessageDeflate | None = None) -> FrameCodec:
    return FrameCodec(is_client=False, max_message_size=max_message_size, deflate=deflate)


def protocol_error(codec: FrameCodec, data: bytes) -> int:
    with pytest.raises(ProtocolError) as info:
        codec.receive(data)
    return info.value.code


def test_round_trip_all_length_encodings():
    for size in (0, 5, 125, 126, 65535, 65536, 200000):
        sender = FrameCodec(is_client=True, max_message_size=1 << 20)
        receiver = server()
        text = "é" * (size // 2)
        assert receiver.receive(sender.message_frame(text.encode(), binary=False)) == [
            Message(text)
        ]
        payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        assert receiver.receive(sender.message_frame(payload, binary=True)) == [Message(payload)]


def test_server_frames_are_unmasked_and_client_frames_masked():
    assert server().frame(0x1, b"hi") == b"\x81\x02hi"
    frame = FrameCodec(is_client=True, max_message_size=10).frame(0x1, b"hi")
    assert frame[1] == 0x80 | 2 and len(frame) == 2 + 4 + 2


def test_byte_at_a_time_delivery():
    data = client_frame(0x1, b"hello", fin=False) + client_frame(0x9, b"p")
    data += client_frame(0x0, b" world") + client_frame(0x8, struct.pack("!H", 1000) + b"ok")
    codec = server()
    events = []
    for i in range(len(data)):
        events += codec.receive(data[i : i + 1])
    assert events == [Ping(b"p"), Message("hello world"), Close(1000, "ok")]


def test_pong_and_empty_close():
    codec = server()
    assert codec.receive(client_frame(0xA, b"x") + client_frame(0x8, b"")) == [
        Pong(b"x"),
        Close(1005, ""),
    ]
    # Nothing is parsed after a close frame (RFC 6455 section 5.5.1).
    assert codec.receive(client_frame(0x1, b"late")) == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_raw_frame(0x1, b"x", True, 0x40, masked=True), 1002),  # RSV1 without deflate
        (_raw_frame(0x1, b"x", True, 0x20, masked=True), 1002),  # RSV2
        (_raw_frame(0x1, b"x", True, 0x10, masked=True), 1002),  # RSV3
        (_raw_frame(0x3, b"x", True, 0, masked=True), 1002),  # reserved data opcode
        (_raw_frame(0xB, b"x", True, 0, masked=True), 1002),  # reserved control opcode
        (_raw_frame(0x9, b"x", False, 0, masked=True), 1002),  # fragmented ping
        (_raw_frame(0x9, b"x" * 126, True, 0, masked=True), 1002),  # oversized ping
        (_raw_frame(0x0, b"x", True, 0, masked=True), 1002),  # continuation first
        (_raw_frame(0x1, b"x", True, 0, masked=False), 1002),  # unmasked from client
        (_raw_frame(0x1, b"\xff", True, 0, masked=True), 1007),  # bad UTF-8
        (_raw_frame(0x8, b"\x03", True, 0, masked=True), 1002),  # 1-byte close
        (_raw_frame(0x8, b"\x03\xe8\xff", True, 0, masked=True), 1007),  # bad reason
        (b"\x82\xff" + b"\x80" + b"\x00" * 7 + b"mask", 1002),  # 64-bit length high bit
    ],
)
def test_invalid_frames_fail_with_the_right_code(data, code):
    assert protocol_error(server(), data) == code


def test_new_message_inside_a_fragmented_one():
    codec = server()
    codec.receive(client_frame(0x1, b"a", fin=False))
    assert protocol_error(codec, client_frame(0x2, b"b")) == 1002


def test_bad_utf8_fails_at_the_fragment_that_shows_it():
    codec = server()
    # A UTF-16 surrogate (ED A0 80) can never be valid: fail before FIN.
    assert protocol_error(codec, client_frame(0x1, b"ok\xed\xa0\x80", fin=False)) == 1007
    # A sequence split across fragments is fine.
    codec = server()
    assert codec.receive(client_frame(0x1, b"\xce", fin=False)) == []
    assert codec.receive(client_frame(0x0, b"\xba")) == [Message("κ")]
    # A truncated sequence at the end is not.
    assert protocol_error(server(), client_frame(0x1, b"\xce")) == 1007


def test_masked_frame_from_server_rejected_by_client():
    client = FrameCodec(is_client=True, max_message_size=100)
    assert protocol_error(client, _raw_frame(0x1, b"x", True, 0, masked=True)) == 1002
    client = FrameCodec(is_client=True, max_message_size=100)
    assert client.receive(_raw_frame(0x1, b"x", True, 0, masked=False)) == [Message("x")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000])
def test_invalid_close_codes(code):
    assert not is_valid_close_code(code)
    assert protocol_error(server(), client_frame(0x8, struct.pack("!H", code))) == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 4999])
def test_valid_close_codes(code):
    assert server().receive(client_frame(0x8, struct.pack("!H", code) + b"r")) == [Close(code, "r")]


def test_message_size_limit_counts_fragments_and_checks_headers_first():
    codec = server(max_message_size=10)
    # The header alone announces too much: no need to buffer the payload.
    assert protocol_error(codec, client_frame(0x2, b"x" * 11)[:8]) == 1009
    codec = server(max_message_size=10)
    codec.receive(client_frame(0x2, b"x" * 6, fin=False))
    assert protocol_error(codec, client_frame(0x0, b"x" * 5)) == 1009
    assert server(max_message_size=10).receive(client_frame(0x2, b"x" * 10)) == [Message(b"x" * 10)]


def test_close_frame_building():
    codec = server()
    assert codec.close_frame(None, None) == b"\x88\x00"
    assert codec.close_frame(None, "r") == b"\x88\x03\x03\xe8r"
    assert codec.close_frame(4000, None) == b"\x88\x02\x0f\xa0"
    with pytest.raises(ValueError, match="123 bytes"):
        codec.close_frame(1000, "x" * 124)
    with pytest.raises(ValueError, match="125 bytes"):
        codec.ping_frame(b"x" * 126)


# -- handshake helpers ----------------------------------------------------------


def test_accept_key_rfc_example():
    # RFC 6455 section 1.3's worked example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("key", [None, "", "abc", "!!!!", "dGhlIHNhbXBsZQ=="])
def test_invalid_client_keys(key):
    with pytest.raises(HandshakeError):
        check_client_key(key)


# -- permessage-deflate ------------------------------------------------------------


def deflate_pair(**server_kwargs):
    header, server_state = server_negotiate_deflate(
        "permessage-deflate; client_max_window_bits", server_kwargs
    )
    client_state = client_accept_deflate(header, {})
    return (
        FrameCodec(is_client=False, max_message_size=1 << 20, deflate=server_state),
        FrameCodec(is_client=True, max_message_size=1 << 20, deflate=client_state),
    )


def test_deflate_round_trip_with_context_takeover_shrinks_repeats():
    srv, cli = deflate_pair()
    text = "the quick brown fox " * 50
    first = srv.message_frame(text.encode(), binary=False)
    second = srv.message_frame(text.encode(), binary=False)
    assert first[0] & 0x40 and len(first) < len(text) // 4
    # With context takeover the second copy refers back to the first.
    assert len(second) < len(first)
    assert cli.receive(first + second) == [Message(text), Message(text)]
    assert srv.receive(cli.message_frame(b"\x00" * 5000, binary=True)) == [Message(b"\x00" * 5000)]


def test_deflate_without_context_takeover():
    srv, cli = deflate_pair(server_no_context_takeover=True)
    text = b"abcdefgh" * 100
    first = srv.message_frame(text, binary=True)
    assert srv.message_frame(text, binary=True) == first
    assert cli.receive(first + first) == [Message(text), Message(text)]


def test_deflate_bomb_is_bounded_by_max_message_size():
    state = PerMessageDeflate()
    bomb = state.compressor.compress(b"\x00" * (4 << 20))
    assert len(bomb) < 10000
    codec = FrameCodec(is_client=False, max_message_size=1 << 20, deflate=PerMessageDeflate())
    assert protocol_error(codec, _raw_frame(0x2, bomb, True, 0x40, masked=True)) == 1009


def test_deflate_garbage_is_1007():
    codec = FrameCodec(is_client=False, max_message_size=1 << 20, deflate=PerMessageDeflate())
    assert protocol_error(codec, _raw_frame(0x2, b"\xff\xff\xff", True, 0x40, masked=True)) == 1007


def test_rsv1_on_continuation_is_an_error():
    codec = FrameCodec(is_client=False, max_message_size=100, deflate=PerMessageDeflate())
    codec.receive(
        _raw_frame(0x1, PerMessageDeflate().compressor.compress(b"ab"), False, 0x40, masked=True)
    )
    assert protocol_error(codec, _raw_frame(0x0, b"x", True, 0x40, masked=True)) == 1002


def test_server_negotiation():
    assert server_negotiate_deflate("x-webkit-deflate-frame", {}) is None
    header, state = server_negotiate_deflate(
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", {}
    )
    assert header == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
    assert state.send_no_context_takeover and state.send_window_bits == 10
    # zlib cannot compress with 8 bits: that offer is declined, the next taken.
    header, state = server_negotiate_deflate(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate", {}
    )
    assert header == "permessage-deflate" and state.send_window_bits == 15
    for bad in (
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ):
        assert server_negotiate_deflate(bad, {}) is None, bad
    header, state = server_negotiate_deflate(
        "permessage-deflate", {"client_no_context_takeover": 1}
    )
    assert header == "permessage-deflate; client_no_context_takeover"
    assert state.receive_no_context_takeover


def test_client_offer_and_acceptance():
    assert client_deflate_offer({}) == "permessage-deflate; client_max_window_bits"
    state = client_accept_deflate("permessage-deflate; client_max_window_bits=9", {})
    assert state.send_window_bits == 9
    compressed = state.compressor.compress(b"hello " * 100)
    assert zlib.decompressobj(-9).decompress(compressed + b"\x00\x00\xff\xff") == b"hello " * 100
    for bad in (
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; bogus",
        "x-other",
        "permessage-deflate, permessage-deflate",
    ):
        with pytest.raises(HandshakeError):
            client_accept_deflate(bad, {})


def test_parse_extensions():
    assert parse_extensions('a; x=1; y="2", b') == [("a", {"x": "1", "y": "2"}), ("b", {})]
    with pytest.raises(HandshakeError, match="duplicate"):
        parse_extensions("a; x; x")
