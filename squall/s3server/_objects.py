"""Object operations: PutObject, CopyObject, GetObject/HeadObject (ranges
and conditions), DeleteObject and DeleteObjects."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import urllib.parse
from typing import TYPE_CHECKING

from squall.httputil import HTTPHeaders, format_timestamp
from squall.httputil._ranges import parse_byte_ranges
from squall.iostream import StreamClosedError
from squall.s3server._errors import S3Error
from squall.s3server._storage import ObjectMeta, StoredObject, TempWriter, now
from squall.s3server._xml import Node, child_text, children, document, iso8601, parse_request_xml

if TYPE_CHECKING:
    from squall.s3server._handlers import S3Handler

# The representation headers S3 stores with an object and returns on GET.
STORED_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Type",
    "Expires",
)
# S3's default type for objects uploaded without one.
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
# S3 limits user-defined metadata (x-amz-meta-*) to 2 KB per object.
MAX_USER_METADATA_BYTES = 2 * 1024
# DeleteObjects takes at most 1000 keys per request.
MAX_DELETE_KEYS = 1000
# Below this, a range is written from Python; above, os.sendfile copies it.
SENDFILE_MIN_BYTES = 64 * 1024
# GetObject's response-* query parameters override these headers.
_RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-content-type": "Content-Type",
    "response-expires": "Expires",
}


def metadata_from_request(headers: HTTPHeaders) -> tuple[dict[str, str], dict[str, str]]:
    """(stored representation headers, x-amz-meta-* values) of an upload."""
    stored = {}
    for name in STORED_HEADERS:
        value = headers.get(name)
        if value is not None:
            stored[name] = value
    encoding = stored.get("Content-Encoding")
    if encoding is not None:
        # aws-chunked describes the upload's framing, not the object.
        kept = [e.strip() for e in encoding.split(",") if e.strip().lower() != "aws-chunked"]
        if kept:
            stored["Content-Encoding"] = ", ".join(kept)
        else:
            del stored["Content-Encoding"]
    stored.setdefault("Content-Type", DEFAULT_CONTENT_TYPE)
    user = {}
    for name, value in headers.get_all():
        lower = name.lower()
        if lower.startswith("x-amz-meta-"):
            user[lower[len("x-amz-meta-") :]] = value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in user.items())
    if size > MAX_USER_METADATA_BYTES:
        raise S3Error(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            status=400,
            Size=str(size),
            MaxSizeAllowed=str(MAX_USER_METADATA_BYTES),
        )
    return stored, user


def quoted(etag: str) -> str:
    return f'"{etag}"'


def _etag_list_matches(header: str, etag: str) -> bool:
    for item in header.split(","):
        candidate = item.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate.strip('"') == etag:
            return True
    return False


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def check_preconditions(
    headers: HTTPHeaders, meta: ObjectMeta, prefix: str = "", modified_status: int = 304
) -> None:
    """RFC 9110 §13.2.2's order, as S3 applies it: If-Match, else
    If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since
    (304 for reads; ``modified_status`` says what else to answer)."""
    if_match = headers.get(prefix + "If-Match")
    if if_match is not None:
        if not _etag_list_matches(if_match, meta.etag):
            raise S3Error("PreconditionFailed", Condition=prefix + "If-Match")
    else:
        since = headers.get(prefix + "If-Unmodified-Since")
        limit = _http_date(since) if since is not None else None
        if limit is not None and meta.last_modified > limit:
            raise S3Error("PreconditionFailed", Condition=prefix + "If-Unmodified-Since")
    if_none_match = headers.get(prefix + "If-None-Match")
    if if_none_match is not None:
        if _etag_list_matches(if_none_match, meta.etag):
            raise NotModified(modified_status, prefix + "If-None-Match")
    else:
        since = headers.get(prefix + "If-Modified-Since")
        limit = _http_date(since) if since is not None else None
        if limit is not None and meta.last_modified <= limit:
            raise NotModified(modified_status, prefix + "If-Modified-Since")


class NotModified(Exception):
    """A read's precondition says the client's copy is current."""

    def __init__(self, status: int, condition: str) -> None:
        super().__init__(condition)
        self.status = status
        self.condition = condition


def _object_headers(handler: S3Handler, meta: ObjectMeta) -> None:
    handler.set_header("ETag", quoted(meta.etag))
    handler.set_header("Last-Modified", format_timestamp(meta.last_modified))
    handler.set_header("Accept-Ranges", "bytes")
    for name, value in meta.headers.items():
        handler.set_header(name, value)
    for name, value in meta.user_metadata.items():
        handler.set_lowercase_header("x-amz-meta-" + name, value)
    if meta.parts_count is not None and "partNumber" in handler.query:
        handler.set_header("x-amz-mp-parts-count", meta.parts_count)


# -- writes ------------------------------------------------------------------------


def check_write_preconditions(handler: S3Handler) -> None:
    """S3's conditional writes: ``If-None-Match: *`` (only if absent) and
    ``If-Match: <etag>`` (only over that version). Called right before the
    rename, with no await in between, so one server decides atomically."""
    assert handler.bucket is not None and handler.key is not None
    headers = handler.request.headers
    if_none_match = headers.get("If-None-Match")
    if_match = headers.get("If-Match")
    if if_none_match is None and if_match is None:
        return
    current = handler.storage.stat_object(handler.bucket, handler.key)
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise S3Error("NotImplemented", "If-None-Match on a write accepts only '*'.")
        if current is not None:
            raise S3Error("PreconditionFailed", Condition="If-None-Match")
    if if_match is not None:
        if current is None:
            raise S3Error("NoSuchKey", Key=handler.key)
        if not _etag_list_matches(if_match, current.etag):
            raise S3Error("PreconditionFailed", Condition="If-Match")


def put_object(handler: S3Handler) -> asyncio.Future[None] | None:
    if "x-amz-copy-source" in handler.request.headers:
        return asyncio.ensure_future(copy_object(handler))
    assert handler.bucket is not None and handler.key is not None
    body = handler.finish_body()
    stored, user = metadata_from_request(handler.request.headers)
    meta = ObjectMeta(handler.key, body.size, body.etag, now(), stored, user, body.checksums())
    writer = handler.writer
    assert writer is not None
    writer.seal(meta)
    check_write_preconditions(handler)
    handler.storage.commit(writer, handler.bucket, handler.key)
    handler.set_header("ETag", quoted(meta.etag))
    for algorithm, value in meta.checksums.items():
        handler.set_header("x-amz-checksum-" + algorithm.lower(), value)
    handler.finish()
    return None


def parse_copy_source(handler: S3Handler) -> tuple[str, str]:
    """x-amz-copy-source (``bucket/key``, URL-encoded) as (bucket, key)."""
    source = handler.request.headers["x-amz-copy-source"]
    source = urllib.parse.unquote(source.partition("?")[0], errors="surrogateescape")
    bucket, _, key = source.lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    return bucket, key


def open_copy_source(handler: S3Handler) -> StoredObject:
    bucket, key = parse_copy_source(handler)
    stored = handler.storage.open_object(bucket, key)
    try:
        check_preconditions(handler.request.headers, stored.meta, "x-amz-copy-source-", 412)
    except NotModified as e:
        stored.close()
        raise S3Error("PreconditionFailed", Condition=e.condition) from None
    except BaseException:
        stored.close()
        raise
    return stored


def copy_bytes(stored: StoredObject, start: int, end: int, writer: TempWriter) -> str:
    """Copy [start, end) of an object into ``writer``; returns its MD5."""
    md5 = hashlib.md5()
    for piece in stored.read_range(start, end):
        md5.update(piece)
        writer.write(piece)
    return md5.hexdigest()


async def copy_object(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    handler.finish_body()
    source_bucket, source_key = parse_copy_source(handler)
    handler.storage.require_bucket(handler.bucket)
    directive = handler.request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    with open_copy_source(handler) as stored:
        source = stored.meta
        if (source_bucket, source_key) == (handler.bucket, handler.key) and directive == "COPY":
            raise S3Error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        if directive == "REPLACE":
            stored_headers, user = metadata_from_request(handler.request.headers)
        else:
            stored_headers, user = dict(source.headers), dict(source.user_metadata)
        writer = handler.storage.new_writer()
        try:
            loop = asyncio.get_running_loop()
            etag = await loop.run_in_executor(None, copy_bytes, stored, 0, source.size, writer)
            checksums = {k: v for k, v in source.checksums.items() if "-" not in v}
            meta = ObjectMeta(
                handler.key, source.size, etag, now(), stored_headers, user, checksums
            )
            writer.seal(meta)
            handler.storage.commit(writer, handler.bucket, handler.key)
        finally:
            writer.abort()
    handler.send_xml(
        document(
            "CopyObjectResult",
            [("LastModified", iso8601(meta.last_modified)), ("ETag", quoted(meta.etag))],
        )
    )


def delete_object(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    handler.storage.delete_object(handler.bucket, handler.key)
    handler.set_status(204)
    handler.finish()


def delete_objects(handler: S3Handler) -> None:
    assert handler.bucket is not None
    body = handler.finish_body()
    if "Content-MD5" not in handler.request.headers and not body.checksums():
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    handler.storage.require_bucket(handler.bucket)
    root = parse_request_xml(body.data(), "Delete")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    objects = children(root, "Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML")
    results: list[Node] = []
    for element in objects:
        key = child_text(element, "Key")
        if key is None:
            raise S3Error("MalformedXML")
    for element in objects:
        key = child_text(element, "Key") or ""
        try:
            handler.storage.delete_object(handler.bucket, key)
        except S3Error as e:
            results.append(("Error", [("Key", key), ("Code", e.code), ("Message", e.message)]))
            continue
        if not quiet:
            results.append(("Deleted", [("Key", key)]))
    handler.send_xml(document("DeleteResult", results))


# -- reads -------------------------------------------------------------------------


async def get_object(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    with handler.storage.open_object(handler.bucket, handler.key) as stored:
        meta = stored.meta
        try:
            check_preconditions(handler.request.headers, meta)
        except NotModified:
            handler.set_status(304)
            handler.set_header("ETag", quoted(meta.etag))
            handler.set_header("Last-Modified", format_timestamp(meta.last_modified))
            handler.finish()
            return
        size = meta.size
        start, end = 0, size
        header = handler.request.headers.get("Range")
        # S3 serves one range per request; a list of several is ignored.
        ranges = parse_byte_ranges(header, size, max_ranges=1) if header is not None else None
        if ranges is not None:
            if not ranges:
                raise S3Error(
                    "InvalidRange", ActualObjectSize=str(size), RangeRequested=header or ""
                )
            start, end = ranges[0]
            handler.set_status(206)
            handler.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        _object_headers(handler, meta)
        for parameter, name in _RESPONSE_OVERRIDES.items():
            if parameter in handler.query:
                handler.set_header(name, handler.query[parameter])
        whole = ranges is None
        if whole and handler.request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            for algorithm, value in meta.checksums.items():
                if "-" not in value:
                    handler.set_header("x-amz-checksum-" + algorithm.lower(), value)
        handler.set_header("Content-Length", end - start)
        if handler.request.method == "HEAD":
            handler.finish()
            return
        try:
            await _send_range(handler, stored, start, end)
        except StreamClosedError:
            # The client left mid-object: there is nobody to finish for.
            handler._finished = True
            return
    handler.finish().add_done_callback(_retrieve_exception)


async def _send_range(handler: S3Handler, stored: StoredObject, start: int, end: int) -> None:
    if end - start >= SENDFILE_MIN_BYTES:
        sendfile = getattr(handler.request.connection, "sendfile", None)
        if sendfile is not None:
            await handler.flush()
            sent = await sendfile(stored.file, start, end - start)
            if sent is not None:
                return
    for piece in stored.read_range(start, end):
        handler.write(piece)
        await handler.flush()


def _retrieve_exception(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
