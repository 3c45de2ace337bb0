"""Every operation the server offers, driven by boto3 over 127.0.0.1."""

from __future__ import annotations

import base64
import datetime
import hashlib
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def status(excinfo: pytest.ExceptionInfo[ClientError]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


# -- buckets -------------------------------------------------------------------------


def test_bucket_lifecycle(s3: Any) -> None:
    assert s3.list_buckets()["Buckets"] == []
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["alpha", "beta"]
    s3.head_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="alpha")
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    assert status(e) == 409
    s3.put_object(Bucket="alpha", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="alpha")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="alpha")
    assert error_code(e) == "NoSuchBucket"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta"]


@pytest.mark.parametrize(
    "name", ["ab", "UPPER", "-dash", "dash-", "two..dots", "192.168.1.1", "a" * 64, "under_score"]
)
def test_bucket_names_validated(s3: Any, name: str, s3root: Any) -> None:
    from botocore.exceptions import ParamValidationError

    try:
        s3.create_bucket(Bucket=name)
    except ParamValidationError:
        pytest.skip("boto3 refuses this name itself")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidBucketName"
    else:
        pytest.fail(f"{name!r} was accepted")
    assert sorted(p.name for p in s3root.iterdir()) == [".s3server"]


# -- objects -------------------------------------------------------------------------


def test_put_get_head_delete(s3: Any, bucket: str) -> None:
    body = b"hello, object"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.txt",
        Body=body,
        ContentType="text/plain",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="f.txt"',
        CacheControl="max-age=60",
        Metadata={"colour": "blue", "Mixed-Case": "Value"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["ContentEncoding"] == "identity"
    assert got["ContentDisposition"] == 'attachment; filename="f.txt"'
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"colour": "blue", "mixed-case": "Value"}
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/file.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]
    s3.delete_object(Bucket=bucket, Key="dir/file.txt")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert error_code(e) == "NoSuchKey"
    assert e.value.response["Error"]["Key"] == "dir/file.txt"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/file.txt")
    assert status(e) == 404
    # Deleting what is not there succeeds, as in S3.
    s3.delete_object(Bucket=bucket, Key="dir/file.txt")


def test_default_content_type_and_empty_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'


def test_overwrite_replaces_whole_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first version, long", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}


def test_keys_a_and_a_slash_b_coexist(s3: Any, bucket: str) -> None:
    keys = ["a", "a/b", "a/b/c", "a/", "a//b", "/leading", "trailing/", "dots/../x", "."]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys)
    s3.delete_object(Bucket=bucket, Key="a/b")
    assert s3.get_object(Bucket=bucket, Key="a/b/c")["Body"].read() == b"a/b/c"
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a"


def test_unicode_and_special_keys(s3: Any, bucket: str) -> None:
    keys = [
        "spaces in name",
        "plus+sign",
        "percent%2F",
        "ünïcødé/日本",
        "tilde~",
        "q?&=#",
        "back\\slash",
    ]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


# -- ranges and conditions -----------------------------------------------------------


def test_ranged_get(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {
        "bytes=0-9": (data[0:10], "bytes 0-9/1024"),
        "bytes=1000-": (data[1000:], "bytes 1000-1023/1024"),
        "bytes=-24": (data[-24:], "bytes 1000-1023/1024"),
        "bytes=1000-5000": (data[1000:], "bytes 1000-1023/1024"),
    }
    for header, (expected, content_range) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == expected
        assert got["ContentRange"] == content_range
        assert got["ContentLength"] == len(expected)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=1024-")
    assert error_code(e) == "InvalidRange"
    assert status(e) == 416
    assert e.value.response["Error"]["ActualObjectSize"] == "1024"
    # A header S3 cannot use is ignored: the whole object, 200.
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=5-2")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == data


def test_large_get_and_range(s3: Any, bucket: str) -> None:
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB: goes through sendfile
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={MiB}-{3 * MiB - 1}")
    assert got["Body"].read() == data[MiB : 3 * MiB]


def test_conditional_get_and_head(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    before = modified - datetime.timedelta(hours=1)
    after = modified + datetime.timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"other"')["Body"].read()
    # Every body is read: an unread one would leave its socket to the GC.
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=before)["Body"].read()
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=after)["Body"].read()
    for kwargs, code in [
        ({"IfMatch": '"other"'}, 412),
        ({"IfUnmodifiedSince": before}, 412),
        ({"IfNoneMatch": etag}, 304),
        ({"IfModifiedSince": after}, 304),
    ]:
        for method in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as e:
                method(Bucket=bucket, Key="c", **kwargs)
            assert status(e) == code, (kwargs, method)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"other"')
    assert error_code(e) == "PreconditionFailed"
    # If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=before)[
        "Body"
    ].read()
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag, IfModifiedSince=before)
    assert status(e) == 304


def test_response_header_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-cache",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"
    assert got["Body"].read() == b"x"


# -- copy ----------------------------------------------------------------------------


def test_copy_object_with_metadata_directive(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket="other-bucket")
    s3.put_object(
        Bucket=bucket, Key="src key", Body=b"copy me", ContentType="text/x-src", Metadata={"a": "1"}
    )
    result = s3.copy_object(
        Bucket="other-bucket", Key="dst", CopySource={"Bucket": bucket, "Key": "src key"}
    )
    assert result["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    got = s3.get_object(Bucket="other-bucket", Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/x-src"
    assert got["Metadata"] == {"a": "1"}
    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource=f"{bucket}/src key",
        MetadataDirective="REPLACE",
        ContentType="text/x-new",
        Metadata={"b": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="replaced")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/x-new"
    assert got["Metadata"] == {"b": "2"}
    # Copying onto itself needs REPLACE.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src key", CopySource=f"{bucket}/src key")
    assert error_code(e) == "InvalidRequest"
    s3.copy_object(
        Bucket=bucket,
        Key="src key",
        CopySource=f"{bucket}/src key",
        MetadataDirective="REPLACE",
        Metadata={"c": "3"},
    )
    assert s3.head_object(Bucket=bucket, Key="src key")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource=f"{bucket}/src key", CopySourceIfMatch='"nope"'
        )
    assert error_code(e) == "PreconditionFailed"


# -- batch delete --------------------------------------------------------------------


def test_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("one", "two", "three"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "one"}, {"Key": "two"}, {"Key": "never"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["never", "one", "two"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["three"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "three"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# -- listings ------------------------------------------------------------------------

LISTING_KEYS = [
    "photos/2023/a.jpg",
    "photos/2023/b.jpg",
    "photos/2024/c.jpg",
    "photos/index.html",
    "readme.txt",
    "videos/v.mp4",
    "z+plus sign",
]


@pytest.fixture
def listing_bucket(s3: Any, bucket: str) -> str:
    for key in LISTING_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_list_v2_prefix_delimiter(s3: Any, listing_bucket: str) -> None:
    r = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["readme.txt", "z+plus sign"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/", "videos/"]
    assert r["KeyCount"] == 4
    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="photos/", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["photos/index.html"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2023/", "photos/2024/"]
    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="photos/20")
    assert [c["Key"] for c in r["Contents"]] == LISTING_KEYS[:3]
    assert r["Contents"][0]["Size"] == len(LISTING_KEYS[0])
    assert r["Contents"][0]["ETag"] == f'"{hashlib.md5(LISTING_KEYS[0].encode()).hexdigest()}"'
    r = s3.list_objects_v2(Bucket=listing_bucket, StartAfter="photos/index.html")
    assert [c["Key"] for c in r["Contents"]] == LISTING_KEYS[4:]
    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="nothing")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_list_v2_pages(s3: Any, listing_bucket: str) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {
        "Bucket": listing_bucket,
        "MaxKeys": 2,
        "Delimiter": "/",
        "Prefix": "",
    }
    while True:
        r = s3.list_objects_v2(**kwargs)
        assert r["KeyCount"] <= 2
        seen += [c["Key"] for c in r.get("Contents", [])]
        seen += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = r["NextContinuationToken"]
    assert sorted(seen) == ["photos/", "readme.txt", "videos/", "z+plus sign"]
    paginator = s3.get_paginator("list_objects_v2")
    keys = [
        c["Key"]
        for page in paginator.paginate(Bucket=listing_bucket, PaginationConfig={"PageSize": 3})
        for c in page["Contents"]
    ]
    assert keys == LISTING_KEYS


def test_list_v1_markers(s3: Any, listing_bucket: str) -> None:
    r = s3.list_objects(Bucket=listing_bucket, MaxKeys=3)
    assert [c["Key"] for c in r["Contents"]] == LISTING_KEYS[:3]
    assert r["IsTruncated"] is True
    r = s3.list_objects(Bucket=listing_bucket, Marker=LISTING_KEYS[2])
    assert [c["Key"] for c in r["Contents"]] == LISTING_KEYS[3:]
    assert r["IsTruncated"] is False
    r = s3.list_objects(Bucket=listing_bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/"]
    assert r["NextMarker"] == "photos/"
    r = s3.list_objects(Bucket=listing_bucket, Delimiter="/", Marker="photos/")
    assert [c["Key"] for c in r["Contents"]] == ["readme.txt", "z+plus sign"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["videos/"]
    paginator = s3.get_paginator("list_objects")
    keys = [
        c["Key"]
        for page in paginator.paginate(Bucket=listing_bucket, PaginationConfig={"PageSize": 2})
        for c in page["Contents"]
    ]
    assert keys == LISTING_KEYS


def test_list_encoding_type_url_raw(s3: Any, listing_bucket: str, server: Any) -> None:
    # boto3 asks for encoding-type=url and decodes; check the wire form too.
    import urllib.request

    from s3_helpers import ServerThread  # noqa: F401

    url = s3.generate_presigned_url(
        "list_objects_v2", Params={"Bucket": listing_bucket, "Prefix": "z", "EncodingType": "url"}
    )
    with urllib.request.urlopen(url) as response:
        text = response.read().decode()
    assert "<Key>z%2Bplus%20sign</Key>" in text
    assert "<EncodingType>url</EncodingType>" in text


# -- multipart -----------------------------------------------------------------------


def test_multipart_upload(s3: Any, bucket: str) -> None:
    parts_data = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"tail"]
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="video/mp4", Metadata={"m": "1"}
    )
    upload_id = upload["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [u["UploadId"] for u in listed["Uploads"]] == [upload_id]
    etags = []
    for number, data in enumerate(parts_data, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=data
        )
        assert r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append(r["ETag"])
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (i + 1, etags[i], len(d)) for i, d in enumerate(parts_data)
    ]
    page = s3.list_parts(
        Bucket=bucket, Key="mp", UploadId=upload_id, MaxParts=1, PartNumberMarker=1
    )
    assert [p["PartNumber"] for p in page["Parts"]] == [2]
    assert page["IsTruncated"] is True
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    digest = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest()
    assert done["ETag"] == f'"{digest}-3"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ETag"] == done["ETag"]
    assert got["ContentType"] == "video/mp4"
    assert got["Metadata"] == {"m": "1"}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_code(e) == "NoSuchUpload"


def test_upload_part_copy_and_abort(s3: Any, bucket: str) -> None:
    source = bytes(range(256)) * (24 * 1024)  # 6 MiB
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange="bytes=10-19",
    )["CopyPartResult"]["ETag"]
    assert second == f'"{hashlib.md5(source[10:20]).hexdigest()}"'
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source + source[10:20]
    with pytest.raises(ClientError) as e:
        upload = s3.create_multipart_upload(Bucket=bucket, Key="r")["UploadId"]
        s3.upload_part_copy(
            Bucket=bucket,
            Key="r",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "source"},
            CopySourceRange=f"bytes=0-{len(source)}",
        )
    assert error_code(e) == "InvalidRange"
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=aborted)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="aborted", UploadId=aborted, PartNumber=2, Body=b"y")
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="aborted")
    assert status(e) == 404


def test_upload_file_and_download_file(s3: Any, bucket: str, tmp_path: Any) -> None:
    # s3transfer: multipart with threads, checksums as boto3 sends them.
    from boto3.s3.transfer import TransferConfig

    data = bytes(range(256)) * (48 * 1024)  # 12 MiB: three parts of 5 MiB
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), bucket, "transfer.bin", Config=config)
    assert s3.head_object(Bucket=bucket, Key="transfer.bin")["ETag"].endswith('-3"')
    target = tmp_path / "download.bin"
    s3.download_file(bucket, "transfer.bin", str(target), Config=config)
    assert target.read_bytes() == data


# -- checksums -----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_accepted_and_returned(s3: Any, bucket: str, algorithm: str) -> None:
    body = b"checksummed body" * 100
    r = s3.put_object(Bucket=bucket, Key="sum", Body=body, ChecksumAlgorithm=algorithm)
    value = r[f"Checksum{algorithm}"]
    if algorithm == "CRC32":
        assert value == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    if algorithm == "SHA256":
        assert value == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value
    assert got["Body"].read() == body  # botocore validates the checksum as it reads


def test_virtual_host_style_through_proxy_form(server: Any, make_client: Any) -> None:
    # Virtual-host addressing without DNS: boto3 sends absolute-form targets
    # ("PUT http://bucket.localhost:port/key") to a proxy, which is us.
    url = f"http://localhost:{server.port}"
    s3 = make_client(url, addressing_style="virtual", proxies={"http": server.url})
    s3.create_bucket(Bucket="vhost-bucket")
    s3.put_object(Bucket="vhost-bucket", Key="dir/k", Body=b"virtual")
    assert s3.get_object(Bucket="vhost-bucket", Key="dir/k")["Body"].read() == b"virtual"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="vhost-bucket")["Contents"]] == ["dir/k"]
    path_style = make_client(server.url)
    assert path_style.get_object(Bucket="vhost-bucket", Key="dir/k")["Body"].read() == b"virtual"
    s3.delete_object(Bucket="vhost-bucket", Key="dir/k")
    s3.delete_bucket(Bucket="vhost-bucket")


def test_start_and_stale_temporaries(tmp_path: Any) -> None:
    # The 1.x entry point, in a subprocess since it runs the loop forever.
    import os
    import time
    import urllib.request

    from s3_helpers import ServerProcess

    root = tmp_path / "root"
    (root / ".s3server" / "tmp").mkdir(parents=True)
    stale = root / ".s3server" / "tmp" / "upload-crashed"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    fresh = root / ".s3server" / "tmp" / "upload-live"
    fresh.write_bytes(b"in progress")
    server = ServerProcess(
        str(root), code=f"from squall.s3server import start; start({{port}}, {str(root)!r})"
    )
    port = server.port
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/started", method="PUT")
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert b"<Name>started</Name>" in response.read()
    finally:
        server.stop()
    assert not stale.exists()
    assert fresh.exists()


def test_conditional_writes(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert (status(e), error_code(e)) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfMatch='"0000"')
    assert error_code(e) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"second"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first)
    assert error_code(e) == "NoSuchKey"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="once")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="once", UploadId=upload, PartNumber=1, Body=b"p")[
        "ETag"
    ]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="once",
            UploadId=upload,
            IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"second"


def test_anonymous_server_decodes_signed_chunks(s3root: Any) -> None:
    # Without credentials nothing is verified, but aws-chunked framing is
    # still undone: the stored object is the payload, not the frames.
    from s3_helpers import ServerThread, raw_request

    thread = ServerThread(str(s3root)).start()
    try:
        assert raw_request(thread.port, "PUT", "/anon")[0] == 200
        body = (
            b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n"
            b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
        )
        headers = [
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
        ]
        assert raw_request(thread.port, "PUT", "/anon/k", headers, body)[0] == 200
        assert raw_request(thread.port, "GET", "/anon/k")[2] == b"hello"
        bad_hash = [("x-amz-content-sha256", "0" * 64)]
        status_code, _, response = raw_request(thread.port, "PUT", "/anon/h", bad_hash, b"x")
        assert status_code == 400 and b"XAmzContentSHA256Mismatch" in response
    finally:
        thread.stop()


def test_location_versioning_and_bucket_deletion_with_uploads(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.create_multipart_upload(Bucket=bucket, Key="unfinished")
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.get_bucket_location(Bucket="missing-bucket")
    assert error_code(e) == "NoSuchBucket"
