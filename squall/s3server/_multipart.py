"""Multipart uploads: Create, UploadPart(Copy), Complete, Abort, ListParts
and ListMultipartUploads.

Each upload is a directory ``.s3server/uploads/<id>/`` holding
``upload.json`` (bucket, key, metadata given at creation) and one file per
part in the object file format (bytes + metadata trailer), so a part
re-uploaded concurrently is replaced whole. Completing concatenates the
parts into a temporary file, in a worker thread, and renames it into
place; S3's multipart ETag is the MD5 of the parts' binary MD5s, then
``-<number of parts>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
from typing import TYPE_CHECKING, Any

from squall.httputil._ranges import parse_byte_ranges
from squall.s3server._buckets import OWNER
from squall.s3server._checksums import Checksum, new_checksum
from squall.s3server._errors import S3Error
from squall.s3server._objects import (
    check_write_preconditions,
    copy_bytes,
    metadata_from_request,
    open_copy_source,
    quoted,
)
from squall.s3server._storage import (
    ObjectMeta,
    Storage,
    StoredObject,
    TempWriter,
    now,
    read_object_file,
)
from squall.s3server._xml import Node, child_text, children, document, iso8601, parse_request_xml

if TYPE_CHECKING:
    from squall.s3server._handlers import S3Handler

# S3's multipart limits ("Amazon S3 multipart upload limits"): parts are
# numbered 1..10000 and all but the last must be at least 5 MiB.
MAX_PART_NUMBER = 10_000
MIN_PART_BYTES = 5 * 1024 * 1024
# ListParts and ListMultipartUploads return at most 1000 entries a page.
MAX_LIST_ENTRIES = 1000

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}\Z")


class Uploads:
    """The multipart uploads in progress, on disk."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def directory(self, upload_id: str) -> str:
        if not _UPLOAD_ID.match(upload_id):
            raise S3Error("NoSuchUpload", UploadId=upload_id)
        return os.path.join(self.storage.uploads, upload_id)

    def create(self, bucket: str, key: str, info: dict[str, Any]) -> str:
        upload_id = secrets.token_hex(16)
        directory = self.directory(upload_id)
        os.mkdir(directory)
        record = dict(info, bucket=bucket, key=key, initiated=now())
        temporary = os.path.join(directory, "upload.json.tmp")
        with open(temporary, "w") as file:
            json.dump(record, file)
        os.replace(temporary, os.path.join(directory, "upload.json"))
        return upload_id

    def load(
        self, upload_id: str, bucket: str | None = None, key: str | None = None
    ) -> dict[str, Any]:
        directory = self.directory(upload_id)
        try:
            with open(os.path.join(directory, "upload.json")) as file:
                record: dict[str, Any] = json.load(file)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            raise S3Error("NoSuchUpload", UploadId=upload_id) from None
        if (bucket is not None and record["bucket"] != bucket) or (
            key is not None and record["key"] != key
        ):
            raise S3Error("NoSuchUpload", UploadId=upload_id)
        return record

    def part_path(self, upload_id: str, number: int) -> str:
        return os.path.join(self.directory(upload_id), f"part-{number:05d}")

    def commit_part(self, upload_id: str, number: int, writer: TempWriter) -> None:
        try:
            os.replace(writer.path, self.part_path(upload_id, number))
        except FileNotFoundError:
            raise S3Error("NoSuchUpload", UploadId=upload_id) from None
        writer.done = True

    def parts(self, upload_id: str) -> dict[int, ObjectMeta]:
        directory = self.directory(upload_id)
        found = {}
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            raise S3Error("NoSuchUpload", UploadId=upload_id) from None
        for name in names:
            if name.startswith("part-") and name[5:].isdigit():
                stored = read_object_file(os.path.join(directory, name))
                if stored is not None:
                    with stored:
                        found[int(name[5:])] = stored.meta
        return found

    def open_part(self, upload_id: str, number: int) -> StoredObject | None:
        return read_object_file(self.part_path(upload_id, number))

    def abort(self, upload_id: str) -> None:
        shutil.rmtree(self.directory(upload_id), ignore_errors=True)

    def all(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for upload_id in os.listdir(self.storage.uploads):
            with contextlib.suppress(S3Error):
                found.append((upload_id, self.load(upload_id)))
        return found


def _part_number(handler: S3Handler) -> int:
    text = handler.query.get("partNumber", "")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PART_NUMBER:
        raise S3Error(
            "InvalidArgument",
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=text,
        )
    return int(text)


def check_part_request(handler: S3Handler) -> None:
    """Before an UploadPart body arrives: the upload and number are valid."""
    _part_number(handler)
    handler.s3.uploads.load(handler.query["uploadId"], handler.bucket, handler.key)


# -- operations --------------------------------------------------------------------


def create_upload(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    handler.finish_body()
    handler.storage.require_bucket(handler.bucket)
    handler.storage.object_path(handler.bucket, handler.key)
    stored, user = metadata_from_request(handler.request.headers)
    algorithm = handler.request.headers.get("x-amz-checksum-algorithm")
    if algorithm is not None:
        new_checksum(algorithm)  # refuses unknown names now, not at Complete
        algorithm = algorithm.upper()
        handler.set_header("x-amz-checksum-algorithm", algorithm)
    upload_id = handler.s3.uploads.create(
        handler.bucket, handler.key, {"headers": stored, "user": user, "algorithm": algorithm}
    )
    handler.send_xml(
        document(
            "InitiateMultipartUploadResult",
            [("Bucket", handler.bucket), ("Key", handler.key), ("UploadId", upload_id)],
        )
    )


def upload_part(handler: S3Handler) -> asyncio.Future[None] | None:
    if "x-amz-copy-source" in handler.request.headers:
        return asyncio.ensure_future(_upload_part_copy(handler))
    assert handler.bucket is not None and handler.key is not None
    number = _part_number(handler)
    upload_id = handler.query["uploadId"]
    handler.s3.uploads.load(upload_id, handler.bucket, handler.key)
    body = handler.finish_body()
    writer = handler.writer
    assert writer is not None
    meta = ObjectMeta(f"part {number}", body.size, body.etag, now(), checksums=body.checksums())
    writer.seal(meta)
    handler.s3.uploads.commit_part(upload_id, number, writer)
    handler.set_header("ETag", quoted(meta.etag))
    for algorithm, value in meta.checksums.items():
        handler.set_header("x-amz-checksum-" + algorithm.lower(), value)
    handler.finish()
    return None


def _copy_range(handler: S3Handler, size: int) -> tuple[int, int]:
    """x-amz-copy-source-range as [start, end): S3 wants both bounds."""
    header = handler.request.headers.get("x-amz-copy-source-range")
    if header is None:
        return 0, size
    # S3 wants both positions ("bytes=first-last"), unlike a Range header.
    first, _, last = header.removeprefix("bytes=").partition("-")
    if not (header.startswith("bytes=") and first.isdigit() and last.isdigit()):
        raise S3Error(
            "InvalidArgument",
            "The x-amz-copy-source-range value must be of the form bytes=first-last.",
        )
    ranges = parse_byte_ranges(header, size, max_ranges=1)
    if not ranges or ranges[0][1] != int(last) + 1:
        raise S3Error("InvalidRange", ActualObjectSize=str(size), RangeRequested=header)
    start, end = ranges[0]
    return start, end


async def _upload_part_copy(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    handler.finish_body()
    number = _part_number(handler)
    upload_id = handler.query["uploadId"]
    handler.s3.uploads.load(upload_id, handler.bucket, handler.key)
    with open_copy_source(handler) as stored:
        start, end = _copy_range(handler, stored.meta.size)
        writer = handler.storage.new_writer()
        try:
            loop = asyncio.get_running_loop()
            etag = await loop.run_in_executor(None, copy_bytes, stored, start, end, writer)
            meta = ObjectMeta(f"part {number}", end - start, etag, now())
            writer.seal(meta)
            handler.s3.uploads.commit_part(upload_id, number, writer)
        finally:
            writer.abort()
    handler.send_xml(
        document(
            "CopyPartResult",
            [("LastModified", iso8601(meta.last_modified)), ("ETag", quoted(meta.etag))],
        )
    )


def _requested_parts(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    root = parse_request_xml(body, "CompleteMultipartUpload")
    requested = []
    for element in children(root, "Part"):
        number = child_text(element, "PartNumber")
        etag = child_text(element, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise S3Error("MalformedXML")
        given = {}
        for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
            value = child_text(element, "Checksum" + algorithm)
            if value is not None:
                given[algorithm] = value.strip()
        requested.append((int(number), etag.strip().strip('"'), given))
    if not requested:
        raise S3Error("MalformedXML")
    return requested


def _assemble(uploads: Uploads, upload_id: str, numbers: list[int], writer: TempWriter) -> None:
    """Concatenate the parts into ``writer`` (runs in a worker thread)."""
    for number in numbers:
        stored = uploads.open_part(upload_id, number)
        if stored is None:
            raise S3Error("InvalidPart", PartNumber=str(number), UploadId=upload_id)
        with stored:
            for piece in stored.read_range(0, stored.meta.size):
                writer.write(piece)


async def complete_upload(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    body = handler.finish_body()
    upload_id = handler.query["uploadId"]
    uploads = handler.s3.uploads
    record = uploads.load(upload_id, handler.bucket, handler.key)
    requested = _requested_parts(body.data())
    numbers = [number for number, _etag, _sums in requested]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        raise S3Error("InvalidPartOrder", UploadId=upload_id)
    parts = uploads.parts(upload_id)
    for number, etag, sums in requested:
        part = parts.get(number)
        if (
            part is None
            or part.etag != etag
            or any(part.checksums.get(a) != v for a, v in sums.items())
        ):
            raise S3Error("InvalidPart", UploadId=upload_id, PartNumber=str(number), ETag=etag)
    for number in numbers[:-1]:
        size = parts[number].size
        if size < MIN_PART_BYTES:
            raise S3Error(
                "EntityTooSmall",
                ProposedSize=str(size),
                MinSizeAllowed=str(MIN_PART_BYTES),
                PartNumber=str(number),
                ETag=parts[number].etag,
            )
    chosen = [parts[n] for n in numbers]
    md5s = b"".join(bytes.fromhex(p.etag) for p in chosen)
    etag = f"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"
    checksums = _composite_checksums(record.get("algorithm"), chosen)
    handler.storage.require_bucket(handler.bucket)
    writer = handler.storage.new_writer()
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _assemble, uploads, upload_id, numbers, writer)
        meta = ObjectMeta(
            handler.key, 0, etag, now(), record["headers"], record["user"], checksums, len(chosen)
        )
        writer.seal(meta)
        check_write_preconditions(handler)
        handler.storage.commit(writer, handler.bucket, handler.key)
    finally:
        writer.abort()
    uploads.abort(upload_id)
    host = handler.request.host
    result: list[Node] = [
        ("Location", f"{handler.request.protocol}://{host}/{handler.bucket}/{handler.key}"),
        ("Bucket", handler.bucket),
        ("Key", handler.key),
        ("ETag", quoted(etag)),
    ]
    result += [("Checksum" + a, v) for a, v in checksums.items()]
    handler.send_xml(document("CompleteMultipartUploadResult", result))


def _composite_checksums(algorithm: str | None, parts: list[ObjectMeta]) -> dict[str, str]:
    """S3's composite checksum: the checksum of the parts' checksums, "-N"."""
    if algorithm is None or not all(algorithm in p.checksums for p in parts):
        return {}
    import base64

    composite: Checksum = new_checksum(algorithm)
    for part in parts:
        composite.update(base64.b64decode(part.checksums[algorithm]))
    return {algorithm: f"{composite.value()}-{len(parts)}"}


def abort_upload(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    upload_id = handler.query["uploadId"]
    handler.s3.uploads.load(upload_id, handler.bucket, handler.key)
    handler.s3.uploads.abort(upload_id)
    handler.set_status(204)
    handler.finish()


def _max_entries(handler: S3Handler, name: str) -> int:
    text = handler.query.get(name, str(MAX_LIST_ENTRIES))
    if not text.isdigit():
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range")
    return min(int(text), MAX_LIST_ENTRIES)


def list_parts(handler: S3Handler) -> None:
    assert handler.bucket is not None and handler.key is not None
    upload_id = handler.query["uploadId"]
    record = handler.s3.uploads.load(upload_id, handler.bucket, handler.key)
    limit = _max_entries(handler, "max-parts")
    marker_text = handler.query.get("part-number-marker", "0") or "0"
    if not marker_text.isdigit():
        raise S3Error("InvalidArgument", "part-number-marker must be an integer")
    marker = int(marker_text)
    parts = sorted(handler.s3.uploads.parts(upload_id).items())
    after = [(n, p) for n, p in parts if n > marker]
    page = after[:limit]
    truncated = len(after) > limit
    entries: list[Node] = [
        ("Bucket", handler.bucket),
        ("Key", handler.key),
        ("UploadId", upload_id),
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", page[-1][0] if page else 0),
        ("MaxParts", limit),
        ("IsTruncated", truncated),
        ("Initiator", OWNER),
        ("Owner", OWNER),
        ("StorageClass", "STANDARD"),
    ]
    if record.get("algorithm"):
        entries.append(("ChecksumAlgorithm", record["algorithm"]))
    for number, part in page:
        fields: list[Node] = [
            ("PartNumber", number),
            ("LastModified", iso8601(part.last_modified)),
            ("ETag", quoted(part.etag)),
            ("Size", part.size),
        ]
        fields += [("Checksum" + a, v) for a, v in part.checksums.items()]
        entries.append(("Part", fields))
    handler.send_xml(document("ListPartsResult", entries))


def list_uploads(handler: S3Handler) -> None:
    assert handler.bucket is not None
    handler.storage.require_bucket(handler.bucket)
    prefix = handler.query.get("prefix", "")
    key_marker = handler.query.get("key-marker", "")
    id_marker = handler.query.get("upload-id-marker", "")
    limit = _max_entries(handler, "max-uploads")
    found = sorted(
        (record["key"], record["initiated"], upload_id)
        for upload_id, record in handler.s3.uploads.all()
        if record["bucket"] == handler.bucket and record["key"].startswith(prefix)
    )
    found = [
        entry
        for entry in found
        if entry[0] > key_marker or (entry[0] == key_marker and id_marker and entry[2] > id_marker)
    ]
    page = found[:limit]
    truncated = len(found) > limit
    entries: list[Node] = [
        ("Bucket", handler.bucket),
        ("KeyMarker", key_marker),
        ("UploadIdMarker", id_marker),
        ("NextKeyMarker", page[-1][0] if truncated else None),
        ("NextUploadIdMarker", page[-1][2] if truncated else None),
        ("Prefix", prefix),
        ("MaxUploads", limit),
        ("IsTruncated", truncated),
    ]
    for key, initiated, upload_id in page:
        entries.append(
            (
                "Upload",
                [
                    ("Key", key),
                    ("UploadId", upload_id),
                    ("Initiator", OWNER),
                    ("Owner", OWNER),
                    ("StorageClass", "STANDARD"),
                    ("Initiated", iso8601(initiated)),
                ],
            )
        )
    handler.send_xml(document("ListMultipartUploadsResult", entries))
