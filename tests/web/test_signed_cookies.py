"""Signed cookies: the module functions, the handler methods, and the wire
format shared with Tornado (checked against the installed tornado)."""

from __future__ import annotations

import base64

import pytest

from squall.web import (
    DEFAULT_SIGNED_VALUE_MIN_VERSION,
    DEFAULT_SIGNED_VALUE_VERSION,
    MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    MIN_SUPPORTED_SIGNED_VALUE_VERSION,
    Application,
    RequestHandler,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)

tornado_web = pytest.importorskip("tornado.web")

SECRET = "0123456789abcdef-secret"
NOW = 1_300_000_000.0
DAY = 86400


def clock() -> float:
    return NOW


def test_version_constants_match_tornado():
    assert (
        DEFAULT_SIGNED_VALUE_VERSION,
        DEFAULT_SIGNED_VALUE_MIN_VERSION,
        MIN_SUPPORTED_SIGNED_VALUE_VERSION,
        MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    ) == (
        tornado_web.DEFAULT_SIGNED_VALUE_VERSION,
        tornado_web.DEFAULT_SIGNED_VALUE_MIN_VERSION,
        tornado_web.MIN_SUPPORTED_SIGNED_VALUE_VERSION,
        tornado_web.MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    )


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", ["value", "", "ünïcode ✓", b"\x00\xff binary|2|1:0"])
def test_same_bytes_as_tornado(version, value):
    ours = create_signed_value(SECRET, "name", value, version=version, clock=clock)
    theirs = tornado_web.create_signed_value(SECRET, "name", value, version=version, clock=clock)
    assert ours == theirs


def test_same_bytes_as_tornado_with_key_versions():
    secrets = {0: "old-secret", 7: SECRET}
    ours = create_signed_value(secrets, "n", "v", clock=clock, key_version=7)
    theirs = tornado_web.create_signed_value(secrets, "n", "v", clock=clock, key_version=7)
    assert ours == theirs
    assert get_signature_key_version(ours) == 7 == tornado_web.get_signature_key_version(ours)


@pytest.mark.parametrize("version", [1, 2])
def test_tornado_values_decode_in_squall_and_back(version):
    # Real clock: each side signs now and the other verifies.
    from_tornado = tornado_web.create_signed_value(SECRET, "user", "alice", version=version)
    assert decode_signed_value(SECRET, "user", from_tornado) == b"alice"
    from_squall = create_signed_value(SECRET, "user", "bob", version=version)
    assert tornado_web.decode_signed_value(SECRET, "user", from_squall) == b"bob"
    # And neither accepts the other's value under another secret.
    assert decode_signed_value("other", "user", from_tornado) is None
    assert tornado_web.decode_signed_value("other", "user", from_squall) is None


def test_key_dict_interop():
    secrets = {1: "first", 2: "second"}
    from_tornado = tornado_web.create_signed_value(secrets, "n", "x", key_version=2)
    assert decode_signed_value(secrets, "n", from_tornado) == b"x"
    assert decode_signed_value({1: "first"}, "n", from_tornado) is None  # key retired
    from_squall = create_signed_value(secrets, "n", "y", key_version=1)
    assert tornado_web.decode_signed_value(secrets, "n", from_squall) == b"y"


@pytest.mark.parametrize("version", [1, 2])
def test_expiry(version):
    signed = create_signed_value(SECRET, "n", "v", version=version, clock=clock)
    assert decode_signed_value(SECRET, "n", signed, clock=lambda: NOW + 30 * DAY) == b"v"
    assert decode_signed_value(SECRET, "n", signed, clock=lambda: NOW + 32 * DAY) is None
    assert (
        decode_signed_value(SECRET, "n", signed, max_age_days=1, clock=lambda: NOW + 2 * DAY)
        is None
    )


def test_v1_timestamp_far_in_future_refused():
    signed = create_signed_value(SECRET, "n", "v", version=1, clock=clock)
    assert decode_signed_value(SECRET, "n", signed, clock=lambda: NOW - 30 * DAY) == b"v"
    assert decode_signed_value(SECRET, "n", signed, clock=lambda: NOW - 32 * DAY) is None


@pytest.mark.parametrize("version", [1, 2])
def test_tampering_is_detected(version):
    signed = create_signed_value(SECRET, "session", "user=1", version=version, clock=clock)
    assert decode_signed_value(SECRET, "session", signed, clock=clock) == b"user=1"
    # Any single changed byte breaks it.
    for i in range(len(signed)):
        forged = signed[:i] + bytes([signed[i] ^ 1]) + signed[i + 1 :]
        assert decode_signed_value(SECRET, "session", forged, clock=clock) is None, i
    # A value swapped in with the old signature.
    evil = base64.b64encode(b"user=0")
    original = base64.b64encode(b"user=1")
    assert decode_signed_value(SECRET, "session", signed.replace(original, evil)) is None


def test_value_moved_to_another_cookie_name_is_refused():
    signed = create_signed_value(SECRET, "readonly_pref", "admin", clock=clock)
    assert decode_signed_value(SECRET, "user", signed, clock=clock) is None
    v1 = create_signed_value(SECRET, "readonly_pref", "admin", version=1, clock=clock)
    assert decode_signed_value(SECRET, "user", v1, clock=clock) is None


def test_min_version():
    v1 = create_signed_value(SECRET, "n", "v", version=1)
    v2 = create_signed_value(SECRET, "n", "v", version=2)
    assert decode_signed_value(SECRET, "n", v1, min_version=2) is None
    assert decode_signed_value(SECRET, "n", v2, min_version=2) == b"v"
    with pytest.raises(ValueError):
        decode_signed_value(SECRET, "n", v2, min_version=3)


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "|",
        "2|",
        "2|1:0|",
        "2|1:0|10:1300000000|1:n|1:v|",
        "2|1:x|10:1300000000|1:n|4:dg==|" + "0" * 64,
        "2|99999999999999:0|",
        "2|1:0|10:1300000000|1:n|999:dg==|" + "0" * 64,
        "999|whatever",
        "dg==|1300000000",
        "dg==|01300000000|" + "0" * 40,
        "\x00\xff",
        b"2|1:0|\xff\xfe",
    ],
)
def test_malformed_values_are_none_not_errors(garbage):
    assert decode_signed_value(SECRET, "n", garbage) is None
    assert decode_signed_value({0: SECRET}, "n", garbage) is None


def test_v1_value_with_key_dict_is_none():
    v1 = create_signed_value(SECRET, "n", "v", version=1)
    assert decode_signed_value({0: SECRET}, "n", v1) is None


def test_get_signature_key_version():
    assert get_signature_key_version(create_signed_value(SECRET, "n", "v")) == 0
    assert get_signature_key_version(create_signed_value(SECRET, "n", "v", version=1)) is None
    assert get_signature_key_version("junk") is None


def test_create_errors():
    with pytest.raises(ValueError, match="Unsupported version 3"):
        create_signed_value(SECRET, "n", "v", version=3)
    with pytest.raises(ValueError, match="key_version"):
        create_signed_value({1: SECRET}, "n", "v")
    with pytest.raises(ValueError):
        create_signed_value({1: SECRET}, "n", "v", version=1, key_version=1)


# -- through a real server -------------------------------------------------------


class SetHandler(RequestHandler):
    def get(self):
        version = self.get_argument("version", None)
        self.set_signed_cookie("user", self.get_argument("v"), version=int(version or 2))
        self.set_secure_cookie("other", "x")  # the seeds' name for the same thing


class GetHandler(RequestHandler):
    def get(self):
        value = self.get_secure_cookie("user", min_version=self.get_argument("min", None) and 2)
        self.write(
            {
                "user": value.decode() if value is not None else None,
                "key_version": self.get_signed_cookie_key_version("user"),
                "same": self.get_signed_cookie("user") == value,
            }
        )


def cookie_pairs(reply):
    return [h.split(";")[0] for h in reply.headers.get_all("Set-Cookie")]


def make_app(**settings):
    settings.setdefault("cookie_secret", SECRET)
    return Application([("/set", SetHandler), ("/get", GetHandler)], **settings)


async def test_round_trip_over_http(start):
    import json

    fetch = start(make_app())
    reply = await fetch("/set?v=alice")
    assert reply.code == 200
    pairs = cookie_pairs(reply)
    assert [p.split("=")[0] for p in pairs] == ["user", "other"]
    # Expires in 30 days by default.
    assert "expires=" in reply.headers.get_all("Set-Cookie")[0].lower()
    cookie = pairs[0]
    got = json.loads((await fetch("/get", headers={"Cookie": cookie})).body)
    assert got == {"user": "alice", "key_version": 0, "same": True}
    # The other cookie's value under the "user" name: refused.
    moved = "user=" + pairs[1].split("=", 1)[1]
    got = json.loads((await fetch("/get", headers={"Cookie": moved})).body)
    assert got["user"] is None
    # Forged: no cookie at all, or garbage.
    assert json.loads((await fetch("/get")).body)["user"] is None
    got = json.loads((await fetch("/get", headers={"Cookie": "user=2|1:0|forged"})).body)
    assert got["user"] is None


async def test_version_1_cookie_and_min_version(start):
    import json

    fetch = start(make_app())
    cookie = cookie_pairs(await fetch("/set?v=carol&version=1"))[0]
    assert json.loads((await fetch("/get", headers={"Cookie": cookie})).body)["user"] == "carol"
    got = json.loads((await fetch("/get?min=1", headers={"Cookie": cookie})).body)
    assert got["user"] is None


async def test_key_rotation_settings(start):
    import json

    secrets = {1: "retired", 2: "current"}
    fetch = start(make_app(cookie_secret=secrets, key_version=2))
    cookie = cookie_pairs(await fetch("/set?v=dave"))[0]
    got = json.loads((await fetch("/get", headers={"Cookie": cookie})).body)
    assert got == {"user": "dave", "key_version": 2, "same": True}
    # A cookie Tornado signed with the retired key still verifies.
    old = tornado_web.create_signed_value(secrets, "user", "erin", key_version=1).decode()
    got = json.loads((await fetch("/get", headers={"Cookie": f"user={old}"})).body)
    assert got == {"user": "erin", "key_version": 1, "same": True}


async def test_key_dict_without_key_version_is_an_error(start):
    from squall.log import app_log
    from squall.testing import ExpectLog

    fetch = start(make_app(cookie_secret={1: "x"}))
    with ExpectLog(app_log, "Uncaught exception"):
        assert (await fetch("/set?v=a")).code == 500


async def test_missing_cookie_secret_is_an_error(start):
    from squall.log import app_log
    from squall.testing import ExpectLog

    fetch = start(Application([("/get", GetHandler)]))
    with ExpectLog(app_log, "Uncaught exception"):
        assert (await fetch("/get")).code == 500


class InjectHandler(RequestHandler):
    def get(self):
        attr = self.get_argument("attr")
        try:
            self.set_signed_cookie("user", "x", **{attr: self.get_argument("value")})
        except ValueError as e:
            self.write("refused: " + type(e).__name__)


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("domain", "example.com; Secure"),
        ("path", "/\r\nSet-Cookie: admin=1"),
        ("samesite", "Lax; Domain=evil.com"),
        ("samesite", "Strict\x7f"),
    ],
)
async def test_cookie_attribute_injection_is_refused(start, attr, value):
    import urllib.parse

    fetch = start(Application([("/", InjectHandler)], cookie_secret=SECRET))
    query = urllib.parse.urlencode({"attr": attr, "value": value})
    reply = await fetch("/?" + query)
    assert reply.code == 200
    assert reply.text == "refused: InvalidCookieError"
    assert reply.headers.get_all("Set-Cookie") is None
