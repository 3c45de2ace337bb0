"""The signature helpers behind signed values (Tornado's private
``_create_signature_v1``/``_v2``), and how malformed timestamps inside a
correctly signed value are treated: which are dropped silently, which are
logged and with what words (checked against the installed tornado)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from typing import Any

import pytest

from squall import web
from squall.testing import ExpectLog
from squall.web import decode_signed_value, get_signature_key_version

tornado_web = pytest.importorskip("tornado.web")

SECRET = "helper-secret"
NOW = 1_700_000_000
DAY = 86400


def clock() -> float:
    return float(NOW)


@pytest.mark.parametrize(
    ("secret", "parts"),
    [
        ("s", ("name", "dmFsdWU=", "123")),
        (b"s", (b"name", b"dmFsdWU=", b"123")),
        ("s", ()),
        ("s\u00e9", ("n\u00e9", "x", "y", "z")),
    ],
)
def test_signature_v1(secret: str | bytes, parts: tuple[str | bytes, ...]) -> None:
    # Version 1: hex HMAC-SHA1 over the parts run together, all as UTF-8.
    key = secret.encode() if isinstance(secret, str) else secret
    message = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    expected = hmac.new(key, message, hashlib.sha1).hexdigest().encode()
    assert web._create_signature_v1(secret, *parts) == expected
    assert tornado_web._create_signature_v1(secret, *parts) == expected


@pytest.mark.parametrize("signed", [b"2|1:0|10:1700000000|", "2|1:0|3:abc|", b""])
def test_signature_v2(signed: str | bytes) -> None:
    data = signed.encode() if isinstance(signed, str) else signed
    expected = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest().encode()
    assert web._create_signature_v2(SECRET, signed) == expected
    assert tornado_web._create_signature_v2(SECRET, signed) == expected


def _v1(timestamp: bytes, value: bytes = b"payload") -> bytes:
    encoded = base64.b64encode(value)
    return b"|".join(
        (encoded, timestamp, web._create_signature_v1(SECRET, "n", encoded, timestamp))
    )


def _decode_both(cookie: bytes, **kwargs: Any) -> bytes | None:
    ours = decode_signed_value(SECRET, "n", cookie, clock=clock, **kwargs)
    theirs = tornado_web.decode_signed_value(SECRET, "n", cookie, clock=clock, **kwargs)
    assert ours == theirs
    return ours


@pytest.mark.parametrize(
    "timestamp", [b"not-a-number", b"", b"1e9", b"1700000000.5", "१२३".encode(), b"0x10"]
)
def test_v1_timestamp_that_is_no_number_is_dropped_quietly(
    timestamp: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert _decode_both(_v1(timestamp)) is None
    ours = [r for r in caplog.records if r.name.startswith("squall")]
    assert ours == []


@pytest.mark.parametrize(
    ("timestamp", "warning"),
    [
        # Old: "Expired" comes first, even with a leading zero.
        (b"0123", "Expired cookie"),
        (b"-5", "Expired cookie"),
        (str(NOW - 40 * DAY).encode(), "Expired cookie"),
        (str(NOW + 40 * DAY).encode(), "Cookie timestamp in future; possible tampering"),
        # In range but written with a leading zero: the same time could be
        # signed two ways.
        (b"0" + str(NOW).encode(), "Tampered cookie"),
    ],
)
def test_v1_timestamp_warnings(timestamp: bytes, warning: str) -> None:
    cookie = _v1(timestamp)
    with ExpectLog("squall.general", warning, level=logging.WARNING):
        assert decode_signed_value(SECRET, "n", cookie, clock=clock) is None
    assert tornado_web.decode_signed_value(SECRET, "n", cookie, clock=clock) is None


@pytest.mark.parametrize("timestamp", [str(NOW).encode(), b"+" + str(NOW).encode()])
def test_v1_timestamps_python_reads_as_numbers(timestamp: bytes) -> None:
    assert _decode_both(_v1(timestamp)) == b"payload"


def _field(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data


def _v2(key_version: bytes, timestamp: bytes) -> bytes:
    signed = b"2|" + b"".join(
        _field(part) + b"|" for part in (key_version, timestamp, b"n", base64.b64encode(b"payload"))
    )
    return signed + web._create_signature_v2(SECRET, signed)


@pytest.mark.parametrize(
    ("key_version", "timestamp", "value", "version_read"),
    [
        (b"0", str(NOW).encode(), b"payload", 0),
        (b"3", b"+" + str(NOW).encode(), b"payload", 3),
        (b"0", b"not-a-number", None, 0),
        (b"0", b"", None, 0),
        (b"0", b"100", None, 0),
        (b"x", str(NOW).encode(), None, None),
    ],
)
def test_v2_numbers(
    key_version: bytes, timestamp: bytes, value: bytes | None, version_read: int | None
) -> None:
    cookie = _v2(key_version, timestamp)
    assert _decode_both(cookie) == value
    # A bad timestamp leaves the key version readable.
    assert get_signature_key_version(cookie) == version_read
    assert tornado_web.get_signature_key_version(cookie) == version_read


class ReadCookie(web.RequestHandler):
    def get(self) -> None:
        value = self.get_signed_cookie("n", min_version=1)
        self.write({"value": None if value is None else value.decode()})


async def test_malformed_timestamp_over_http(start: Any) -> None:
    fetch = start(web.Application([("/", ReadCookie)], cookie_secret=SECRET))
    # The server's clock is the real one: NOW is long past for it.
    stale = _v1(str(NOW).encode())
    fresh = _v1(str(int(time.time())).encode())
    reply = await fetch("/", headers={"Cookie": "n=" + fresh.decode()})
    assert reply.code == 200 and reply.body == b'{"value": "payload"}'
    reply = await fetch("/", headers={"Cookie": "n=" + _v1(b"soon").decode()})
    assert reply.code == 200 and reply.body == b'{"value": null}'
    with ExpectLog("squall.general", "Expired cookie"):
        reply = await fetch("/", headers={"Cookie": "n=" + stale.decode()})
    assert reply.code == 200 and reply.body == b'{"value": null}'


@pytest.mark.parametrize("encoded", [b"d$g==", b"dg=", b"d g==", b"dg==\n", b"!!!!"])
def test_signed_but_not_base64_is_none(encoded: bytes) -> None:
    # Only a key holder can sign these, and squall's own signer never
    # writes them; squall reads base64 strictly (Tornado's decoder skips
    # characters outside the alphabet, so it accepts some of them).
    stamp = str(NOW).encode()
    v1 = b"|".join((encoded, stamp, web._create_signature_v1(SECRET, "n", encoded, stamp)))
    signed = b"2|" + b"".join(_field(p) + b"|" for p in (b"0", stamp, b"n", encoded))
    v2 = signed + web._create_signature_v2(SECRET, signed)
    for cookie in (v1, v2):
        assert decode_signed_value(SECRET, "n", cookie, clock=clock) is None
