"""AWS Signature Version 4 on the server side: check what clients signed.

Two places carry a signature ("Authenticating Requests (AWS Signature
Version 4)" in the S3 API reference): the ``Authorization`` header, and
the query string of a presigned URL (``X-Amz-Signature`` and friends). We
rebuild the canonical request from what arrived, derive the signing key
from the secret, and compare in constant time. Streaming uploads sign each
chunk as well; ``chunk_signature`` and ``trailer_signature`` give the
values ``_chunked`` checks them against.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import hmac
import time
import urllib.parse

from squall.httputil import HTTPServerRequest
from squall.s3server._errors import S3Error

__all__ = ["SigningContext", "authenticate"]

ALGORITHM = "AWS4-HMAC-SHA256"
# S3 refuses header-signed requests more than 15 minutes off its clock
# (RequestTimeTooSkewed).
MAX_CLOCK_SKEW = 15 * 60
# A presigned SigV4 URL may live at most 7 days (X-Amz-Expires <= 604800).
MAX_PRESIGNED_EXPIRY = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_UNRESERVED = "-_.~"  # RFC 3986 unreserved, besides letters and digits


@dataclasses.dataclass
class SigningContext:
    """Who signed, and what later chunk signatures are derived from."""

    access_key: str
    amz_date: str
    scope: str
    signing_key: bytes
    seed_signature: str
    payload_hash: str  # x-amz-content-sha256 as sent (or UNSIGNED-PAYLOAD)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _uri_encode(value: str | bytes) -> str:
    return urllib.parse.quote(value, safe=_UNRESERVED)


def canonical_uri(raw_path: str) -> str:
    """Each segment decoded then encoded once, as S3 canonicalises paths."""
    return "/".join(_uri_encode(urllib.parse.unquote_to_bytes(s)) for s in raw_path.split("/"))


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, percent-decoded ("+" stays "+")."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return pairs


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((_uri_encode(n), _uri_encode(v)) for n, v in pairs)
    return "&".join(f"{n}={v}" for n, v in encoded)


def canonical_headers(request: HTTPServerRequest, signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = request.headers.get_list(name)
        lines.append(name + ":" + ",".join(" ".join(v.split()) for v in values) + "\n")
    return "".join(lines)


def _parse_timestamp(amz_date: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise S3Error("AccessDenied", "AWS authentication requires a valid x-amz-date.") from None


@dataclasses.dataclass
class _Claim:
    """What the client says it signed, from the header or the query."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def _parse_credential(credential: str, malformed: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or parts[3] != "s3":
        raise S3Error(malformed, f"The credential {credential!r} is not well-formed.")
    return parts[0], parts[1], parts[2], parts[3]


def _claim_from_header(header: str) -> _Claim:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error("AccessDenied", "Only AWS Signature Version 4 is supported.")
    fields = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    try:
        credential = fields["Credential"]
        signed = fields["SignedHeaders"]
        signature = fields["Signature"]
    except KeyError as e:
        raise S3Error("AuthorizationHeaderMalformed", f"Missing {e.args[0]}.") from None
    access_key, date, region, service = _parse_credential(
        credential, "AuthorizationHeaderMalformed"
    )
    return _Claim(access_key, date, region, service, signed.split(";"), signature)


def authenticate(
    request: HTTPServerRequest, raw_path: str, credentials: dict[str, str]
) -> SigningContext | None:
    """Check the request's signature; None for an anonymous request.

    Raises S3Error (AccessDenied, SignatureDoesNotMatch, ...) when a
    signature is present and wrong, stale or from an unknown key.
    """
    pairs = query_pairs(request.query)
    query = dict(pairs)
    header = request.headers.get("Authorization")
    presigned = "X-Amz-Signature" in query
    if header is None and not presigned:
        return None
    now = time.time()
    if presigned:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise S3Error(
                "AuthorizationQueryParametersError", "X-Amz-Algorithm must be AWS4-HMAC-SHA256."
            )
        try:
            access_key, date, region, service = _parse_credential(
                query["X-Amz-Credential"], "AuthorizationQueryParametersError"
            )
            amz_date = query["X-Amz-Date"]
            expires = int(query["X-Amz-Expires"])
            claim = _Claim(
                access_key,
                date,
                region,
                service,
                query["X-Amz-SignedHeaders"].split(";"),
                query["X-Amz-Signature"],
            )
        except (KeyError, ValueError):
            raise S3Error(
                "AuthorizationQueryParametersError",
                "Query-string authentication requires X-Amz-Credential, X-Amz-Date, "
                "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.",
            ) from None
        if not 0 < expires <= MAX_PRESIGNED_EXPIRY:
            raise S3Error(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be between 1 and 604800 seconds.",
            )
        signed_at = _parse_timestamp(amz_date)
        if now > signed_at + expires:
            raise S3Error(
                "AccessDenied",
                "Request has expired",
                X_Amz_Expires=str(expires),
                ServerTime=str(int(now)),
            )
        if signed_at - now > MAX_CLOCK_SKEW:
            raise S3Error("AccessDenied", "Request is not valid yet")
        payload_hash = request.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        pairs = [(n, v) for n, v in pairs if n != "X-Amz-Signature"]
    else:
        assert header is not None
        claim = _claim_from_header(header)
        amz_date = request.headers.get("x-amz-date", "")
        signed_at = _parse_timestamp(amz_date)
        if abs(signed_at - now) > MAX_CLOCK_SKEW:
            raise S3Error(
                "RequestTimeTooSkewed",
                RequestTime=amz_date,
                ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                MaxAllowedSkewMilliseconds=str(MAX_CLOCK_SKEW * 1000),
            )
        payload_hash = request.headers.get("x-amz-content-sha256", "")
        if not payload_hash:
            raise S3Error(
                "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
            )
    if claim.date != amz_date[:8]:
        raise S3Error(
            "AuthorizationHeaderMalformed", "The credential date does not match x-amz-date."
        )
    secret = credentials.get(claim.access_key)
    if secret is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=claim.access_key)
    if "host" not in claim.signed_headers:
        raise S3Error("AccessDenied", "The host header must be signed.")
    canonical_request = "\n".join(
        [
            request.method,
            canonical_uri(raw_path),
            canonical_query(pairs),
            canonical_headers(request, claim.signed_headers),
            ";".join(claim.signed_headers),
            payload_hash,
        ]
    )
    scope = f"{claim.date}/{claim.region}/{claim.service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = derive_signing_key(secret, claim.date, claim.region, claim.service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), claim.signature.encode("ascii", "replace")):
        raise S3Error(
            "SignatureDoesNotMatch",
            AWSAccessKeyId=claim.access_key,
            StringToSign=string_to_sign,
            CanonicalRequest=canonical_request,
        )
    return SigningContext(claim.access_key, amz_date, scope, key, claim.signature, payload_hash)


def chunk_signature(context: SigningContext, previous: str, chunk_sha256: str) -> str:
    """The signature of one aws-chunked chunk ("Signature Calculations for
    the Authorization Header: Transferring Payload in Multiple Chunks")."""
    string_to_sign = "\n".join(
        [
            ALGORITHM + "-PAYLOAD",
            context.amz_date,
            context.scope,
            previous,
            EMPTY_SHA256,
            chunk_sha256,
        ]
    )
    return hmac.new(context.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def trailer_signature(context: SigningContext, previous: str, trailer: bytes) -> str:
    """The signature over the trailing headers of a signed streaming upload."""
    string_to_sign = "\n".join(
        [
            ALGORITHM + "-TRAILER",
            context.amz_date,
            context.scope,
            previous,
            hashlib.sha256(trailer).hexdigest(),
        ]
    )
    return hmac.new(context.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
