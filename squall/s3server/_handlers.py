"""The request handler: where each S3 request is parsed, checked and routed.

One ``S3Handler`` serves every URL. ``prepare`` works out the bucket and
key (path-style ``/bucket/key`` or virtual-host-style
``bucket.<domain>/key``), checks the signature, and sets up the body's
destination before any of it arrives (``@stream_request_body``): objects
and parts stream to a temporary file, XML documents to bounded memory.
The verb methods then dispatch on S3's sub-resources (``?uploads``,
``?delete``, ``list-type=2``...) to the operation modules.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from squall.s3server import _buckets, _listing, _multipart, _objects
from squall.s3server._errors import S3Error
from squall.s3server._sigv4 import SigningContext, authenticate, query_pairs
from squall.s3server._storage import Storage, TempWriter
from squall.s3server._upload import UploadBody
from squall.s3server._xml import error_document
from squall.web import RequestHandler, stream_request_body

__all__ = ["S3Handler", "S3Settings"]

# S3's single-PUT limit is 5 GiB ("Uploading objects"); aws-chunked framing
# adds about 90 bytes per chunk of at least 8 KiB, hence the margin.
MAX_OBJECT_BYTES = 5 * 1024**3
MAX_STREAMED_BODY_BYTES = MAX_OBJECT_BYTES + MAX_OBJECT_BYTES // 64
# XML request documents: DeleteObjects names at most 1000 keys of at most
# 1 KiB each, CompleteMultipartUpload at most 10000 parts; 8 MiB holds either.
MAX_XML_BODY_BYTES = 8 * 1024 * 1024

# A request refused at its headers is answered once its body is in, when
# that body is at most this big: clients that send a whole body before
# reading (no Expect: 100-continue, e.g. http.client, urllib) would
# otherwise see a reset connection instead of S3's error. Bigger bodies
# are refused at once and the connection closed, as nginx stops lingering.
MAX_DISCARDED_BODY_BYTES = 64 * 1024 * 1024

# Query parameters that name a sub-resource we do not implement: S3 answers
# those with NotImplemented rather than treating them as a plain GET/PUT.
_UNSUPPORTED_SUBRESOURCES = frozenset(
    "accelerate acl analytics cors encryption intelligent-tiering inventory legal-hold "
    "lifecycle logging metrics notification object-lock ownershipControls policy "
    "policyStatus publicAccessBlock replication requestPayment restore retention "
    "select tagging torrent versions website attributes".split()
)


class S3Settings:
    """What every request needs: the storage and the accepted credentials."""

    def __init__(
        self, storage: Storage, credentials: dict[str, str], domains: tuple[str, ...]
    ) -> None:
        self.storage = storage
        self.uploads = _multipart.Uploads(storage)
        self.credentials = credentials
        self.domains = tuple(sorted((d.lower().strip(".") for d in domains), key=len, reverse=True))


@stream_request_body
class S3Handler(RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")

    s3: S3Settings
    bucket: str | None
    key: str | None
    query: dict[str, str]
    auth: SigningContext | None
    body: UploadBody | None
    body_error: S3Error | None
    writer: TempWriter | None

    def initialize(self, s3: S3Settings) -> None:
        self.s3 = s3
        self.bucket = self.key = None
        self.body = None
        self.body_error = None
        self.deferred_error: S3Error | None = None
        self.writer = None
        self.auth = None
        self.query = {}

    @property
    def storage(self) -> Storage:
        return self.s3.storage

    def set_default_headers(self) -> None:
        # Runs from the constructor (and again for an error page).
        if "request_id" not in self.__dict__:
            self.request_id = secrets.token_hex(8).upper()
        self.clear_header("Content-Type")
        self.set_header("Server", "SquallS3")
        self.set_header("x-amz-request-id", self.request_id)
        self.set_header("x-amz-id-2", self.request_id)

    def set_lowercase_header(self, name: str, value: str) -> None:
        """Send a header with its name in lower case, as S3 does.

        HTTP names are case-insensitive, but SDKs take user metadata names
        from ``x-amz-meta-*`` headers verbatim, and S3 keeps them lower
        case; HTTPHeaders would capitalise each word, so the field goes in
        under its exact name (the value is checked as set_header checks).
        """
        checked = self._convert_header_value(value)
        self.clear_header(name)
        self._headers._lists[name.lower()] = [checked]

    def compute_etag(self) -> None:
        return None  # ETags here are objects' MD5s, never of XML documents

    # -- before the body -------------------------------------------------------

    def prepare(self) -> None:
        raw_path = self.raw_path = _origin_form_path(self.request.uri.partition("?")[0])
        try:
            self.bucket, self.key = self._locate(raw_path)
            self.query = dict(query_pairs(self.request.query))
            if self.s3.credentials:
                self.auth = authenticate(self.request, raw_path, self.s3.credentials)
                if self.auth is None:
                    raise S3Error("AccessDenied", "Anonymous requests are not allowed.")
            if self.request.method in ("PUT", "POST"):
                self._prepare_body()
        except S3Error as e:
            if not self._answer_after_body():
                raise
            # Read the body into nowhere, then answer (see the constant).
            self._abort_writer()
            self.body = None
            self.deferred_error = e

    def _answer_after_body(self) -> bool:
        """Whether a refusal waits for the body (see MAX_DISCARDED_BODY_BYTES)."""
        headers = self.request.headers
        if headers.get("Expect", "").lower() == "100-continue":
            return False  # the client waits for our word before sending it
        length = headers.get("Content-Length", "0")
        return length.isdigit() and 0 < int(length) <= MAX_DISCARDED_BODY_BYTES

    def _locate(self, raw_path: str) -> tuple[str | None, str | None]:
        """(bucket, key) from the Host header and the path."""
        path = urllib.parse.unquote(raw_path, errors="surrogateescape")
        host = self.request.host_name
        for domain in self.s3.domains:
            if host.endswith("." + domain):
                bucket = host[: -len(domain) - 1]
                return bucket, path[1:] or None
        bucket, _, key = path[1:].partition("/")
        return bucket or None, key or None

    def _prepare_body(self) -> None:
        connection: Any = self.request.connection
        to_file = (
            self.request.method == "PUT"
            and self.key is not None
            and "x-amz-copy-source" not in self.request.headers
        )
        if to_file:
            assert self.bucket is not None and self.key is not None
            self.storage.require_bucket(self.bucket)
            self.storage.object_path(self.bucket, self.key)  # validates the key
            if "uploadId" in self.query:
                _multipart.check_part_request(self)
            connection.set_max_body_size(MAX_STREAMED_BODY_BYTES)
            self.writer = self.storage.new_writer()
        else:
            connection.set_max_body_size(MAX_XML_BODY_BYTES)
        self.body = UploadBody(self.request.headers, self.auth, self.writer, MAX_XML_BODY_BYTES)

    def data_received(self, chunk: bytes) -> None:
        if self.body_error is not None or self.body is None:
            return
        try:
            self.body.feed(chunk)
        except S3Error as e:
            self.body_error = e
            self._abort_writer()

    def finish_body(self) -> UploadBody:
        """The whole body, checked; raises the first problem found in it."""
        if self.body_error is not None:
            raise self.body_error
        assert self.body is not None
        self.body.finish()
        if self.writer is not None and self.body.size > MAX_OBJECT_BYTES:
            raise S3Error("EntityTooLarge")
        return self.body

    def _abort_writer(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def on_finish(self) -> None:
        self._abort_writer()  # a no-op once committed

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._abort_writer()

    # -- dispatch --------------------------------------------------------------

    def _operation(self) -> Callable[[S3Handler], Awaitable[None] | None]:
        method = self.request.method
        query = self.query
        unsupported = _UNSUPPORTED_SUBRESOURCES.intersection(query)
        if unsupported:
            raise S3Error(
                "NotImplemented", f"The {sorted(unsupported)[0]} sub-resource is not implemented."
            )
        if self.bucket is None:
            if method in ("GET", "HEAD"):
                return _buckets.list_buckets
            raise S3Error("MethodNotAllowed")
        if self.key is None:
            table: dict[str, Callable[[S3Handler], Awaitable[None] | None]] = {
                "PUT": _buckets.create_bucket,
                "HEAD": _buckets.head_bucket,
                "DELETE": _buckets.delete_bucket,
            }
            if method == "GET":
                if "uploads" in query:
                    return _multipart.list_uploads
                if "location" in query:
                    return _buckets.get_location
                if "versioning" in query:
                    return _buckets.get_versioning
                return _listing.list_objects
            if method == "POST" and "delete" in query:
                return _objects.delete_objects
        elif "uploadId" in query:
            table = {
                "PUT": _multipart.upload_part,
                "GET": _multipart.list_parts,
                "DELETE": _multipart.abort_upload,
                "POST": _multipart.complete_upload,
            }
        else:
            table = {
                "PUT": _objects.put_object,
                "GET": _objects.get_object,
                "HEAD": _objects.get_object,
                "DELETE": _objects.delete_object,
            }
            if method == "POST" and "uploads" in query:
                return _multipart.create_upload
        operation = table.get(method)
        if operation is None:
            raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")
        return operation

    async def _run(self) -> None:
        if self.deferred_error is not None:
            raise self.deferred_error
        result = self._operation()(self)
        if result is not None:
            await result

    def get(self, *args: str, **kwargs: str) -> Awaitable[None]:  # type: ignore[override]
        return self._run()

    head = put = post = delete = get  # type: ignore[assignment]

    # -- replies ---------------------------------------------------------------

    def send_xml(self, body: bytes, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/xml")
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info is not None else None
        if not isinstance(error, S3Error):
            if status_code == 405:
                error = S3Error("MethodNotAllowed")
            elif status_code < 500:
                error = S3Error("InvalidRequest", status=status_code)
            else:
                error = S3Error("InternalError")
            self.set_status(error.status_code)
        raw_path = getattr(self, "raw_path", self.request.path)
        resource = urllib.parse.unquote(raw_path)
        self.set_header("Content-Type", "application/xml")
        self.finish(error_document(error, resource, self.request_id))

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if isinstance(value, S3Error):
            # S3 errors are answers, not faults (the access log has them).
            # A client that left mid-upload never gets here: RequestHandler
            # takes a StreamClosedError for the client's own disconnect.
            return
        super().log_exception(typ, value, tb)


def _origin_form_path(target: str) -> str:
    """The path of a request target, also when sent in absolute form
    (``http://bucket.host/key``, as through a proxy; RFC 9112 §3.2.2)."""
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return target
