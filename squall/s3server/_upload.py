"""A request body on its way in: decoded, hashed and checked as it streams.

Every body goes through one ``UploadBody``: aws-chunked framing is undone
(``_chunked``), the bytes go to a temporary file (objects and parts) or to
memory (the small XML documents), and every digest the client asked to be
checked is computed on the way: the MD5 that becomes the ETag and
Content-MD5's check, the SHA-256 of ``x-amz-content-sha256``, and an
``x-amz-checksum-*`` algorithm from a header or a trailer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from squall.httputil import HTTPHeaders
from squall.s3server._checksums import Checksum, decode_content_md5, header_algorithm, new_checksum
from squall.s3server._chunked import STREAMING_PAYLOADS, AwsChunkedDecoder
from squall.s3server._errors import S3Error
from squall.s3server._sigv4 import UNSIGNED_PAYLOAD, SigningContext
from squall.s3server._storage import TempWriter

__all__ = ["UploadBody"]

_HEX_SHA256_LENGTH = 64


class UploadBody:
    """Receives one request body; ``finish()`` checks every digest."""

    def __init__(
        self,
        headers: HTTPHeaders,
        context: SigningContext | None,
        writer: TempWriter | None,
        memory_limit: int,
    ) -> None:
        self.writer = writer
        self.memory: bytearray | None = None if writer is not None else bytearray()
        self.memory_limit = memory_limit
        self.md5 = hashlib.md5()
        self.size = 0
        payload = headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        self.sha256 = None
        self.expected_sha256 = ""
        if len(payload) == _HEX_SHA256_LENGTH:
            self.sha256 = hashlib.sha256()
            self.expected_sha256 = payload.lower()
        self.decoder: AwsChunkedDecoder | None = None
        self.decoded_length: int | None = None
        if payload in STREAMING_PAYLOADS:
            signed, _trailers = STREAMING_PAYLOADS[payload]
            self.decoder = AwsChunkedDecoder(self._accept, context, signed)
            length = headers.get("x-amz-decoded-content-length")
            if length is not None:
                try:
                    self.decoded_length = int(length)
                except ValueError:
                    raise S3Error("InvalidArgument", "Bad x-amz-decoded-content-length.") from None
        elif payload not in (UNSIGNED_PAYLOAD, "") and len(payload) != _HEX_SHA256_LENGTH:
            raise S3Error(
                "InvalidArgument", "x-amz-content-sha256 must be a SHA-256 or a known mode."
            )
        md5_header = headers.get("Content-MD5")
        self.expected_md5 = decode_content_md5(md5_header) if md5_header is not None else None
        # The checksum: its value in a header, or its name announced for a trailer.
        self.checksum: Checksum | None = None
        self.expected_checksum: str | None = None
        self.trailer_name: str | None = None
        for name, value in headers.get_all():
            algorithm = header_algorithm(name)
            if algorithm is not None:
                if self.checksum is not None:
                    raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header.")
                self.checksum = new_checksum(algorithm)
                self.expected_checksum = value.strip()
        trailer = headers.get("x-amz-trailer")
        if trailer is not None:
            algorithm = header_algorithm(trailer.strip())
            if algorithm is None or self.decoder is None:
                raise S3Error("InvalidRequest", f"Unsupported trailer {trailer!r}.")
            if self.checksum is None:
                self.checksum = new_checksum(algorithm)
                self.trailer_name = trailer.strip().lower()
        elif self.checksum is None and headers.get("x-amz-sdk-checksum-algorithm"):
            # The algorithm was named but no value sent: compute it to store.
            self.checksum = new_checksum(headers["x-amz-sdk-checksum-algorithm"])

    def feed(self, data: bytes) -> None:
        if self.decoder is not None:
            self.decoder.feed(data)
        else:
            self._accept(data)

    def _accept(self, data: bytes) -> None:
        self.size += len(data)
        self.md5.update(data)
        if self.sha256 is not None:
            self.sha256.update(data)
        if self.checksum is not None:
            self.checksum.update(data)
        if self.writer is not None:
            self.writer.write(data)
        else:
            assert self.memory is not None
            if self.size > self.memory_limit:
                raise S3Error("MalformedXML", "The request body is too large.")
            self.memory += data

    def finish(self) -> None:
        """All bytes are in: raise S3's error for the first check that fails."""
        if self.decoder is not None:
            self.decoder.finish()
            if self.decoded_length is not None and self.decoded_length != self.size:
                raise S3Error("IncompleteBody")
        if self.sha256 is not None and self.sha256.hexdigest() != self.expected_sha256.lower():
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                ClientComputedContentSHA256=self.expected_sha256,
                S3ComputedContentSHA256=self.sha256.hexdigest(),
            )
        if self.expected_md5 is not None and not hmac.compare_digest(
            self.expected_md5, self.md5.digest()
        ):
            raise S3Error(
                "BadDigest",
                ExpectedDigest=base64.b64encode(self.expected_md5).decode(),
                CalculatedDigest=base64.b64encode(self.md5.digest()).decode(),
            )
        if self.checksum is not None:
            expected = self.expected_checksum
            if self.trailer_name is not None:
                assert self.decoder is not None
                expected = self.decoder.trailers.get(self.trailer_name)
                if expected is None:
                    raise S3Error("InvalidRequest", f"The trailer {self.trailer_name} is missing.")
            if expected is not None and expected != self.checksum.value():
                raise S3Error(
                    "BadDigest",
                    f"The {self.checksum.algorithm} you specified did not match the "
                    "calculated checksum.",
                )

    @property
    def etag(self) -> str:
        return self.md5.hexdigest()

    def checksums(self) -> dict[str, str]:
        if self.checksum is None:
            return {}
        return {self.checksum.algorithm: self.checksum.value()}

    def data(self) -> bytes:
        assert self.memory is not None
        return bytes(self.memory)
