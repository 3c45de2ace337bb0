"""Output transforms: rewrite a response as it is flushed (gzip, chiefly)."""

from __future__ import annotations

import gzip
import io
from typing import TYPE_CHECKING

from squall.httputil import HTTPHeaders

if TYPE_CHECKING:
    from squall.httputil import HTTPServerRequest


class OutputTransform:
    """Base class: sees the first chunk with the headers, then each chunk."""

    def __init__(self, request: HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return chunk


class GZipContentEncoding(OutputTransform):
    """Gzip responses for clients that accept it (``compress_response``).

    Only types worth compressing (``CONTENT_TYPES``, and any ``text/*``) and
    bodies of at least ``MIN_LENGTH`` bytes, when the whole body is known.
    """

    CONTENT_TYPES = {
        "image/svg+xml",
        "application/atom+xml",
        "application/javascript",
        "application/json",
        "application/x-javascript",
        "application/xhtml+xml",
        "application/xml",
    }
    # Level 6: zlib's default trade-off between speed and size.
    GZIP_LEVEL = 6
    # Below this, the gzip header costs more than compression saves
    # (Tornado uses 1024 too).
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        self._gzipping = "gzip" in request.headers.get("Accept-Encoding", "")

    def _compressible_type(self, ctype: str) -> bool:
        return ctype.startswith("text/") or ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        prior_vary = headers["Vary"] + ", " if "Vary" in headers else ""
        headers["Vary"] = prior_vary + "Accept-Encoding"
        self._gzipping = self._gzipping and self._worth_compressing(
            status_code, headers, chunk, finishing
        )
        if not self._gzipping:
            return status_code, headers, chunk
        headers["Content-Encoding"] = "gzip"
        self._buffer = io.BytesIO()
        self._file = gzip.GzipFile(mode="w", fileobj=self._buffer, compresslevel=self.GZIP_LEVEL)
        body = self.transform_chunk(chunk, finishing)
        if "Content-Length" in headers:
            # Only a complete body has a known compressed size; a streamed
            # one goes out without a length.
            if not finishing:
                del headers["Content-Length"]
            else:
                headers["Content-Length"] = str(len(body))
        return status_code, headers, body

    def _worth_compressing(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> bool:
        if status_code in (204, 304) or "Content-Encoding" in headers:
            return False
        if finishing and len(chunk) < self.MIN_LENGTH:
            return False
        return self._compressible_type(headers.get("Content-Type", "").split(";")[0])

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if not self._gzipping:
            return chunk
        self._file.write(chunk)
        if finishing:
            self._file.close()
        else:
            self._file.flush()
        compressed = self._buffer.getvalue()
        # Empty the buffer for the next chunk.
        self._buffer.seek(0)
        self._buffer.truncate()
        return compressed
