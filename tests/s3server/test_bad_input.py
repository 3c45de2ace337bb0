"""Bad requests get S3's error, and write nothing."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import ServerThread, crt_sign, error_code_of, raw_request

MiB = 1024 * 1024


def signed(
    server: ServerThread,
    method: str,
    path: str,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, bytes]:
    host = f"127.0.0.1:{server.port}"
    extra = list(headers or [])
    signed_path, all_headers = crt_sign(
        method, host, path, extra, body_value=hashlib.sha256(body).hexdigest()
    )
    status, _, response = raw_request(server.port, method, signed_path, all_headers, body)
    return status, response


def md5_header(body: bytes) -> tuple[str, str]:
    return ("Content-MD5", base64.b64encode(hashlib.md5(body).digest()).decode())


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def only_bucket_marker(server: ServerThread, bucket: str) -> bool:
    return os.listdir(Path(server.root) / bucket) == ["~bucket"]


def test_content_md5_mismatch(s3: Any, bucket: str, server: ServerThread) -> None:
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"payload", ContentMD5=wrong)
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"payload", ContentMD5="not base64!")
    assert code(e) == "InvalidDigest"
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="ok", Body=b"payload", ContentMD5=right)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")
    assert os.listdir(Path(server.root) / ".s3server" / "tmp") == []


def test_checksum_mismatch(s3: Any, bucket: str, server: ServerThread) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"payload", ChecksumCRC32="AAAAAA==")
    assert code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"payload",
            ChecksumSHA256=base64.b64encode(b"0" * 32).decode(),
        )
    assert code(e) == "BadDigest"
    assert only_bucket_marker(server, bucket)


DELETE_BODIES = [
    b"<Delete><Object><Key>a</Key></Object>",  # truncated
    b"not xml at all",
    b"<Wrong><Object><Key>a</Key></Object></Wrong>",
    b"<Delete><Object><NoKey/></Object></Delete>",
    b"<Delete></Delete>",
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<Delete><Object><Key>&b;</Key></Object></Delete>",
]


@pytest.mark.parametrize("body", DELETE_BODIES)
def test_malformed_delete_objects(server: ServerThread, s3: Any, bucket: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"keep me")
    status, response = signed(server, "POST", f"/{bucket}?delete=", body, [md5_header(body)])
    assert (status, error_code_of(response)) == (400, "MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"keep me"


def test_delete_objects_needs_content_md5(server: ServerThread, bucket: str) -> None:
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    status, response = signed(server, "POST", f"/{bucket}?delete=", body)
    assert (status, error_code_of(response)) == (400, "InvalidRequest")


@pytest.fixture
def upload(s3: Any, bucket: str) -> tuple[str, list[str]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=n, Body=body)["ETag"]
        for n, body in [(1, b"1" * (5 * MiB)), (2, b"2" * 1000), (3, b"3" * 10)]
    ]
    return upload_id, etags


def _complete(s3: Any, bucket: str, upload_id: str, parts: list[tuple[int, str]]) -> Any:
    return s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
    )


def test_parts_out_of_order(s3: Any, bucket: str, upload: tuple[str, list[str]]) -> None:
    upload_id, etags = upload
    with pytest.raises(ClientError) as e:
        _complete(s3, bucket, upload_id, [(2, etags[1]), (1, etags[0])])
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        _complete(s3, bucket, upload_id, [(1, etags[0]), (1, etags[0])])
    assert code(e) == "InvalidPartOrder"


def test_part_too_small_wrong_etag_missing_part(
    s3: Any, bucket: str, upload: tuple[str, list[str]]
) -> None:
    upload_id, etags = upload
    with pytest.raises(ClientError) as e:
        _complete(s3, bucket, upload_id, [(1, etags[0]), (2, etags[1]), (3, etags[2])])
    assert code(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        _complete(s3, bucket, upload_id, [(1, '"0123456789abcdef0123456789abcdef"')])
    assert code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        _complete(s3, bucket, upload_id, [(1, etags[0]), (7, etags[1])])
    assert code(e) == "InvalidPart"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp")
    # The upload is still there and completes with a valid list.
    done = _complete(s3, bucket, upload_id, [(1, etags[0]), (3, etags[2])])
    assert done["ETag"].endswith('-2"')
    assert s3.head_object(Bucket=bucket, Key="mp")["ContentLength"] == 5 * MiB + 10


def test_malformed_complete_xml(
    server: ServerThread, bucket: str, upload: tuple[str, list[str]]
) -> None:
    upload_id, _ = upload
    for body in [
        b"<CompleteMultipartUpload><Part>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
    ]:
        status, response = signed(server, "POST", f"/{bucket}/mp?uploadId={upload_id}", body)
        assert (status, error_code_of(response)) == (400, "MalformedXML")


def test_bad_upload_ids_and_part_numbers(
    s3: Any, bucket: str, upload: tuple[str, list[str]]
) -> None:
    upload_id, _ = upload
    for bad in ["../../etc", "nonexistent", "0" * 32]:
        with pytest.raises(ClientError) as e:
            s3.upload_part(Bucket=bucket, Key="mp", UploadId=bad, PartNumber=1, Body=b"x")
        assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="other-key", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert code(e) == "NoSuchUpload"
    for number in (0, 10001):
        with pytest.raises(ClientError) as e:
            s3.upload_part(
                Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=b"x"
            )
        assert code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId="f" * 32)
    assert code(e) == "NoSuchUpload"


def test_limits_and_unknown_things(s3: Any, bucket: str, server: ServerThread) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 3000})
    assert code(e) == "MetadataTooLarge"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(e) == "NotImplemented"
    status, response = signed(server, "GET", f"/{bucket}?max-keys=abc")
    assert (status, error_code_of(response)) == (400, "InvalidArgument")
    status, response = signed(server, "GET", f"/{bucket}?list-type=2&continuation-token=%25%25%25")
    assert (status, error_code_of(response)) == (400, "InvalidArgument")
    status, response = signed(server, "POST", f"/{bucket}/k")
    assert (status, error_code_of(response)) == (405, "MethodNotAllowed")
    assert only_bucket_marker(server, bucket)


def test_key_that_is_not_utf8(server: ServerThread, bucket: str) -> None:
    status, response = signed(server, "PUT", f"/{bucket}/bad%FFkey", b"x")
    assert (status, error_code_of(response)) == (400, "InvalidArgument")
    assert only_bucket_marker(server, bucket)


def test_signed_chunks_out_of_frame(server: ServerThread, bucket: str) -> None:
    # A streaming upload whose framing is broken: S3's IncompleteBody.
    host = f"127.0.0.1:{server.port}"
    headers = [("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "5")]
    path, all_headers = crt_sign(
        "PUT", host, f"/{bucket}/framed", headers, body_value="STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    )
    for body in [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloEXTRA\r\n0\r\n\r\n", b"5\r\nhel"]:
        status, _, response = raw_request(server.port, "PUT", path, all_headers, body)
        assert (status, error_code_of(response)) == (400, "IncompleteBody"), body
    assert only_bucket_marker(server, bucket)


def test_error_before_a_large_body(server: ServerThread, s3: Any) -> None:
    # Refused at the headers (no such bucket), without Expect: 100-continue;
    # the body that follows must not wedge the connection or the server.
    body = os.urandom(8 * MiB)
    status, response = signed(server, "PUT", "/no-such-bucket/key", body)
    assert (status, error_code_of(response)) == (404, "NoSuchBucket")
    assert s3.list_buckets()["Buckets"] == []


def test_virtual_host_domains(s3root: Path) -> None:
    from s3_helpers import ServerThread as Thread

    thread = Thread(str(s3root), domains=("s3.test",)).start()
    try:
        host = "vh-bucket.s3.test"
        assert raw_request(thread.port, "PUT", "/", host=host)[0] == 200
        assert raw_request(thread.port, "PUT", "/a/b", body=b"virtual", host=host)[0] == 200
        assert raw_request(thread.port, "GET", "/a/b", host=host)[2] == b"virtual"
        # Path style still works next to it, and the two name the same object.
        assert raw_request(thread.port, "GET", "/vh-bucket/a/b")[2] == b"virtual"
        status, _, body = raw_request(thread.port, "GET", "/", host="bad_name.s3.test")
        assert (status, error_code_of(body)) == (400, "InvalidBucketName")
    finally:
        thread.stop()


def test_bad_copy_source_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    for value, expected in [
        ("bytes=5-", "InvalidArgument"),
        ("bytes=-3", "InvalidArgument"),
        ("items=0-3", "InvalidArgument"),
        ("bytes=0-10", "InvalidRange"),
        ("bytes=4-2", "InvalidRange"),
    ]:
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(
                Bucket=bucket,
                Key="dst",
                UploadId=upload,
                PartNumber=1,
                CopySource={"Bucket": bucket, "Key": "src"},
                CopySourceRange=value,
            )
        assert code(e) == expected, value
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload).get("Parts", []) == []
