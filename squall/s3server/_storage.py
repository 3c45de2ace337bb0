"""Buckets and objects on the local file system.

Layout under the root directory::

    <bucket>/~bucket                the bucket's marker (its mtime: creation)
    <bucket>/photos~/2024~/cat.jpg  the object "photos/2024/cat.jpg"
    .s3server/tmp/                  uploads in progress (renamed into place)
    .s3server/uploads/<id>/         multipart uploads (see _multipart)

Keys are not paths: ``a`` and ``a/b`` are both valid S3 keys, and a key may
hold ``..``, a backslash or an empty segment. So each ``/``-separated
segment is percent-encoded (everything but a small safe set, ``%`` and
``~`` included), intermediate segments name directories that end in
``~``, the last one names the data file. No encoded name is ever ``.``,
``..`` or contains a separator, data files never contain ``~`` and
directories always end with it, so ``a`` (file ``a``) and ``a/b``
(directory ``a~``) coexist and no key can name anything outside its
bucket. Symbolic links are never followed: a link planted in the tree is
neither listed nor opened.

Each object is one file: its bytes, then its metadata as JSON, then a
16-byte trailer (metadata length, magic). One file means one rename: a
reader that opened it sees one consistent object, and of two concurrent
writers the last rename wins whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import struct
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any, BinaryIO

from squall.s3server._errors import S3Error

__all__ = ["ObjectMeta", "Storage", "StoredObject", "TempWriter"]

# S3 limits keys to 1024 bytes of UTF-8 ("Creating object key names").
MAX_KEY_BYTES = 1024
# One encoded segment becomes one file name: ext4 and most file systems cap
# a name at 255 bytes (NAME_MAX); we keep room for the directory suffix.
MAX_SEGMENT_BYTES = 250
# Bytes copied per read when serving or concatenating files.
COPY_CHUNK = 1024 * 1024
# Temporary files this old when a server starts were left by a crash (a
# live upload touches its file at every read); they are removed.
STALE_TEMP_SECONDS = 24 * 3600

_TRAILER = struct.Struct(">Q8s")
_MAGIC = b"SQS3OBJ1"
_SYSTEM_DIR = ".s3server"
_BUCKET_MARKER = "~bucket"

# Bytes kept as they are in file names; everything else is %XX.
_SAFE_BYTES = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.,+=@()!' "
)

# S3's bucket naming rules ("General purpose bucket naming rules").
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+\Z")


def validate_bucket_name(name: str) -> None:
    if (
        not _BUCKET_NAME.match(name)
        or ".." in name
        or _IP_ADDRESS.match(name)
        or name.startswith(("xn--", "sthree-"))
        or name.endswith(("-s3alias", "--ol-s3"))
    ):
        raise S3Error("InvalidBucketName", BucketName=name)


def validate_key(key: str) -> None:
    if not key:
        raise S3Error("InvalidArgument", "An object key must not be empty.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError")
    if "\x00" in key:
        raise S3Error("InvalidArgument", "Object keys may not contain NUL characters.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise S3Error("InvalidArgument", "Object keys must be valid UTF-8.") from None


def encode_segment(segment: str) -> str:
    """One key segment as a file name (see the module docstring)."""
    if segment == "":
        return "%"
    encoded = "".join(
        chr(byte) if byte in _SAFE_BYTES else f"%{byte:02X}" for byte in segment.encode()
    )
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    if len(encoded) > MAX_SEGMENT_BYTES:
        raise S3Error(
            "KeyTooLongError",
            f"A key segment between slashes may be at most {MAX_SEGMENT_BYTES} bytes "
            "once encoded as a file name.",
        )
    return encoded


def decode_segment(name: str) -> str:
    if name == "%":
        return ""
    return urllib.parse.unquote(name, errors="strict")


@dataclasses.dataclass
class ObjectMeta:
    """What S3 returns about an object besides its bytes."""

    key: str
    size: int
    etag: str  # without quotes
    last_modified: float
    # Content-Type, Content-Encoding, Cache-Control... as sent at upload.
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # x-amz-meta-* (names lower-cased, without the prefix).
    user_metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    # algorithm name (CRC32, SHA256...) -> base64 value of the whole object.
    checksums: dict[str, str] = dataclasses.field(default_factory=dict)
    parts_count: int | None = None

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ObjectMeta:
        fields: dict[str, Any] = json.loads(data)
        return cls(**fields)


class StoredObject:
    """An open object: metadata plus the file to read its bytes from."""

    def __init__(self, file: BinaryIO, meta: ObjectMeta, path: str) -> None:
        self.file = file
        self.meta = meta
        self.path = path

    def read_range(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes [start, end), in pieces of at most COPY_CHUNK."""
        self.file.seek(start)
        remaining = end - start
        while remaining > 0:
            piece = self.file.read(min(COPY_CHUNK, remaining))
            if not piece:
                raise OSError(f"{self.path} is shorter than its metadata says")
            remaining -= len(piece)
            yield piece

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> StoredObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_object_file(path: str) -> StoredObject | None:
    """Open an object file without following links; None if it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError:  # ELOOP: a symbolic link, never followed
        return None
    file = os.fdopen(fd, "rb")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size < _TRAILER.size:
            file.close()
            return None
        file.seek(info.st_size - _TRAILER.size)
        meta_length, magic = _TRAILER.unpack(file.read(_TRAILER.size))
        data_size = info.st_size - _TRAILER.size - meta_length
        if magic != _MAGIC or data_size < 0:
            file.close()
            return None
        file.seek(data_size)
        meta = ObjectMeta.from_json(file.read(meta_length))
        if meta.size != data_size:
            file.close()
            return None
    except (OSError, ValueError, TypeError):
        file.close()
        return None
    return StoredObject(file, meta, path)


class TempWriter:
    """A new object's bytes, written to a temporary file until committed."""

    def __init__(self, directory: str) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, prefix="upload-")
        self.file = os.fdopen(fd, "wb")
        self.size = 0
        self.done = False

    def write(self, data: bytes | memoryview) -> None:
        self.file.write(data)
        self.size += len(data)

    def seal(self, meta: ObjectMeta) -> None:
        """Append the metadata and trailer; the file is then complete."""
        meta.size = self.size
        encoded = meta.to_json()
        self.file.write(encoded)
        self.file.write(_TRAILER.pack(len(encoded), _MAGIC))
        self.file.close()

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Storage:
    """The root directory: buckets, objects and scratch space."""

    def __init__(self, root_directory: str) -> None:
        os.makedirs(root_directory, exist_ok=True)
        self.root = os.path.realpath(root_directory)
        self.system = os.path.join(self.root, _SYSTEM_DIR)
        self.tmp = os.path.join(self.system, "tmp")
        self.uploads = os.path.join(self.system, "uploads")
        os.makedirs(self.tmp, exist_ok=True)
        os.makedirs(self.uploads, exist_ok=True)
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        with os.scandir(self.tmp) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    # -- buckets ---------------------------------------------------------------

    def bucket_dir(self, bucket: str) -> str:
        validate_bucket_name(bucket)
        return os.path.join(self.root, bucket)

    def bucket_created(self, bucket: str) -> float | None:
        """The bucket's creation time, or None if there is no such bucket."""
        path = self.bucket_dir(bucket)
        try:
            # The bucket directory itself must not be a link out of the root.
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return None
            info = os.lstat(os.path.join(path, _BUCKET_MARKER))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_mtime if stat.S_ISREG(info.st_mode) else None

    def require_bucket(self, bucket: str) -> str:
        if self.bucket_created(bucket) is None:
            raise S3Error("NoSuchBucket", BucketName=bucket)
        return self.bucket_dir(bucket)

    def list_buckets(self) -> list[tuple[str, float]]:
        buckets = []
        for name in sorted(os.listdir(self.root)):
            if name.startswith("."):
                continue
            try:
                created = self.bucket_created(name)
            except S3Error:
                continue
            if created is not None:
                buckets.append((name, created))
        return buckets

    def create_bucket(self, bucket: str) -> bool:
        """Create it; False if it existed already."""
        path = self.bucket_dir(bucket)
        if self.bucket_created(bucket) is not None:
            return False
        os.makedirs(path, exist_ok=True)
        if os.path.islink(path):
            raise S3Error("InvalidBucketName", BucketName=bucket)
        with open(os.path.join(path, _BUCKET_MARKER), "xb"):
            pass
        return True

    def delete_bucket(self, bucket: str) -> None:
        path = self.require_bucket(bucket)
        for _ in self.iter_keys(bucket, ""):
            raise S3Error("BucketNotEmpty", BucketName=bucket)
        # Only empty "~" directories and the marker remain.
        os.unlink(os.path.join(path, _BUCKET_MARKER))
        for dirpath, _dirs, _files in os.walk(path, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)

    # -- objects ---------------------------------------------------------------

    def object_path(self, bucket: str, key: str) -> str:
        validate_key(key)
        segments = key.split("/")
        names = [encode_segment(s) + "~" for s in segments[:-1]]
        names.append(encode_segment(segments[-1]))
        return os.path.join(self.bucket_dir(bucket), *names)

    def _inside_bucket(self, bucket: str, path: str) -> bool:
        """True if ``path``'s directory resolves inside the bucket (no links)."""
        bucket_real = os.path.realpath(self.bucket_dir(bucket))
        parent = os.path.realpath(os.path.dirname(path))
        return parent == bucket_real or parent.startswith(bucket_real + os.sep)

    def open_object(self, bucket: str, key: str) -> StoredObject:
        self.require_bucket(bucket)
        path = self.object_path(bucket, key)
        stored = read_object_file(path) if self._inside_bucket(bucket, path) else None
        if stored is None:
            raise S3Error("NoSuchKey", Key=key)
        return stored

    def new_writer(self) -> TempWriter:
        return TempWriter(self.tmp)

    def commit(self, writer: TempWriter, bucket: str, key: str) -> None:
        """Rename a sealed temporary file into place as ``key``."""
        path = self.object_path(bucket, key)
        self.require_bucket(bucket)
        # A concurrent delete may prune a directory we just made: retry.
        for _attempt in range(10):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not self._inside_bucket(bucket, path):
                writer.abort()
                raise S3Error("AccessDenied", "The key's directory is a symbolic link.")
            try:
                os.replace(writer.path, path)
            except FileNotFoundError:
                continue
            writer.done = True
            return
        writer.abort()
        raise S3Error("InternalError")

    def delete_object(self, bucket: str, key: str) -> None:
        """Remove ``key`` if it exists (S3's DeleteObject never says it did not)."""
        bucket_path = self.require_bucket(bucket)
        path = self.object_path(bucket, key)
        if not self._inside_bucket(bucket, path):
            return
        try:
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        # Prune the directories the key leaves empty, up to the bucket.
        parent = os.path.dirname(path)
        while parent != bucket_path and parent.startswith(bucket_path + os.sep):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def iter_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix``, in no particular order."""
        bucket_path = self.require_bucket(bucket)
        complete = prefix.split("/")[:-1]
        try:
            start = os.path.join(bucket_path, *[encode_segment(s) + "~" for s in complete])
        except S3Error:
            return  # a prefix longer than any key can be
        key_prefix = "".join(s + "/" for s in complete)
        yield from self._walk(start, key_prefix, prefix)

    def _walk(self, directory: str, key_prefix: str, prefix: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                continue
            try:
                if name.endswith("~") and entry.is_dir(follow_symlinks=False):
                    sub = key_prefix + decode_segment(name[:-1]) + "/"
                    if sub.startswith(prefix) or prefix.startswith(sub):
                        yield from self._walk(entry.path, sub, prefix)
                elif "~" not in name and entry.is_file(follow_symlinks=False):
                    key = key_prefix + decode_segment(name)
                    if key.startswith(prefix):
                        yield key
            except UnicodeDecodeError:
                continue  # not a name we wrote

    def stat_object(self, bucket: str, key: str) -> ObjectMeta | None:
        """The metadata of ``key``, or None if it vanished meanwhile."""
        path = self.object_path(bucket, key)
        stored = read_object_file(path)
        if stored is None:
            return None
        with stored:
            return stored.meta


def now() -> float:
    """Object times in whole seconds: HTTP dates (Last-Modified) carry no more."""
    return float(int(time.time()))
