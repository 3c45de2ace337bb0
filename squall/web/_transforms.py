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
        "application/javascript",
        "application/x-javascript",
        "application/xml",
        "application/atom+xml",
        "application/json",
        "application/xhtml+xml",
        "image/svg+xml",
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
        if "Vary" in headers:
            headers["Vary"] += ", Accept-Encoding"
        else:
            headers["Vary"] = "Accept-Encoding"
        if self._gzipping:
            ctype = headers.get("Content-Type", "").split(";")[0]
            self._gzipping = (
                self._compressible_type(ctype)
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and "Content-Encoding" not in headers
                and status_code not in (204, 304)
            )
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            self._buffer = io.BytesIO()
            self._file = gzip.GzipFile(
                mode="w", fileobj=self._buffer, compresslevel=self.GZIP_LEVEL
            )
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self._gzipping:
            self._file.write(chunk)
            if finishing:
                self._file.close()
            else:
                self._file.flush()
            chunk = self._buffer.getvalue()
            self._buffer.truncate(0)
            self._buffer.seek(0)
        return chunk
