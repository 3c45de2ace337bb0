"""aws-chunked: S3's own chunked body encoding, decoded as it streams in.

A streaming upload (``x-amz-content-sha256: STREAMING-...``, "Signature
Calculations for the Authorization Header: Transferring Payload in
Multiple Chunks" in the S3 API reference) frames the object as::

    <hex size>[;chunk-signature=<sig>]\\r\\n<bytes>\\r\\n   ... repeated
    0[;chunk-signature=<sig>]\\r\\n
    [<trailer name>:<value>\\r\\n ...]                       (the -TRAILER forms)
    [x-amz-trailer-signature:<sig>\\r\\n]                    (signed trailers)
    \\r\\n

Signed forms chain each chunk's signature to the previous one, starting
from the request's own; a wrong one stops the upload at that chunk. Chunk
bytes go straight to the sink, so memory stays bounded by one read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from squall.s3server._errors import S3Error
from squall.s3server._sigv4 import SigningContext, chunk_signature, trailer_signature

__all__ = ["STREAMING_PAYLOADS", "AwsChunkedDecoder"]

# The x-amz-content-sha256 values that announce an aws-chunked body,
# mapped to (chunks signed, trailers follow).
STREAMING_PAYLOADS = {
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": (True, False),
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": (True, True),
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER": (False, True),
}
# A chunk header or trailer line is short (a hex size and a 64-digit
# signature); anything longer than this is not aws-chunked.
MAX_LINE_BYTES = 4096

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _bad(message: str) -> S3Error:
    return S3Error("IncompleteBody", f"Malformed aws-chunked body: {message}.")


class AwsChunkedDecoder:
    """Decode an aws-chunked body, passing the object's bytes to ``sink``."""

    def __init__(
        self,
        sink: Callable[[bytes], None],
        context: SigningContext | None,
        signed: bool,
    ) -> None:
        self._sink = sink
        self._context = context
        self._signed = signed
        # A server without credentials decodes signed chunks unchecked.
        self._verify = signed and context is not None
        self._previous = context.seed_signature if context is not None else ""
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._chunk_hash = hashlib.sha256()
        self._claimed = ""
        self._trailer_lines: list[bytes] = []
        self.trailers: dict[str, str] = {}
        self._trailer_signed = False
        self.decoded_size = 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._state == _DATA:
                piece = view[: self._remaining]
                view = view[len(piece) :]
                self._remaining -= len(piece)
                piece_bytes = bytes(piece)
                if self._verify:
                    self._chunk_hash.update(piece_bytes)
                self.decoded_size += len(piece_bytes)
                self._sink(piece_bytes)
                if self._remaining == 0:
                    self._state = _DATA_END
                continue
            if self._state == _DONE:
                raise _bad("bytes after the final chunk")
            end = bytes(view[: MAX_LINE_BYTES + 2]).find(b"\n")
            if end < 0:
                self._line += view
                view = view[len(view) :]
                if len(self._line) > MAX_LINE_BYTES:
                    raise _bad("line too long")
                continue
            self._line += view[: end + 1]
            view = view[end + 1 :]
            line = bytes(self._line)
            self._line.clear()
            if not line.endswith(b"\r\n"):
                raise _bad("line not ended by CRLF")
            self._line_complete(line[:-2])

    def _line_complete(self, line: bytes) -> None:
        if self._state == _SIZE:
            size_text, _, extension = line.partition(b";")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _bad("chunk size is not hexadecimal") from None
            if size < 0 or size_text.strip() != size_text:
                raise _bad("chunk size is not hexadecimal")
            if self._signed:
                name, _, value = extension.partition(b"=")
                if name.strip() != b"chunk-signature":
                    raise S3Error("SignatureDoesNotMatch", "A chunk has no chunk-signature.")
                self._claimed = value.strip().decode("ascii", "replace")
            self._chunk_hash = hashlib.sha256()
            if size == 0:
                self._verify_chunk()
                self._state = _TRAILER
            else:
                self._remaining = size
                self._state = _DATA
        elif self._state == _DATA_END:
            if line:
                raise _bad("chunk longer than its size")
            self._verify_chunk()
            self._state = _SIZE
        elif self._state == _TRAILER:
            if line:
                self._trailer_line(line)
            else:
                self._end_of_trailers()

    def _verify_chunk(self) -> None:
        if not self._verify:
            return
        assert self._context is not None
        expected = chunk_signature(self._context, self._previous, self._chunk_hash.hexdigest())
        if not hmac.compare_digest(expected.encode(), self._claimed.encode()):
            raise S3Error("SignatureDoesNotMatch", "A chunk's signature does not match its bytes.")
        self._previous = expected

    def _trailer_line(self, line: bytes) -> None:
        name, sep, value = line.partition(b":")
        if not sep:
            raise _bad("trailer without a colon")
        text_name = name.strip().decode("ascii", "replace").lower()
        text_value = value.strip().decode("ascii", "replace")
        if text_name == "x-amz-trailer-signature":
            if self._verify:
                assert self._context is not None
                trailer = b"".join(self._trailer_lines)
                expected = trailer_signature(self._context, self._previous, trailer)
                if not hmac.compare_digest(expected.encode(), text_value.encode()):
                    raise S3Error("SignatureDoesNotMatch", "The trailer signature does not match.")
                self._previous = expected
                self._trailer_signed = True
            return
        self._trailer_lines.append(f"{text_name}:{text_value}\n".encode())
        self.trailers[text_name] = text_value

    def _end_of_trailers(self) -> None:
        if self._verify and self._trailer_lines and not self._trailer_signed:
            raise S3Error("SignatureDoesNotMatch", "Signed trailers need x-amz-trailer-signature.")
        self._state = _DONE

    def finish(self) -> None:
        """The body ended: it must have ended where the encoding says."""
        if self._state == _TRAILER and not self._line:
            self._state = _DONE  # some clients omit the final empty line
        if self._state != _DONE:
            raise S3Error("IncompleteBody")
