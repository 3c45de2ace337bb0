"""``StaticFileHandler``: files from a directory, with caching and ranges.

Safety first: the requested path must stay inside the root (compared by
path components, so ``/static/../static_foo.txt`` cannot reach a sibling
directory whose name merely starts with the root's), and symlinks may not
lead out of it unless into an ``allowed_symlink_directory``. A directory
redirect never sends the client to another host (``//evil.com/..``).

Beyond Tornado: several ranges in one request (``multipart/byteranges``),
precompressed ``.br``/``.gz`` siblings served when the client accepts them,
and zero-copy ``sendfile`` on plain (non-TLS, untransformed) connections.

Errors: ``HTTPError`` 403 (outside the root, a directory, not a regular
file, an unsafe redirect), 404 (missing), 400 (NUL in the path), 416
(unsatisfiable range).
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import hashlib
import mimetypes
import os
import stat
import threading
from collections.abc import Awaitable, Generator, Iterable
from typing import Any

from squall.httputil._ranges import parse_byte_ranges
from squall.iostream import StreamClosedError
from squall.log import gen_log
from squall.web._errors import HTTPError
from squall.web._handler import RequestHandler

__all__ = ["StaticFileHandler"]

# Tornado's "cache forever" for versioned URLs: ten years, in seconds.
_TEN_YEARS = 86400 * 365 * 10
# Version hashes kept (one per file path); a site with more static files
# than this recomputes some hashes instead of growing without bound.
_HASH_CACHE_MAX = 10_000
# Read size when streaming a file (64 KiB, Tornado's).
_CHUNK_SIZE = 64 * 1024
# Below this many bytes one read and write cost less than the sendfile
# set-up (waiting for the head to drain, a descriptor to watch): measured
# with bench/static_files.py on 4 KiB files.
_SENDFILE_MIN_BYTES = _CHUNK_SIZE
# Content-codings for which a precompressed sibling file may exist, in
# order of preference, with the suffix of that file.
_PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))


# ``allowed_symlink_directory``: one directory or several.
_LinkTargets = str | list[str]


class StaticFileHandler(RequestHandler):
    """Serve files under ``path``: ``(r"/content/(.*)", StaticFileHandler,
    {"path": "/var/www"})``.

    ``default_filename`` (e.g. ``"index.html"``) is served for directory
    URLs. Symlinks resolving outside ``path`` get 403 unless their target
    is inside ``allowed_symlink_directory`` (a directory or a list).
    Requests with ``?v=`` (from ``static_url``) are cached for ten years.

    Subclasses customise URLs with ``make_static_url``, ``parse_url_path``,
    ``get_cache_time`` and ``get_version``, and storage with
    ``get_content``, ``get_content_size``, ``get_modified_time``,
    ``get_absolute_path`` and ``validate_absolute_path``.
    """

    CACHE_MAX_AGE = _TEN_YEARS
    # Tornado's limits: versions remembered, and the largest file hashed
    # for one (a bigger file gets no ?v= rather than a long hash at startup).
    MAX_CACHED_VERSIONS = _HASH_CACHE_MAX
    MAX_VERSION_CONTENT_SIZE = 64 * 1024 * 1024

    _static_hashes: dict[str, str | None] = {}
    _lock = threading.Lock()

    root: str
    path: str
    absolute_path: str
    modified: datetime.datetime | None
    # Class-level defaults, so that a subclass whose initialize() does not
    # call this one's (it sets ``root`` itself) still serves files.
    default_filename: str | None = None
    allowed_symlink_directory: list[str] | None = None
    _served_path: str | None = None
    _stat_result: os.stat_result | None = None

    def initialize(
        self,
        path: str,
        default_filename: str | None = None,
        allowed_symlink_directory: _LinkTargets | None = None,
    ) -> None:
        self.root = path
        self.default_filename = default_filename
        # Symlinks may only point into these directories; by default the root.
        targets = path if allowed_symlink_directory is None else allowed_symlink_directory
        if isinstance(targets, (str, os.PathLike)):
            targets = [targets]
        self.allowed_symlink_directory = list(map(os.fspath, targets))
        self._stat_result = None
        self._served_path = None

    # -- serving -----------------------------------------------------------------

    async def get(self, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        if "\x00" in path:
            raise HTTPError(400, "NUL byte in static path")
        self.path = self.parse_url_path(path)
        checked = self.validate_absolute_path(
            self.root, self.get_absolute_path(self.root, self.path)
        )
        if checked is None:
            # The validator has already answered (a directory redirect, say).
            return
        self.absolute_path = checked
        wants_range = "Range" in self.request.headers
        self._served_path = self._choose_representation(wants_range)
        self.modified = self.get_modified_time()
        self.set_headers()
        if self.should_return_304():
            # The client's copy is current: a bodiless 304 with the headers.
            return self.set_status(304)
        size = self.get_content_size()
        ranges = self._requested_ranges(size) if wants_range else None
        if ranges == []:
            self.set_status(416)
            self.set_header("Content-Type", "text/plain")
            self.set_header("Content-Range", f"bytes */{size}")
            return
        try:
            if ranges is None:
                self.set_header("Content-Length", size)
                if include_body:
                    await self._send_range(0, size)
            elif len(ranges) == 1:
                start, end = ranges[0]
                self.set_status(206)
                self.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.set_header("Content-Length", end - start)
                if include_body:
                    await self._send_range(start, end)
            else:
                await self._send_multipart(ranges, size, include_body)
        except StreamClosedError:
            # The client left mid-file: nothing more to say to it.
            self._finished = True
            return
        # The client may have read the whole body and closed already: the
        # final (empty) write then fails, which is no error of ours.
        self.finish().add_done_callback(_retrieve_exception)

    def head(self, path: str) -> Awaitable[None]:  # type: ignore[override]
        # HEAD is GET with the body left out.
        return self.get(path, include_body=False)

    @classmethod
    def reset(cls) -> None:
        """Forget the cached version hashes (``static_hash_cache=False``)."""
        with cls._lock:
            cls._static_hashes = {}

    async def _send_range(self, start: int, end: int) -> None:
        """Send bytes [start, end) of the file, without copying when we can."""
        if end <= start:
            return
        sendfile = getattr(self.request.connection, "sendfile", None)
        path = self._served_path or self.absolute_path
        if (
            sendfile is not None
            and end - start >= _SENDFILE_MIN_BYTES
            and type(self).get_content == StaticFileHandler.get_content
            and os.path.isfile(path)
        ):
            await self.flush()
            if self._transforms_pass_through():
                with open(path, "rb") as file:
                    sent = await sendfile(file, start, end - start)
                if sent is not None:
                    return
                # None: the connection cannot sendfile (TLS...); stream it.
        # The whole file is asked for as (None, None), as Tornado does:
        # subclasses serving generated content may handle no ranges.
        whole = start == 0 and end == self.get_content_size()
        pieces = self.get_content(path) if whole else self.get_content(path, start, end)
        for chunk in _pieces(pieces):
            self.write(chunk)
            await self.flush()

    def _transforms_pass_through(self) -> bool:
        # After the first flush each transform has decided; a gzip transform
        # that declined leaves bytes untouched.
        return all(not getattr(t, "_gzipping", True) for t in self._transforms)

    async def _send_multipart(
        self, ranges: list[tuple[int, int]], size: int, include_body: bool
    ) -> None:
        # RFC 9110 §14.6: each part carries its own Content-Type and
        # Content-Range; the boundary must not occur in the data, which a
        # random 128-bit token makes vanishingly unlikely.
        boundary = os.urandom(16).hex()
        content_type = self._headers.get("Content-Type", "application/octet-stream")
        heads = [
            (
                f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            ).encode("latin-1")
            for start, end in ranges
        ]
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges) + len(tail)
        self.set_status(206)
        self.set_header("Content-Type", f"multipart/byteranges; boundary={boundary}")
        self.set_header("Content-Length", length)
        if not include_body:
            return
        for head, (start, end) in zip(heads, ranges, strict=True):
            self.write(head)
            await self._send_range(start, end)
        self.write(tail)

    def _requested_ranges(self, size: int) -> list[tuple[int, int]] | None:
        """The satisfiable ranges as [start, end) pairs.

        None: ignore the header (bad syntax, another unit, an If-Range that
        no longer matches, too many ranges). An empty list: nothing in it
        is satisfiable, answer 416.
        """
        header = self.request.headers.get("Range", "")
        if_range = self.request.headers.get("If-Range")
        if if_range is not None and not self._if_range_matches(if_range):
            return None  # RFC 9110 §13.1.5: the client's copy is stale
        return _tornado_ranges(header, size)

    def _if_range_matches(self, if_range: str) -> bool:
        if if_range.startswith('"'):
            return bool(if_range == self._headers.get("Etag"))
        if self.modified is None:
            return False
        try:
            date = email.utils.parsedate_to_datetime(if_range)
        except (TypeError, ValueError):
            return False
        return date.tzinfo is not None and date == self.modified

    def _choose_representation(self, ranges_requested: bool) -> str | None:
        """A precompressed sibling to serve instead, if the client takes it."""
        path = self.absolute_path
        siblings = [
            (coding, path + suffix)
            for coding, suffix in _PRECOMPRESSED
            if os.path.isfile(path + suffix)
        ]
        if not siblings:
            return None
        # Caches must keep the encodings apart (RFC 9110 §12.5.5).
        self.set_header("Vary", "Accept-Encoding")
        if ranges_requested:
            return None  # ranges are served from the identity file
        accepted = _accepted_codings(self.request.headers.get("Accept-Encoding", ""))
        for coding, sibling in siblings:
            if coding in accepted and self._inside_allowed(sibling, self.root):
                self.set_header("Content-Encoding", coding)
                return sibling
        return None

    # -- headers -----------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """The ETag: the file's version hash (of the file actually served)."""
        version_hash = self._get_cached_version(self._served_path or self.absolute_path)
        if not version_hash:
            return None
        return f'"{version_hash}"'

    def set_headers(self) -> None:
        """Emit every header describing this file, except Content-Length."""
        mime = self.get_content_type()
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        for name, value in (("Last-Modified", self.modified), ("Content-Type", mime)):
            if value:
                self.set_header(name, value)
        self._set_caching_headers(self.get_cache_time(self.path, self.modified, mime))
        self.set_extra_headers(self.path)

    def _set_caching_headers(self, max_age: int) -> None:
        if max_age <= 0:
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        self.set_header("Expires", now + datetime.timedelta(seconds=max_age))
        self.set_header("Cache-Control", f"max-age={max_age}")

    def should_return_304(self) -> bool:
        """Whether the client's cached copy is current (ETag, then date).

        RFC 9110 §13.2.2: If-None-Match, when present, decides alone.
        """
        if self.request.headers.get("If-None-Match"):
            return self.check_etag_header()
        since_header = self.request.headers.get("If-Modified-Since")
        if since_header and self.modified is not None:
            try:
                since = email.utils.parsedate_to_datetime(since_header)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=datetime.timezone.utc)
            return since >= self.modified
        return False

    # -- overridable: the filesystem ---------------------------------------------

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """The absolute path of ``path`` under ``root`` (not yet checked)."""
        return os.path.abspath(os.path.join(root, path))

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """Check ``absolute_path`` may be served; the path to serve, or None
        when this method already answered (a directory redirect).

        Raises ``HTTPError`` 403 outside the root or for what is not a
        regular file, 404 when it does not exist.
        """
        root = os.path.abspath(root)
        # Containment (symlinks resolved) before anything that depends on
        # what exists: a redirect for a directory out there, or a 404 for a
        # missing file, would tell a prober about the filesystem.
        if not _is_inside(absolute_path, root) or not self._inside_allowed(absolute_path, root):
            raise HTTPError(403, "%s is not in root static directory", self.path)
        if os.path.isdir(absolute_path) and self.default_filename is not None:
            request_path = self.request.path or ""
            if not request_path.endswith("/"):
                # "//evil.com/../dir/" would be a redirect to another host.
                if request_path.startswith("//") or request_path.startswith("/\\"):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                self.redirect(request_path + "/", permanent=True)
                return None
            absolute_path = os.path.join(absolute_path, self.default_filename)
        if not self._inside_allowed(absolute_path, root):  # default_filename's own links
            raise HTTPError(403, "%s is not in root static directory", self.path)
        if not os.path.exists(absolute_path):
            raise HTTPError(404)
        if not os.path.isfile(absolute_path):
            raise HTTPError(403, "%s is not a file", self.path)
        return absolute_path

    def _inside_allowed(self, absolute_path: str, root: str) -> bool:
        real = os.path.realpath(absolute_path)
        allowed = self.allowed_symlink_directory
        if allowed is None:
            allowed = [os.fspath(root)]
        return any(_is_inside(real, os.path.realpath(directory)) for directory in allowed)

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Generator[bytes, None, None]:
        """The file's bytes from ``start`` to ``end`` (a slice), in pieces.

        Raises ``HTTPError`` 404 if there is no such file and 403 if it is
        not a regular file (a directory, a FIFO, a device), before reading.
        Overrides may return one ``bytes`` instead of an iterator.
        """
        try:
            info = os.stat(abspath)
        except FileNotFoundError:
            raise HTTPError(404) from None
        if not stat.S_ISREG(info.st_mode):
            raise HTTPError(403, "%s is not a file", abspath)
        return _read_slices(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """A hash of the file's contents (for ``?v=`` and the ETag): SHA-512,
        as Tornado 6.6 computes it.

        Raises what ``get_content`` raises (404, 403), and ``ValueError``
        above ``MAX_VERSION_CONTENT_SIZE``.
        """
        hasher = hashlib.sha512()
        size = 0
        for chunk in _pieces(cls.get_content(abspath)):
            size += len(chunk)
            if size > cls.MAX_VERSION_CONTENT_SIZE:
                raise ValueError(
                    f"content is larger than MAX_VERSION_CONTENT_SIZE "
                    f"({cls.MAX_VERSION_CONTENT_SIZE} bytes)"
                )
            hasher.update(chunk)
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        if self._stat_result is None:
            self._stat_result = os.stat(self._served_path or self.absolute_path)
        return self._stat_result

    def get_content_size(self) -> int:
        """The size in bytes of what is served."""
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """Last modification, to the second (what HTTP dates can say), UTC."""
        return datetime.datetime.fromtimestamp(int(self._stat().st_mtime), datetime.timezone.utc)

    def get_content_type(self) -> str:
        """The Content-Type, guessed from the file name."""
        mime_type, encoding = mimetypes.guess_type(self.absolute_path)
        # A .gz file is served as the archive it is, not decoded by browsers.
        if encoding == "gzip":
            return "application/gzip"
        if encoding is not None:
            return "application/octet-stream"
        return mime_type or "application/octet-stream"

    def set_extra_headers(self, path: str) -> None:
        """Override to add headers to every response for ``path``."""

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        """Seconds the client may cache: ``CACHE_MAX_AGE`` for ``?v=`` URLs."""
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    # -- overridable: URLs -------------------------------------------------------

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        """Build the public URL of ``path``; optionally tag it with ``?v=<hash>``."""
        prefix = str(settings.get("static_url_prefix", "/static/"))
        tag = cls.get_version(settings, path) if include_version else None
        return prefix + path + (f"?v={tag}" if tag else "")

    def parse_url_path(self, url_path: str) -> str:
        """Turn a URL path into a filesystem path for this OS."""
        return url_path if os.path.sep == "/" else os.path.sep.join(url_path.split("/"))

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """The version hash of ``path``, or None if it cannot be read (logged).

        A path leaving ``static_path`` raises ``HTTPError`` 403; a symlink
        inside it that resolves outside gets no version, so no hash of an
        outside file leaks.
        """
        static_dir = settings["static_path"]
        target = cls.get_absolute_path(static_dir, path)
        if not isinstance(static_dir, (str, os.PathLike)):
            # A root squall cannot read (several directories, say): the
            # subclass's own get_absolute_path decided where the file is.
            return cls._get_cached_version(target)
        static_dir = os.fspath(static_dir)
        relative = os.path.normpath(path)
        escapes = os.path.isabs(path) or relative == ".." or relative.startswith(".." + os.sep)
        # With the default get_absolute_path the result must also lie under
        # the root; an override may map paths anywhere (even off the disk).
        default_mapping = cls.get_absolute_path.__func__ is _DEFAULT_ABSOLUTE_PATH  # type: ignore[attr-defined]
        if default_mapping:
            escapes = escapes or not _is_inside(target, os.path.abspath(static_dir))
        if "\x00" in target or escapes:
            raise HTTPError(403, "%s is not in root static directory", path)
        if (
            default_mapping
            and not _is_inside(os.path.realpath(target), os.path.realpath(static_dir))
            and os.path.isfile(target)
        ):
            return None  # a file out there gets no hash (what is not a file is logged)
        return cls._get_cached_version(target)

    @classmethod
    def _get_cached_version(cls, abs_path: str) -> str | None:
        with cls._lock:
            hashes = cls._static_hashes
            seen = abs_path in hashes
            if seen:
                # Least recently used goes first: a hit moves to the back.
                known = hashes[abs_path] = hashes.pop(abs_path)
        if seen:
            return known
        try:
            version: str | None = cls.get_content_version(abs_path)
        except Exception as e:
            gen_log.error("Could not open static file %r: %s", abs_path, e)
            version = None
        with cls._lock:
            hashes = cls._static_hashes
            if len(hashes) >= min(_HASH_CACHE_MAX, cls.MAX_CACHED_VERSIONS):
                del hashes[next(iter(hashes))]  # the oldest entry
            hashes[abs_path] = version
        return version


def _retrieve_exception(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _is_inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it, by whole components."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _accepted_codings(header: str) -> set[str]:
    """Content-codings the client accepts (RFC 9110 §12.5.3), q=0 excluded."""
    accepted = set()
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding and quality > 0:
            accepted.add(coding)
    return accepted


def _read_slices(abspath: str, start: int | None, end: int | None) -> Generator[bytes, None, None]:
    """Bytes ``start`` to ``end`` of the file, in chunks."""
    with open(abspath, "rb") as file:
        if start is not None:
            file.seek(start)
        remaining = None if end is None else end - (start or 0)
        while remaining is None or remaining > 0:
            size = _CHUNK_SIZE if remaining is None else min(_CHUNK_SIZE, remaining)
            chunk = file.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _pieces(content: bytes | Iterable[bytes]) -> Iterable[bytes]:
    """``get_content``'s result as pieces: overrides may return plain bytes."""
    return (content,) if isinstance(content, bytes) else content


_DEFAULT_ABSOLUTE_PATH = StaticFileHandler.get_absolute_path.__func__  # type: ignore[attr-defined]


def _tornado_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """``parse_byte_ranges`` with the answers Tornado's static handler gives
    where RFC 9110 leaves room: ``bytes=N`` reads as ``bytes=N-``; one
    reversed range is a 416 (in a list it voids the header); a range
    covering the whole file is a plain 200."""
    unit, _, spec = header.partition("=")
    if "," not in spec:
        first, dash, last = spec.strip().partition("-")
        numeric = first.isascii() and first.isdigit()
        if numeric and not dash:
            header = f"{unit}={first}-"
        elif numeric and last.isascii() and last.isdigit() and int(last) < int(first):
            return [] if unit.strip().lower() == "bytes" else None
    ranges = parse_byte_ranges(header, size)
    if ranges == [(0, size)]:
        return None
    return ranges
