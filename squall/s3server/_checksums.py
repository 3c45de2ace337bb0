"""The checksums S3 accepts on uploads: Content-MD5 and x-amz-checksum-*.

CRC32 comes from zlib; CRC32C and CRC64NVME from awscrt (the AWS Common
Runtime, the library botocore itself uses for them), installed with the
``s3`` extra. Without awscrt those two algorithms are refused with
S3's InvalidRequest rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable

from squall.s3server._errors import S3Error

try:
    from awscrt import checksums as _crt  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - the s3 extra installs it
    _crt = None

__all__ = ["ALGORITHMS", "Checksum", "decode_content_md5", "new_checksum"]

# The algorithms of S3's x-amz-checksum-* headers ("Checking object integrity").
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


class Checksum:
    """A running checksum of one algorithm; ``value()`` is S3's base64 form."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._crc = 0
        self._hash: hashlib._Hash | None = None
        self._crc_update: Callable[[bytes, int], int] | None = None
        self._crc_bytes = 4
        if algorithm == "CRC32":
            self._crc_update = zlib.crc32
        elif algorithm in ("CRC32C", "CRC64NVME"):
            if _crt is None:
                raise S3Error("InvalidRequest", f"{algorithm} checksums need awscrt installed.")
            if algorithm == "CRC32C":
                self._crc_update = _crt.crc32c
            else:
                self._crc_update = _crt.crc64nvme
                self._crc_bytes = 8
        elif algorithm == "SHA1":
            self._hash = hashlib.sha1()
        elif algorithm == "SHA256":
            self._hash = hashlib.sha256()
        else:
            raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported.")

    def update(self, data: bytes) -> None:
        if self._crc_update is not None:
            self._crc = self._crc_update(data, self._crc)
        else:
            assert self._hash is not None
            self._hash.update(data)

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(self._crc_bytes, "big")

    def value(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


def new_checksum(algorithm: str) -> Checksum:
    """A checksum for an algorithm name as a client sends it (any case)."""
    return Checksum(algorithm.upper())


def header_algorithm(header_name: str) -> str | None:
    """``x-amz-checksum-crc32`` -> ``CRC32``; None for other headers."""
    name = header_name.lower()
    if not name.startswith("x-amz-checksum-"):
        return None
    algorithm = name[len("x-amz-checksum-") :].upper()
    return algorithm if algorithm in ALGORITHMS else None


def decode_content_md5(value: str) -> bytes:
    """A Content-MD5 header's 16 bytes; S3's InvalidDigest when malformed."""
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(digest) != 16:
        raise S3Error("InvalidDigest")
    return digest
