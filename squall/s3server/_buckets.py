"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from squall.s3server._errors import S3Error
from squall.s3server._xml import Node, child_text, document, iso8601, parse_request_xml

if TYPE_CHECKING:
    from squall.s3server._handlers import S3Handler

# The region we report: clients that ask (GetBucketLocation, HeadBucket's
# x-amz-bucket-region) get S3's default one.
REGION = "us-east-1"
OWNER: list[Node] = [("ID", "squall"), ("DisplayName", "squall")]


def list_buckets(handler: S3Handler) -> None:
    buckets: list[Node] = [
        ("Bucket", [("Name", name), ("CreationDate", iso8601(created))])
        for name, created in handler.storage.list_buckets()
    ]
    handler.send_xml(document("ListAllMyBucketsResult", [("Owner", OWNER), ("Buckets", buckets)]))


def create_bucket(handler: S3Handler) -> None:
    assert handler.bucket is not None
    body = handler.finish_body().data()
    if body.strip():
        config = parse_request_xml(body, "CreateBucketConfiguration")
        child_text(config, "LocationConstraint")  # any region is ours
    if not handler.storage.create_bucket(handler.bucket):
        raise S3Error("BucketAlreadyOwnedByYou", BucketName=handler.bucket)
    handler.set_header("Location", "/" + handler.bucket)
    handler.finish()


def head_bucket(handler: S3Handler) -> None:
    assert handler.bucket is not None
    handler.storage.require_bucket(handler.bucket)
    handler.set_header("x-amz-bucket-region", REGION)
    handler.finish()


def delete_bucket(handler: S3Handler) -> None:
    assert handler.bucket is not None
    handler.storage.delete_bucket(handler.bucket)
    # Unfinished uploads go with it: a new bucket of that name starts clean.
    uploads = handler.s3.uploads
    for upload_id, record in uploads.all():
        if record["bucket"] == handler.bucket:
            uploads.abort(upload_id)
    handler.set_status(204)
    handler.finish()


def get_location(handler: S3Handler) -> None:
    assert handler.bucket is not None
    handler.storage.require_bucket(handler.bucket)
    # S3 reports us-east-1 as an empty constraint.
    handler.send_xml(document("LocationConstraint", []))


def get_versioning(handler: S3Handler) -> None:
    assert handler.bucket is not None
    handler.storage.require_bucket(handler.bucket)
    handler.send_xml(document("VersioningConfiguration", []))
