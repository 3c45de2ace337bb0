"""The same requests against squall.s3server and moto's server mode.

moto is the reference implementation Python projects already test with;
where both answer, statuses, error codes and the fields boto3 parses from
the XML and headers must agree. Values that differ by nature (times,
upload ids, request ids, owners) are compared by presence only.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import ServerThread, client

pytest.importorskip("moto")

MiB = 1024 * 1024
# Fields whose values legitimately differ between two servers: compared
# by presence only.
# Never compared: moto adds a VersionId to unversioned buckets' answers.
IGNORED = {"ResponseMetadata", "VersionId"}
# Steps where moto departs from S3's documented behaviour: our answer is
# checked against the documentation instead.
# Steps where moto departs from S3's documented behaviour: our answer must
# hold these fields instead (each from the S3 API reference).
MOTO_DEVIATIONS: dict[str, dict[str, Any]] = {
    # moto does not check Content-MD5 in server mode; S3 answers BadDigest.
    "bad md5": {"status": 400, "error": "BadDigest"},
    # moto fails with a 500 on a part for a completed upload; S3: NoSuchUpload.
    "upload to missing": {"status": 404, "error": "NoSuchUpload"},
    # moto completes parts listed out of order; S3: InvalidPartOrder.
    "complete out of order": {"status": 400, "error": "InvalidPartOrder"},
    # moto ignores the marker and max-keys when a delimiter is given.
    "list v1 marker": {
        "status": 200,
        "IsTruncated": True,
        "NextMarker": "dir/",
        "CommonPrefixes": [{"Prefix": "c/"}, {"Prefix": "dir/"}],
    },
}
# moto leaves ChecksumAlgorithm out of v1 listings (it has it in v2's);
# S3's ListObjects returns it in both.
V1_LISTINGS = ("list v1", "list v1 delimiter")
VOLATILE = {
    "LastModified",
    "CreationDate",
    "Initiated",
    "UploadId",
    "RequestId",
    "HostId",
    "Owner",
    "Initiator",
    "Location",
    "NextContinuationToken",
    "ContinuationToken",
    "Date",
    "ResponseMetadata",
    "Expiration",
    "ServerSideEncryption",
    "VersionId",
    "NextUploadIdMarker",
    "BucketArn",
    "BucketRegion",
}


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true"),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.skip("moto server did not start")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(20)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        # An empty element and an absent one parse alike for callers
        # (S3 sends <Prefix></Prefix>, moto leaves it out).
        return {
            k: ("<present>" if k in VOLATILE else normalise(v))
            for k, v in value.items()
            if k not in IGNORED
            and v != ""
            and (not k.startswith("Checksum") or k == "ChecksumAlgorithm")
        }
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if hasattr(value, "read"):
        return value.read()
    return value


def outcome(call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except ClientError as e:
        return {
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            "error": e.response["Error"].get("Code"),
        }
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return {"status": status, **normalise(response)}


def status_only(call: Callable[[], Any]) -> Callable[[], Any]:
    def wrapped() -> Any:
        return {"ResponseMetadata": call()["ResponseMetadata"]}

    return wrapped


def scenario(s3: Any) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(name, call) steps; each runs once against each server."""
    b = "diff-bucket"
    yield "create bucket", lambda: s3.create_bucket(Bucket=b)
    yield "head bucket", lambda: s3.head_bucket(Bucket=b)
    yield "head missing bucket", lambda: s3.head_bucket(Bucket="missing-bucket")
    yield "list missing bucket", lambda: s3.list_objects_v2(Bucket="missing-bucket")
    yield (
        "put to missing bucket",
        lambda: s3.put_object(Bucket="missing-bucket", Key="k", Body=b"x"),
    )
    yield (
        "put",
        lambda: s3.put_object(
            Bucket=b,
            Key="dir/k1",
            Body=b"0123456789",
            ContentType="text/plain",
            Metadata={"colour": "blue"},
            CacheControl="no-store",
        ),
    )
    yield "get", lambda: s3.get_object(Bucket=b, Key="dir/k1")
    yield "head", lambda: s3.head_object(Bucket=b, Key="dir/k1")
    yield "range", lambda: s3.get_object(Bucket=b, Key="dir/k1", Range="bytes=2-5")
    yield "suffix range", lambda: s3.get_object(Bucket=b, Key="dir/k1", Range="bytes=-3")
    yield "open range", lambda: s3.get_object(Bucket=b, Key="dir/k1", Range="bytes=7-")
    yield "range past end", lambda: s3.get_object(Bucket=b, Key="dir/k1", Range="bytes=10-20")
    yield "get missing", lambda: s3.get_object(Bucket=b, Key="nope")
    yield "head missing", lambda: s3.head_object(Bucket=b, Key="nope")
    etag = '"' + hashlib.md5(b"0123456789").hexdigest() + '"'
    yield "if-none-match", lambda: s3.get_object(Bucket=b, Key="dir/k1", IfNoneMatch=etag)
    yield "if-match", lambda: s3.get_object(Bucket=b, Key="dir/k1", IfMatch=etag)
    yield "if-match fails", lambda: s3.get_object(Bucket=b, Key="dir/k1", IfMatch='"x"')
    yield "head if-match fails", lambda: s3.head_object(Bucket=b, Key="dir/k1", IfMatch='"x"')
    for key in ["a", "a/b", "a/c/d", "b", "c/x", "c/y", "plus+key", "space key"]:
        yield f"put {key}", lambda key=key: s3.put_object(Bucket=b, Key=key, Body=key.encode())
    yield "list v2", lambda: s3.list_objects_v2(Bucket=b)
    yield "list v2 delimiter", lambda: s3.list_objects_v2(Bucket=b, Delimiter="/")
    yield "list v2 prefix", lambda: s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
    yield "list v2 page", lambda: s3.list_objects_v2(Bucket=b, MaxKeys=3)
    yield "list v2 start-after", lambda: s3.list_objects_v2(Bucket=b, StartAfter="c/x")
    yield "list v2 max-keys 0", lambda: s3.list_objects_v2(Bucket=b, MaxKeys=0, Delimiter="/")
    yield "list v1 max-keys 0", lambda: s3.list_objects(Bucket=b, MaxKeys=0)
    yield "list v2 page in prefix", lambda: s3.list_objects_v2(Bucket=b, Delimiter="/", MaxKeys=2)
    yield "list v2 nothing", lambda: s3.list_objects_v2(Bucket=b, Prefix="zz", Delimiter="/")
    yield "list v1", lambda: s3.list_objects(Bucket=b)
    yield "list v1 delimiter", lambda: s3.list_objects(Bucket=b, Delimiter="/")
    yield "list v1 marker", lambda: s3.list_objects(Bucket=b, Marker="b", MaxKeys=2, Delimiter="/")
    yield "copy", lambda: s3.copy_object(Bucket=b, Key="copy", CopySource=f"{b}/dir/k1")
    yield "get copy", lambda: s3.get_object(Bucket=b, Key="copy")
    yield (
        "copy replace",
        lambda: s3.copy_object(
            Bucket=b,
            Key="copy2",
            CopySource=f"{b}/dir/k1",
            MetadataDirective="REPLACE",
            Metadata={"new": "1"},
            ContentType="text/x-new",
        ),
    )
    yield "get copy replace", lambda: s3.get_object(Bucket=b, Key="copy2")
    yield "copy missing", lambda: s3.copy_object(Bucket=b, Key="x", CopySource=f"{b}/nope")
    yield (
        "delete objects",
        lambda: s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "copy"}]}),
    )
    yield "delete", lambda: s3.delete_object(Bucket=b, Key="b")
    yield "delete missing", lambda: s3.delete_object(Bucket=b, Key="never-was")
    yield "delete non-empty bucket", lambda: s3.delete_bucket(Bucket=b)
    yield (
        "bad md5",
        lambda: s3.put_object(
            Bucket=b, Key="md5", Body=b"x", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="
        ),
    )
    # Multipart.
    state: dict[str, Any] = {}

    def create() -> Any:
        r = s3.create_multipart_upload(Bucket=b, Key="mp", ContentType="video/x")
        state["id"] = r["UploadId"]
        return r

    def part(n: int, body: bytes) -> Callable[[], Any]:
        def call() -> Any:
            r = s3.upload_part(Bucket=b, Key="mp", UploadId=state["id"], PartNumber=n, Body=body)
            state[n] = r["ETag"]
            return r

        return call

    def complete(numbers: list[int]) -> Callable[[], Any]:
        return lambda: s3.complete_multipart_upload(
            Bucket=b,
            Key="mp",
            UploadId=state["id"],
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": state[n]} for n in numbers]},
        )

    yield "create upload", create
    yield "part 1", part(1, b"1" * (5 * MiB))
    yield "part 2", part(2, b"2" * 100)
    yield "part 3", part(3, b"3" * 100)
    yield "list parts", lambda: s3.list_parts(Bucket=b, Key="mp", UploadId=state["id"])
    yield "list uploads", lambda: s3.list_multipart_uploads(Bucket=b)

    def out_of_order() -> Any:
        # Its own upload: moto would complete it, and the main one goes on.
        upload = s3.create_multipart_upload(Bucket=b, Key="mp2")["UploadId"]
        etags = [
            s3.upload_part(
                Bucket=b, Key="mp2", UploadId=upload, PartNumber=n, Body=b"x" * (5 * MiB)
            )["ETag"]
            for n in (1, 2)
        ]
        try:
            return s3.complete_multipart_upload(
                Bucket=b,
                Key="mp2",
                UploadId=upload,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": 2, "ETag": etags[1]},
                        {"PartNumber": 1, "ETag": etags[0]},
                    ]
                },
            )
        finally:
            try:
                s3.abort_multipart_upload(Bucket=b, Key="mp2", UploadId=upload)
            except ClientError:
                s3.delete_object(Bucket=b, Key="mp2")

    yield "complete out of order", out_of_order
    yield "complete too small", complete([1, 2, 3])
    yield "complete", complete([1, 3])
    yield "get completed", lambda: s3.head_object(Bucket=b, Key="mp")
    yield "list parts after", lambda: s3.list_parts(Bucket=b, Key="mp", UploadId=state["id"])
    yield (
        "abort missing",
        lambda: s3.abort_multipart_upload(Bucket=b, Key="mp", UploadId=state["id"]),
    )
    yield (
        "upload to missing",
        lambda: s3.upload_part(Bucket=b, Key="mp", UploadId=state["id"], PartNumber=1, Body=b"x"),
    )

    def empty_bucket() -> Any:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
        return s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in keys]})

    yield (
        "bad md5",
        lambda: s3.put_object(
            Bucket=b, Key="md5", Body=b"x", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="
        ),
    )
    yield "empty bucket", status_only(empty_bucket)
    yield "delete bucket", lambda: s3.delete_bucket(Bucket=b)
    yield "list buckets", lambda: s3.list_buckets()


def run(url: str) -> list[tuple[str, Any]]:
    s3 = client(url)
    try:
        return [(name, outcome(call)) for name, call in scenario(s3)]
    finally:
        s3.close()


@pytest.mark.timeout(180)
def test_same_answers_as_moto(moto_url: str, s3root: Path) -> None:
    thread = ServerThread(str(s3root))
    thread.start()
    try:
        ours = run(thread.url)
    finally:
        thread.stop()
    theirs = run(moto_url)
    differences = []
    for (name, mine), (_, reference) in zip(ours, theirs, strict=True):
        if name in MOTO_DEVIATIONS:
            expected = MOTO_DEVIATIONS[name]
            if {k: mine.get(k) for k in expected} != expected:
                differences.append((name, mine, expected))
            continue
        if name in V1_LISTINGS:
            for entry in mine.get("Contents", []):
                assert entry.pop("ChecksumAlgorithm") == ["CRC32"]
        if mine != reference:
            differences.append((name, mine, reference))
    assert differences == []
    assert len(ours) > 60  # the whole scenario ran
