"""Signature Version 4: headers, presigned URLs, streaming chunk signatures."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import ssl
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from s3_helpers import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    ServerThread,
    crt_sign,
    error_code_of,
    raw_request,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def test_wrong_secret_is_refused(server: ServerThread, make_client: Any, bucket: str) -> None:
    import boto3
    from botocore.config import Config

    bad = boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="not-the-secret",
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    try:
        with pytest.raises(ClientError) as e:
            bad.put_object(Bucket=bucket, Key="k", Body=b"x")
        assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(ClientError) as e:
            bad.list_objects_v2(Bucket=bucket)
        assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    finally:
        bad.close()
    assert not list(os.scandir(os.path.join(server.root, bucket, "")))[1:]


def test_unknown_key_and_anonymous(server: ServerThread, bucket: str) -> None:
    import boto3
    from botocore.config import Config

    unknown = boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id="AKIAUNKNOWN",
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )
    anonymous = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    try:
        with pytest.raises(ClientError) as e:
            unknown.list_buckets()
        assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        with pytest.raises(ClientError) as e:
            anonymous.list_objects_v2(Bucket=bucket)
        assert e.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        unknown.close()
        anonymous.close()


def test_anonymous_server_needs_no_signature(s3root: Any) -> None:
    import boto3
    from botocore.config import Config

    thread = ServerThread(str(s3root)).start()
    anonymous = boto3.client(
        "s3",
        endpoint_url=thread.url,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    try:
        anonymous.create_bucket(Bucket="open")
        anonymous.put_object(Bucket="open", Key="k", Body=b"anyone")
        assert anonymous.get_object(Bucket="open", Key="k")["Body"].read() == b"anyone"
    finally:
        anonymous.close()
        thread.stop()


def test_header_signature_by_awscrt(server: ServerThread, bucket: str) -> None:
    host = f"127.0.0.1:{server.port}"
    path, headers = crt_sign("GET", host, f"/{bucket}?list-type=2&prefix=a%20b", [])
    status, _, body = raw_request(server.port, "GET", path, headers)
    assert status == 200, body
    # The same signature on another query is refused.
    status, _, body = raw_request(
        server.port, "GET", f"/{bucket}?list-type=2&prefix=other", headers
    )
    assert (status, error_code_of(body)) == (403, "SignatureDoesNotMatch")


def test_clock_skew(server: ServerThread, bucket: str) -> None:
    host = f"127.0.0.1:{server.port}"
    now = datetime.datetime.now(datetime.timezone.utc)
    path, headers = crt_sign(
        "GET", host, f"/{bucket}", [], when=now - datetime.timedelta(minutes=14)
    )
    assert raw_request(server.port, "GET", path, headers)[0] == 200
    for offset in (-16, 16):
        path, headers = crt_sign(
            "GET", host, f"/{bucket}", [], when=now + datetime.timedelta(minutes=offset)
        )
        status, _, body = raw_request(server.port, "GET", path, headers)
        assert (status, error_code_of(body)) == (403, "RequestTimeTooSkewed")


def test_presigned_get_and_put(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre/signed"}, ExpiresIn=300
    )
    request = urllib.request.Request(put_url, data=b"presigned body", method="PUT")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "pre/signed"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url) as response:
        assert response.read() == b"presigned body"
    # Pointing the URL at another key breaks the signature.
    tampered = get_url.replace("pre/signed", "pre/other")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403
    assert error_code_of(e.value.read()) == "SignatureDoesNotMatch"
    e.value.close()


def test_presigned_expired(server: ServerThread, bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    host = f"127.0.0.1:{server.port}"
    signed_at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=120)
    path, headers = crt_sign("GET", host, f"/{bucket}/k", [], when=signed_at, presign_expires=60)
    status, _, body = raw_request(server.port, "GET", path, headers)
    assert (status, error_code_of(body)) == (403, "AccessDenied")
    assert b"Request has expired" in body
    path, headers = crt_sign("GET", host, f"/{bucket}/k", [], when=signed_at, presign_expires=600)
    status, _, body = raw_request(server.port, "GET", path, headers)
    assert (status, body) == (200, b"x")
    # More than 7 days is never valid.
    path, headers = crt_sign("GET", host, f"/{bucket}/k", [], presign_expires=604801)
    status, _, body = raw_request(server.port, "GET", path, headers)
    assert (status, error_code_of(body)) == (400, "AuthorizationQueryParametersError")


# -- aws-chunked with chunk signatures ------------------------------------------------


def _signing_key(date: str) -> bytes:
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _chunked_body(
    chunks: list[bytes], seed: str, amz_date: str, trailer: bytes | None = None, corrupt: int = -1
) -> bytes:
    """aws-chunked framing as the S3 documentation describes it."""
    key = _signing_key(amz_date[:8])
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    previous = seed
    out = b""
    for index, chunk in enumerate([*chunks, b""]):
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                previous,
                EMPTY_SHA256,
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        sent = chunk if index != corrupt else b"X" + chunk[1:]
        out += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + sent
        out += b"\r\n" if chunk else b""
    if trailer is not None:
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                amz_date,
                scope,
                previous,
                hashlib.sha256(trailer).hexdigest(),
            ]
        )
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        out += trailer.replace(b"\n", b"\r\n") + f"x-amz-trailer-signature:{signature}\r\n".encode()
    return out + b"\r\n"


def _streaming_put(
    server: ServerThread,
    path: str,
    chunks: list[bytes],
    trailer_checksum: str | None = None,
    corrupt: int = -1,
) -> tuple[int, bytes]:
    host = f"127.0.0.1:{server.port}"
    decoded = sum(map(len, chunks))
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer_checksum else "")
    extra = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", str(decoded)),
    ]
    if trailer_checksum:
        extra.append(("x-amz-trailer", "x-amz-checksum-sha256"))
    signed_path, headers = crt_sign("PUT", host, path, extra, body_value=payload)
    seed = next(v for k, v in headers if k == "Authorization").rpartition("Signature=")[2]
    amz_date = next(v for k, v in headers if k.lower() == "x-amz-date")
    trailer = f"x-amz-checksum-sha256:{trailer_checksum}\n".encode() if trailer_checksum else None
    body = _chunked_body(chunks, seed, amz_date, trailer, corrupt)
    status, _, response = raw_request(server.port, "PUT", signed_path, headers, body)
    return status, response


def test_signed_streaming_upload(server: ServerThread, s3: Any, bucket: str) -> None:
    chunks = [os.urandom(64 * 1024), os.urandom(64 * 1024), b"end"]
    status, body = _streaming_put(server, f"/{bucket}/streamed", chunks)
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key="streamed")
    assert got["Body"].read() == b"".join(chunks)
    assert "ContentEncoding" not in got  # aws-chunked is framing, not stored


def test_signed_streaming_upload_with_trailer(server: ServerThread, s3: Any, bucket: str) -> None:
    import base64

    chunks = [os.urandom(10_000), b"tail"]
    good = base64.b64encode(hashlib.sha256(b"".join(chunks)).digest()).decode()
    status, body = _streaming_put(server, f"/{bucket}/trailed", chunks, trailer_checksum=good)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="trailed")["Body"].read() == b"".join(chunks)
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, body = _streaming_put(server, f"/{bucket}/bad-trailer", chunks, trailer_checksum=wrong)
    assert (status, error_code_of(body)) == (400, "BadDigest")


def test_streaming_chunk_signature_mismatch_writes_nothing(
    server: ServerThread, s3: Any, bucket: str
) -> None:
    chunks = [os.urandom(8192), os.urandom(8192)]
    status, body = _streaming_put(server, f"/{bucket}/tampered", chunks, corrupt=1)
    assert (status, error_code_of(body)) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered")
    assert os.listdir(os.path.join(server.root, ".s3server", "tmp")) == []


def test_payload_hash_mismatch(server: ServerThread, bucket: str) -> None:
    host = f"127.0.0.1:{server.port}"
    claimed = hashlib.sha256(b"what we claim").hexdigest()
    path, headers = crt_sign("PUT", host, f"/{bucket}/h", [], body_value=claimed)
    status, _, body = raw_request(server.port, "PUT", path, headers, b"something else")
    assert (status, error_code_of(body)) == (400, "XAmzContentSHA256Mismatch")


# -- boto3 over TLS: the trailing-checksum form it prefers there ------------------------


def test_boto3_over_tls_uses_trailing_checksum(
    s3root: Any, make_client: Any, tmp_path: Any
) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    thread = ServerThread(
        str(s3root),
        server_kwargs={"ssl_options": context},
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    ).start()
    seen: list[str] = []
    try:
        s3 = make_client(f"https://127.0.0.1:{thread.port}")
        s3._endpoint.http_session._verify = str(ca_file)
        s3.meta.events.register(
            "before-send.s3.PutObject",
            lambda request, **_: seen.append(
                request.headers.get("x-amz-content-sha256", b"").decode()
            ),
        )
        s3.create_bucket(Bucket="tls")
        import io

        data = os.urandom(300_000)
        s3.put_object(Bucket="tls", Key="k", Body=io.BytesIO(data))
        assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == data
        s3.close()
    finally:
        thread.stop()
    assert seen == ["STREAMING-UNSIGNED-PAYLOAD-TRAILER"]
