"""ListObjects (v1) and ListObjectsV2: prefixes, delimiters, pages.

Keys come back in UTF-8 byte order, which for Python strings is code point
order. With a delimiter, keys that share the text up to the delimiter's
first occurrence after the prefix roll up into one CommonPrefix, which
counts against max-keys like a key. A page ends after max-keys entries;
the next one resumes after the last key or prefix returned (v1's
NextMarker, v2's opaque continuation token).
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import TYPE_CHECKING

from squall.s3server._buckets import OWNER
from squall.s3server._errors import S3Error
from squall.s3server._objects import quoted
from squall.s3server._xml import Node, document, iso8601

if TYPE_CHECKING:
    from squall.s3server._handlers import S3Handler

# S3 returns at most 1000 entries per page, whatever max-keys asks for.
MAX_KEYS = 1000


def _page(
    keys: list[str], prefix: str, delimiter: str, after: str, limit: int
) -> tuple[list[str], list[str], bool, str]:
    """(keys, common prefixes, truncated, last entry) of one page."""
    contents: list[str] = []
    prefixes: list[str] = []
    last = ""
    count = 0
    truncated = False
    if limit == 0:
        return contents, prefixes, False, last  # S3: an empty, complete page
    for key in keys:
        if key <= after:
            continue
        if delimiter and after.endswith(delimiter) and key.startswith(after):
            continue  # inside the common prefix the previous page ended with
        entry = key
        rolled = False
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                entry = key[: cut + len(delimiter)]
                rolled = True
                if prefixes and prefixes[-1] == entry:
                    continue
        if count == limit:
            truncated = True
            break
        if rolled:
            prefixes.append(entry)
        else:
            contents.append(key)
        last = entry
        count += 1
        if rolled:
            after = entry  # skip the rest of this prefix's keys
    return contents, prefixes, truncated, last


def _max_keys(handler: S3Handler) -> int:
    text = handler.query.get("max-keys", str(MAX_KEYS))
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise S3Error(
            "InvalidArgument",
            "Provided max-keys not an integer or within integer range",
            ArgumentName="max-keys",
            ArgumentValue=text,
        )
    return min(value, MAX_KEYS)


def list_objects(handler: S3Handler) -> None:
    assert handler.bucket is not None
    query = handler.query
    v2 = query.get("list-type") == "2"
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    encoding = query.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise S3Error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    limit = _max_keys(handler)
    token = query.get("continuation-token")
    if v2:
        if token is not None:
            try:
                after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
            except (binascii.Error, ValueError):
                raise S3Error(
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                    ArgumentName="continuation-token",
                ) from None
        else:
            after = query.get("start-after", "")
    else:
        after = query.get("marker", "")
    keys = sorted(handler.storage.iter_keys(handler.bucket, prefix))
    contents, prefixes, truncated, last = _page(keys, prefix, delimiter, after, limit)

    def shown(text: str) -> str:
        return urllib.parse.quote(text, safe="/") if encoding == "url" else text

    entries: list[Node] = [("Name", handler.bucket), ("Prefix", shown(prefix))]
    if v2:
        entries += [
            ("KeyCount", len(contents) + len(prefixes)),
            ("MaxKeys", limit),
            ("Delimiter", shown(delimiter) if delimiter else None),
            ("IsTruncated", truncated),
            ("ContinuationToken", token),
            (
                "NextContinuationToken",
                base64.urlsafe_b64encode(last.encode()).decode() if truncated else None,
            ),
            ("StartAfter", shown(query["start-after"]) if "start-after" in query else None),
        ]
    else:
        entries += [
            ("Marker", shown(after)),
            ("NextMarker", shown(last) if truncated and delimiter else None),
            ("MaxKeys", limit),
            ("Delimiter", shown(delimiter) if delimiter else None),
            ("IsTruncated", truncated),
        ]
    entries.append(("EncodingType", encoding))
    fetch_owner = not v2 or query.get("fetch-owner") == "true"
    for key in contents:
        meta = handler.storage.stat_object(handler.bucket, key)
        if meta is None:
            continue  # deleted while we listed
        fields: list[Node] = [
            ("Key", shown(key)),
            ("LastModified", iso8601(meta.last_modified)),
            ("ETag", quoted(meta.etag)),
            ("Size", meta.size),
        ]
        fields += [("ChecksumAlgorithm", algorithm) for algorithm in meta.checksums]
        if fetch_owner:
            fields.append(("Owner", OWNER))
        fields.append(("StorageClass", "STANDARD"))
        entries.append(("Contents", fields))
    for common in prefixes:
        entries.append(("CommonPrefixes", [("Prefix", shown(common))]))
    handler.send_xml(document("ListBucketResult", entries))
