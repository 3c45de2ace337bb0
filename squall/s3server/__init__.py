"""squall.s3server: the Amazon S3 API on local files.

A development and test stand-in for S3 that boto3, the AWS CLI, rclone
and s3cmd talk to unchanged: buckets are directories under a root, objects
are files, and the API covers buckets, objects (ranges, conditions,
copies, batch deletes), listings v1 and v2 and multipart uploads, with
AWS Signature Version 4 checked when keys are configured::

    from squall import ioloop, s3server
    app = s3server.S3Application("/tmp/s3", access_key="K", secret_key="S")
    app.listen(9000)
    ioloop.IOLoop.current().start()

or ``python -m squall.s3server --port 9000 --root /tmp/s3``. See
docs/s3server.md. The implementation lives in private modules:

- ``_handlers``: the request handler (addressing, auth, dispatch, errors)
- ``_buckets``, ``_objects``, ``_listing``, ``_multipart``: the operations
- ``_storage``: the on-disk layout (safe names, atomic renames)
- ``_sigv4``, ``_chunked``: signatures, aws-chunked bodies
- ``_upload``, ``_checksums``: streaming bodies and their digests
- ``_xml``, ``_errors``: S3's documents and error codes
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from squall.ioloop import IOLoop
from squall.s3server._errors import S3Error
from squall.s3server._handlers import S3Handler, S3Settings
from squall.s3server._storage import Storage
from squall.web import Application

__all__ = ["S3Application", "S3Error", "S3Handler", "start"]

# Host names under which virtual-host-style requests are recognised by
# default: "bucket.localhost:9000" addresses bucket "bucket".
DEFAULT_DOMAINS = ("localhost",)


class S3Application(Application):
    """An Application serving the S3 API from ``root_directory``.

    ``bucket_depth`` is accepted for compatibility with Tornado 1.x's
    signature; our layout does not need hashed fan-out directories, so it
    changes nothing. With ``access_key`` and ``secret_key`` (or a
    ``credentials`` dict of several), every request must carry a valid
    AWS Signature Version 4; without any, requests are anonymous.
    ``domains`` lists the host names whose sub-domains name buckets
    (virtual-host-style addressing). Other keyword arguments are
    Application settings.
    """

    def __init__(
        self,
        root_directory: str,
        bucket_depth: int = 0,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        credentials: dict[str, str] | None = None,
        domains: Sequence[str] = DEFAULT_DOMAINS,
        **settings: Any,
    ) -> None:
        if (access_key is None) != (secret_key is None):
            raise ValueError("access_key and secret_key go together")
        accepted = dict(credentials or {})
        if access_key is not None and secret_key is not None:
            accepted[access_key] = secret_key
        self.directory = root_directory
        self.bucket_depth = bucket_depth
        self.storage = Storage(root_directory)
        s3 = S3Settings(self.storage, accepted, tuple(domains))
        super().__init__([(r".*", S3Handler, {"s3": s3})], **settings)


def start(port: int, root_directory: str = "/tmp/s3", bucket_depth: int = 0) -> None:
    """Serve ``root_directory`` on ``port`` and run the IOLoop (blocks)."""
    application = S3Application(root_directory, bucket_depth)
    application.listen(port)
    IOLoop.current().start()
