"""Keys can never reach outside their bucket; writes are whole or absent."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_helpers import ServerThread, crt_sign, error_code_of, raw_request


def _files_outside(root: Path, top: Path) -> list[Path]:
    """Every file under ``top`` that is not under ``root``."""
    return [p for p in top.rglob("*") if p.is_file() and root not in p.parents]


TRAVERSAL_PATHS = [
    "/test-bucket/../escaped",
    "/test-bucket/../../escaped",
    "/test-bucket/%2e%2e/%2e%2e/escaped",
    "/test-bucket/..%2F..%2Fescaped",
    "/test-bucket/..%5C..%5Cescaped",
    "/test-bucket/a\\..\\..\\escaped",
    "/test-bucket//etc/escaped",
    "/test-bucket/%2Fetc%2Fescaped",
    "/test-bucket/./../escaped",
    "/test-bucket/%00escaped",
]


@pytest.mark.parametrize("path", TRAVERSAL_PATHS)
def test_traversal_never_escapes(
    server: ServerThread, s3: Any, bucket: str, tmp_path: Path, path: str
) -> None:
    host = f"127.0.0.1:{server.port}"
    body = b"traversal attempt"
    payload = hashlib.sha256(body).hexdigest()
    signed_path, headers = crt_sign("PUT", host, path, [], body_value=payload)
    status, _, response = raw_request(server.port, "PUT", signed_path, headers, body)
    root = Path(server.root)
    assert _files_outside(root, tmp_path) == []
    if status == 200:
        # Whatever name the key had, it is an object of this bucket.
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert len(keys) == 1
        assert s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == body
        assert all(
            root / bucket in p.parents
            for p in root.rglob("*")
            if p.is_file() and ".s3server" not in p.parts and p.name != "~bucket"
        )
    else:
        assert status in (400, 403, 404), response
        assert error_code_of(response) in (
            "InvalidArgument",
            "InvalidBucketName",
            "SignatureDoesNotMatch",
            "NoSuchBucket",
        )


def test_dot_segments_are_plain_names(s3: Any, bucket: str, server: ServerThread) -> None:
    for key in ["../x", "a/../../y", "..", "./z", "a\\..\\b"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    root = Path(server.root)
    names = {p.name for p in root.iterdir()}
    assert names == {".s3server", bucket}


def test_symlinks_are_not_followed(
    s3: Any, bucket: str, server: ServerThread, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # An object file planted outside, reachable only through links.
    s3.put_object(Bucket=bucket, Key="real", Body=b"secret outside")
    bucket_dir = Path(server.root) / bucket
    (outside / "stolen").write_bytes((bucket_dir / "real").read_bytes())
    s3.delete_object(Bucket=bucket, Key="real")
    (bucket_dir / "link").symlink_to(outside / "stolen")
    (bucket_dir / "dir~").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="link")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/stolen")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="dir/new", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert sorted(p.name for p in outside.iterdir()) == ["stolen"]
    s3.delete_object(Bucket=bucket, Key="dir/stolen")
    assert (outside / "stolen").exists()
    # A bucket directory that is itself a link is no bucket.
    (outside / "~bucket").write_bytes(b"")
    (Path(server.root) / "linked-bucket").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="linked-bucket", Key="k", Body=b"x")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    assert "linked-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_concurrent_writers_leave_one_whole_object(
    s3: Any, bucket: str, make_client: Any, server: ServerThread
) -> None:
    size = 2 * 1024 * 1024
    bodies = [bytes([n]) * size for n in range(6)]
    errors: list[BaseException] = []
    reads: list[bytes] = []

    def write(body: bytes) -> None:
        try:
            client = make_client(server.url)
            for _ in range(3):
                client.put_object(Bucket=bucket, Key="contended", Body=body)
        except BaseException as e:  # reported below
            errors.append(e)

    def read() -> None:
        client = make_client(server.url)
        for _ in range(10):
            try:
                reads.append(client.get_object(Bucket=bucket, Key="contended")["Body"].read())
            except ClientError:
                pass  # not written yet

    threads = [threading.Thread(target=write, args=(b,)) for b in bodies]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    got = s3.get_object(Bucket=bucket, Key="contended")
    data = got["Body"].read()
    assert data in bodies
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert all(r in bodies for r in reads)
    assert os.listdir(Path(server.root) / ".s3server" / "tmp") == []


def test_interrupted_upload_leaves_nothing(s3root: Path) -> None:
    thread = ServerThread(str(s3root)).start()  # anonymous: raw bytes suffice
    try:
        status, _, _ = raw_request(thread.port, "PUT", "/crash-bucket")
        assert status == 200
        with socket.create_connection(("127.0.0.1", thread.port)) as sock:
            sock.sendall(
                b"PUT /crash-bucket/partial HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 1048576\r\n\r\n" + b"p" * 300_000
            )
            deadline = time.monotonic() + 10
            tmp = s3root / ".s3server" / "tmp"
            while not os.listdir(tmp) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert os.listdir(tmp), "the upload should be in progress"
        deadline = time.monotonic() + 10
        while os.listdir(tmp) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.listdir(tmp) == []
        status, _, body = raw_request(thread.port, "GET", "/crash-bucket/partial")
        assert (status, error_code_of(body)) == (404, "NoSuchKey")
    finally:
        thread.stop()
