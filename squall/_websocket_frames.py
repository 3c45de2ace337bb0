"""The WebSocket protocol without I/O (RFC 6455, RFC 7692).

``FrameCodec`` turns received bytes into events (whole messages, pings,
pongs, a close) and turns outgoing messages into bytes. It never touches a
socket, so the server adapter, the client adapter and the tests drive it the
same way. Protocol violations raise ``ProtocolError`` carrying the close code
the connection must be failed with (RFC 6455 section 7.1.7).

Error tree::

    ProtocolError          the peer broke the protocol; .code is the close code
    HandshakeError         a handshake header is missing or invalid (ValueError)
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "Close",
    "FrameCodec",
    "HandshakeError",
    "Message",
    "PerMessageDeflate",
    "Ping",
    "Pong",
    "ProtocolError",
    "accept_key",
    "apply_mask",
    "client_accept_deflate",
    "client_deflate_offer",
    "close_payload",
    "is_valid_close_code",
    "new_client_key",
    "parse_extensions",
    "server_negotiate_deflate",
]


class ProtocolError(Exception):
    """The peer violated the protocol; fail the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (close code {code})")
        self.code = code
        self.reason = reason


class HandshakeError(ValueError):
    """A handshake header is missing or invalid."""


# Opcodes, RFC 6455 section 5.2.
OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_DATA_OPCODES = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY))
_CONTROL_OPCODES = frozenset((OP_CLOSE, OP_PING, OP_PONG))

_FIN = 0x80
_RSV1 = 0x40
_RSV2_RSV3 = 0x30
_MASK_BIT = 0x80
# First bytes of a whole (FIN), uncompressed text or binary message.
_WHOLE_TEXT = _FIN | OP_TEXT
_WHOLE_BINARY = _FIN | OP_BINARY

# Close codes, RFC 6455 section 7.4.1.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005  # never sent: stands for "close frame without a code"
CLOSE_ABNORMAL = 1006  # never sent: stands for "no close frame at all"
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009

# Codes a peer may put on the wire: the RFC 6455 section 7.4.1 codes except
# the three reserved for local use (1004, 1005, 1006), the IANA-registered
# 1012-1014, and the 3000-4999 range for libraries and applications
# (section 7.4.2). Everything else, 1015 included, is a protocol error.
_WIRE_CLOSE_CODES = frozenset(
    (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)
)

# RFC 6455 section 5.5: control frame payloads are at most 125 bytes.
MAX_CONTROL_PAYLOAD = 125

# RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 7692 section 7.2.1: every compressed message ends with this, stripped.
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 section 7.4)."""
    return code in _WIRE_CLOSE_CODES or 3000 <= code <= 4999


def apply_mask(mask: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3).

    The whole payload is XORed as one big integer: CPython does that in C,
    word by word, which is far faster than a Python loop over the bytes.
    """
    length = len(data)
    if length == 0:
        return b""
    key = (mask * ((length >> 2) + 1))[:length]
    value = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(length, "little")


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value answering ``key`` (section 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + _ACCEPT_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def new_client_key() -> str:
    """A random Sec-WebSocket-Key: 16 random bytes, base64 (section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def check_client_key(key: str | None) -> str:
    """Validate Sec-WebSocket-Key: base64 of exactly 16 bytes (section 4.2.1)."""
    if not key:
        raise HandshakeError("missing Sec-WebSocket-Key")
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except ValueError:
        raise HandshakeError("Sec-WebSocket-Key is not base64") from None
    if len(raw) != 16:
        raise HandshakeError("Sec-WebSocket-Key must encode 16 bytes")
    return key.strip()


# -- events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    data: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The peer's close frame; code 1005 when it carried none."""

    code: int
    reason: str


Event = Union[Message, Ping, Pong, Close]


# -- permessage-deflate (RFC 7692) ----------------------------------------------

# RFC 7692 section 7.1.2: window bits range. zlib refuses a raw deflate window
# of 8 bits, so a peer asking us to compress with 8 gets its offer declined.
_MIN_WINDOW_BITS = 8
_MAX_WINDOW_BITS = 15
_MIN_ZLIB_WINDOW_BITS = 9


class PerMessageDeflate:
    """Negotiated permessage-deflate state for one connection.

    ``send_no_context_takeover``: our compressor restarts for each message;
    ``receive_no_context_takeover``: the peer's does, so our decompressor may
    too. ``send_window_bits`` bounds our compression window.
    """

    def __init__(
        self,
        send_no_context_takeover: bool = False,
        receive_no_context_takeover: bool = False,
        send_window_bits: int = _MAX_WINDOW_BITS,
        compression_level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
    ) -> None:
        self.send_no_context_takeover = send_no_context_takeover
        self.receive_no_context_takeover = receive_no_context_takeover
        self.send_window_bits = send_window_bits
        self.compression_level = compression_level
        self.mem_level = mem_level
        self._compressor: Any = None
        self._decompressor: Any = None

    def compress(self, data: bytes) -> bytes:
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self.compression_level, zlib.DEFLATED, -self.send_window_bits, self.mem_level
            )
            if not self.send_no_context_takeover:
                self._compressor = compressor
        out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out

    def decompress(self, data: bytes, limit: int, final: bool) -> bytes:
        """Inflate one frame's payload; ProtocolError 1009 past ``limit`` bytes."""
        decompressor = self._decompressor
        if decompressor is None:
            # A 15-bit window inflates anything a smaller window produced.
            decompressor = self._decompressor = zlib.decompressobj(-_MAX_WINDOW_BITS)
        if final:
            data = data + _DEFLATE_TAIL
        try:
            out: bytes = decompressor.decompress(data, limit + 1)
        except zlib.error as e:
            raise ProtocolError(CLOSE_INVALID_PAYLOAD, f"bad compressed data: {e}") from None
        if len(out) > limit or decompressor.unconsumed_tail:
            raise ProtocolError(CLOSE_MESSAGE_TOO_BIG, "message too big")
        if final and (self.receive_no_context_takeover or decompressor.eof):
            self._decompressor = None
        return out


def parse_extensions(header: str) -> list[tuple[str, dict[str, str | None]]]:
    """Parse Sec-WebSocket-Extensions into ``[(name, {param: value})]``.

    RFC 6455 section 9.1. A parameter repeated within one offer raises
    ``HandshakeError`` (RFC 7692 section 7: such an offer is invalid).
    """
    result: list[tuple[str, dict[str, str | None]]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str | None] = {}
        for part in parts[1:]:
            if not part:
                continue
            name, eq, value = part.partition("=")
            name = name.strip().lower()
            if name in params:
                raise HandshakeError(f"duplicate extension parameter {name!r}")
            params[name] = value.strip().strip('"') if eq else None
        result.append((parts[0].lower(), params))
    return result


def _window_bits(value: str | None) -> int:
    if value is None or not value.isdigit() or not _MIN_WINDOW_BITS <= int(value) <= 15:
        raise HandshakeError(f"invalid window bits {value!r}")
    return int(value)


def server_negotiate_deflate(
    header: str, options: Mapping[str, Any]
) -> tuple[str, PerMessageDeflate] | None:
    """Accept the first usable permessage-deflate offer (RFC 7692 section 5).

    Returns the response header value and the connection state, or None
    when no offer is acceptable (the connection then runs uncompressed).
    ``options`` are ``get_compression_options()``: ``compression_level``,
    ``mem_level``, and ``server_no_context_takeover`` /
    ``client_no_context_takeover`` to ask for them ourselves.
    """
    try:
        offers = parse_extensions(header)
    except HandshakeError:
        return None
    for name, params in offers:
        if name != "permessage-deflate":
            continue
        response = ["permessage-deflate"]
        send_bits = _MAX_WINDOW_BITS
        try:
            for key, value in params.items():
                if key in ("server_no_context_takeover", "client_no_context_takeover"):
                    if value is not None:
                        raise HandshakeError(f"{key} takes no value")
                elif key == "server_max_window_bits":
                    send_bits = _window_bits(value)
                    if send_bits < _MIN_ZLIB_WINDOW_BITS:
                        raise HandshakeError("zlib cannot compress with an 8-bit window")
                elif key == "client_max_window_bits":
                    if value is not None:
                        _window_bits(value)
                else:
                    raise HandshakeError(f"unknown parameter {key!r}")
        except HandshakeError:
            continue
        send_reset = "server_no_context_takeover" in params or bool(
            options.get("server_no_context_takeover")
        )
        receive_reset = "client_no_context_takeover" in params or bool(
            options.get("client_no_context_takeover")
        )
        if send_reset:
            response.append("server_no_context_takeover")
        if receive_reset:
            response.append("client_no_context_takeover")
        if "server_max_window_bits" in params:
            response.append(f"server_max_window_bits={send_bits}")
        state = PerMessageDeflate(
            send_no_context_takeover=send_reset,
            receive_no_context_takeover=receive_reset,
            send_window_bits=send_bits,
            compression_level=options.get("compression_level", zlib.Z_DEFAULT_COMPRESSION),
            mem_level=options.get("mem_level", 8),
        )
        return "; ".join(response), state
    return None


def client_deflate_offer(options: Mapping[str, Any]) -> str:
    """The client's Sec-WebSocket-Extensions offer for ``compression_options``."""
    offer = ["permessage-deflate", "client_max_window_bits"]
    if options.get("client_no_context_takeover"):
        offer.append("client_no_context_takeover")
    if options.get("server_no_context_takeover"):
        offer.append("server_no_context_takeover")
    return "; ".join(offer)


def client_accept_deflate(header: str, options: Mapping[str, Any]) -> PerMessageDeflate:
    """Check the server's answer to our offer (RFC 7692 section 5.1)."""
    agreed = parse_extensions(header)
    if len(agreed) != 1 or agreed[0][0] != "permessage-deflate":
        raise HandshakeError(f"unexpected extensions in response: {header!r}")
    params = agreed[0][1]
    send_bits = _MAX_WINDOW_BITS
    for key, value in params.items():
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                raise HandshakeError(f"{key} takes no value")
        elif key == "server_max_window_bits":
            _window_bits(value)
        elif key == "client_max_window_bits":
            send_bits = _window_bits(value)
            if send_bits < _MIN_ZLIB_WINDOW_BITS:
                # zlib cannot honour an 8-bit window (see above).
                raise HandshakeError("zlib cannot compress with an 8-bit window")
        else:
            raise HandshakeError(f"unknown parameter {key!r} in response")
    return PerMessageDeflate(
        send_no_context_takeover="client_no_context_takeover" in params
        or bool(options.get("client_no_context_takeover")),
        receive_no_context_takeover="server_no_context_takeover" in params,
        send_window_bits=send_bits,
        compression_level=options.get("compression_level", zlib.Z_DEFAULT_COMPRESSION),
        mem_level=options.get("mem_level", 8),
    )


# -- the codec ---------------------------------------------------------------

_pack_short = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack
_unpack_short = struct.Struct("!H").unpack_from
_unpack_long = struct.Struct("!Q").unpack_from


class FrameCodec:
    """One side of a WebSocket connection, as a pure state machine.

    ``receive(data)`` returns the events the bytes complete. The ``*_frame``
    and ``message_frames`` methods return bytes to send. ``is_client``
    decides masking: clients mask every frame and servers none, and each
    side rejects frames masked the wrong way (RFC 6455 section 5.1).
    """

    def __init__(
        self,
        is_client: bool,
        max_message_size: int,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        self.is_client = is_client
        self.max_message_size = max_message_size
        self.deflate = deflate
        self._buffer = bytearray()
        # The data message being reassembled from fragments.
        self._message_opcode: int | None = None
        self._message_compressed = False
        self._fragments: list[Any] = []
        self._message_size = 0
        self._text_decoder: Any = None
        # After a close frame arrives, nothing more is parsed (section 5.5.1).
        self.close_received = False
        # Traffic counters, as Tornado keeps them: payload bytes of whole
        # data messages (uncompressed, text as UTF-8) and bytes of every
        # frame on the wire (headers, masks and control frames included).
        self.message_bytes_in = 0
        self.message_bytes_out = 0
        self.wire_bytes_in = 0
        self.wire_bytes_out = 0

    # -- receiving -----------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        if self.close_received:
            return []
        buffer = self._buffer
        if buffer:
            buffer += data
            chunk: bytes | bytearray = buffer
        else:
            # Nothing left over (the usual case): parse the new bytes where
            # they are instead of copying them through the buffer.
            chunk = data if type(data) is bytes else bytes(data)
        events: list[Event] = []
        pos = 0
        end = len(chunk)
        is_client = self.is_client
        try:
            while end - pos >= 2:
                first = chunk[pos]
                second = chunk[pos + 1]
                length = second & 0x7F
                header = 2
                if length == 126:
                    if end - pos < 4:
                        break
                    (length,) = _unpack_short(chunk, pos + 2)
                    header = 4
                elif length == 127:
                    if end - pos < 10:
                        break
                    (length,) = _unpack_long(chunk, pos + 2)
                    header = 10
                    if length >> 63:
                        raise ProtocolError(
                            CLOSE_PROTOCOL_ERROR, "frame length has its high bit set"
                        )
                masked = second & _MASK_BIT
                if masked:
                    header += 4
                # A whole unfragmented text or binary message, masked the
                # right way, outside any fragmented one, within the size
                # limit: what _check_header would accept without a word.
                whole = (
                    (first == _WHOLE_TEXT or first == _WHOLE_BINARY)
                    and self._message_opcode is None
                    and (not masked) == is_client
                    and length <= self.max_message_size
                )
                if not whole:
                    self._check_header(first, masked, length)
                if end - pos < header + length:
                    break
                start = pos + header
                pos = start + length
                payload = bytes(chunk[start:pos])
                if masked:
                    payload = apply_mask(bytes(chunk[start - 4 : start]), payload)
                if whole:
                    self.message_bytes_in += length
                    if first == _WHOLE_TEXT:
                        try:
                            events.append(Message(payload.decode("utf-8")))
                        except UnicodeDecodeError:
                            raise ProtocolError(
                                CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in text message"
                            ) from None
                    else:
                        events.append(Message(payload))
                    continue
                event = self._frame(first, payload)
                if event is not None:
                    events.append(event)
                    if type(event) is Close:
                        self.close_received = True
                        break
        finally:
            # Bytes of the frames completed by this call (a partial frame
            # counts once it is whole).
            self.wire_bytes_in += pos
            if chunk is buffer:
                del buffer[:pos]
            elif pos < end:
                buffer += chunk[pos:]
        return events

    def _check_header(self, first: int, masked: int, length: int) -> None:
        opcode = first & 0x0F
        if first & _RSV2_RSV3:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
        if bool(masked) == self.is_client:
            raise ProtocolError(
                CLOSE_PROTOCOL_ERROR,
                "masked frame from server" if self.is_client else "unmasked frame from client",
            )
        if opcode in _CONTROL_OPCODES:
            if not first & _FIN:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            if first & _RSV1:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bit on a control frame")
            return
        if opcode not in _DATA_OPCODES:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        if opcode == OP_CONTINUATION:
            if self._message_opcode is None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "continuation without a message")
            if first & _RSV1:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "RSV1 on a continuation frame")
        else:
            if self._message_opcode is not None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one")
            if first & _RSV1 and self.deflate is None:
                raise ProtocolError(CLOSE_PROTOCOL_ERROR, "RSV1 set without compression")
        if self._message_size + length > self.max_message_size:
            raise ProtocolError(CLOSE_MESSAGE_TOO_BIG, "message too big")

    def _frame(self, first: int, payload: bytes) -> Event | None:
        opcode = first & 0x0F
        if opcode == OP_PING:
            return Ping(payload)
        if opcode == OP_PONG:
            return Pong(payload)
        if opcode == OP_CLOSE:
            return self._close_event(payload)
        fin = first & _FIN
        if opcode != OP_CONTINUATION:
            self._message_opcode = opcode
            self._message_compressed = bool(first & _RSV1)
            if opcode == OP_TEXT:
                self._text_decoder = codecs.getincrementaldecoder("utf-8")("strict")
        if self._message_compressed:
            assert self.deflate is not None
            limit = self.max_message_size - self._message_size
            payload = self.deflate.decompress(payload, limit, final=bool(fin))
        self._message_size += len(payload)
        if self._message_size > self.max_message_size:
            raise ProtocolError(CLOSE_MESSAGE_TOO_BIG, "message too big")
        decoder = self._text_decoder
        if decoder is not None:
            # Decoded per fragment so bad UTF-8 fails as early as it shows.
            try:
                text = decoder.decode(payload, bool(fin))
            except UnicodeDecodeError:
                raise ProtocolError(
                    CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in text message"
                ) from None
            self._fragments.append(text)
        else:
            self._fragments.append(payload)
        if not fin:
            return None
        fragments = self._fragments
        self._fragments = []
        self._message_opcode = None
        self.message_bytes_in += self._message_size
        self._message_size = 0
        if decoder is not None:
            self._text_decoder = None
            return Message(fragments[0] if len(fragments) == 1 else "".join(fragments))
        return Message(fragments[0] if len(fragments) == 1 else b"".join(fragments))

    @staticmethod
    def _close_event(payload: bytes) -> Close:
        if not payload:
            return Close(CLOSE_NO_STATUS, "")
        if len(payload) == 1:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "close payload of one byte")
        (code,) = _unpack_short(payload)
        if not is_valid_close_code(code):
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in close reason") from None
        return Close(code, reason)

    # -- sending -------------------------------------------------------------

    def frame(self, opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
        first = opcode | (_FIN if fin else 0) | (_RSV1 if rsv1 else 0)
        length = len(payload)
        mask_bit = _MASK_BIT if self.is_client else 0
        if length < 126:
            head = bytes((first, mask_bit | length))
        elif length < 0x10000:
            head = _pack_short(first, mask_bit | 126, length)
        else:
            head = _pack_long(first, mask_bit | 127, length)
        if self.is_client:
            mask = os.urandom(4)
            self.wire_bytes_out += len(head) + 4 + length
            return head + mask + apply_mask(mask, payload)
        self.wire_bytes_out += len(head) + length
        return head + payload

    def message_frame(self, data: bytes, binary: bool) -> bytes:
        opcode = OP_BINARY if binary else OP_TEXT
        length = len(data)
        self.message_bytes_out += length
        if self.deflate is not None:
            return self.frame(opcode, self.deflate.compress(data), rsv1=True)
        if length < 126 and not self.is_client:
            # The common small server message: a two-byte header.
            self.wire_bytes_out += 2 + length
            return bytes((_FIN | opcode, length)) + data
        return self.frame(opcode, data)

    def ping_frame(self, data: bytes) -> bytes:
        if len(data) > MAX_CONTROL_PAYLOAD:
            raise ValueError("ping data is limited to 125 bytes")
        return self.frame(OP_PING, data)

    def pong_frame(self, data: bytes) -> bytes:
        return self.frame(OP_PONG, data)

    def close_frame(self, code: int | None, reason: str | None) -> bytes:
        return self.frame(OP_CLOSE, close_payload(code, reason))


def close_payload(code: int | None, reason: str | None) -> bytes:
    """A close frame's payload: the code and the UTF-8 reason (section 5.5.1).

    No code and no reason is an empty payload; a reason alone goes with
    1000. ``ValueError`` when the two exceed a control frame's 125 bytes.
    """
    if code is None:
        if reason is None:
            return b""
        code = CLOSE_NORMAL
    payload = struct.pack("!H", code) + (reason or "").encode("utf-8")
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise ValueError("close reason is limited to 123 bytes of UTF-8")
    return payload
