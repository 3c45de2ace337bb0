"""RFC 5849 signing (squall.auth._oauth1_sign) checked against the RFC's
worked example and, for arbitrary requests, against oauthlib's independent
implementation."""

from __future__ import annotations

import urllib.parse
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth1.rfc5849 import signature as reference

from squall.auth._oauth1_sign import (
    base_string_uri,
    hmac_sha1_signature,
    oauth_escape,
    signature_base_string,
    signed_parameters,
)

# RFC 5849 section 3.4.1.1: the example request and its base string.
RFC_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC_PARAMS = [
    ("c2", ""),
    ("a3", "2 q"),
    ("oauth_consumer_key", "9djdj82h48djs9d2"),
    ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "137131201"),
    ("oauth_nonce", "7d8f3e4a"),
]
RFC_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
    "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
    "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
    "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
    "9d7dh3k39sjv7"
)


def reference_hmac(base: str, consumer_secret: str, token_secret: str) -> str:
    client = SimpleNamespace(client_secret=consumer_secret, resource_owner_secret=token_secret)
    return reference.sign_hmac_sha1_with_client(base, client)


def test_rfc_5849_example_base_string():
    assert signature_base_string("post", RFC_URL, RFC_PARAMS) == RFC_BASE_STRING


def test_base_string_uri_rules():
    # Section 3.4.1.2: lower-case scheme and host, default ports dropped.
    assert base_string_uri("HTTP://EXAMPLE.COM:80/r%20v/X?id=123") == "http://example.com/r%20v/X"
    assert base_string_uri("https://www.example.net:8080/?q=1") == "https://www.example.net:8080/"
    assert base_string_uri("https://example.net:443") == "https://example.net/"


def test_escape_keeps_only_unreserved():
    assert oauth_escape("Ladies + Gentlemen") == "Ladies%20%2B%20Gentlemen"
    assert oauth_escape("An encoded string!") == "An%20encoded%20string%21"
    assert oauth_escape("~-._") == "~-._"
    assert oauth_escape("☃") == "%E2%98%83"


text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(
    query=st.lists(st.tuples(text.filter(bool), text), max_size=4),
    body=st.lists(
        st.tuples(text.filter(lambda s: bool(s) and not s.startswith("oauth_")), text), max_size=4
    ),
    method=st.sampled_from(["GET", "POST", "put"]),
    port=st.sampled_from(["", ":80", ":8080"]),
    consumer_secret=text,
    token_secret=text,
)
def test_signature_matches_oauthlib(query, body, method, port, consumer_secret, token_secret):
    url = f"http://Example.COM{port}/a%20path/x?" + urllib.parse.urlencode(query)
    params = [
        *body,
        ("oauth_consumer_key", "ck"),
        ("oauth_nonce", "n0nce"),
        ("oauth_timestamp", "1700000000"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_version", "1.0"),
    ]
    ours = signature_base_string(method, url, params)
    split = urllib.parse.urlsplit(url)
    collected = reference.collect_parameters(uri_query=split.query, body=body)
    collected += [p for p in params if p[0].startswith("oauth_")]
    theirs = reference.signature_base_string(
        method.upper(),
        reference.base_string_uri(url),
        reference.normalize_parameters(collected),
    )
    assert ours == theirs
    assert hmac_sha1_signature(ours, consumer_secret, token_secret) == reference_hmac(
        theirs, consumer_secret, token_secret
    )


def test_signed_parameters_verify_with_oauthlib():
    url = "http://127.0.0.1:8888/1.1/statuses/update.json"
    oauth = signed_parameters(
        "POST",
        url,
        {"key": "ck", "secret": "c s&"},
        {"key": "tk", "secret": "t/s"},
        {"status": "Hello ~ 100%"},
    )
    assert oauth["oauth_token"] == "tk" and len(oauth["oauth_nonce"]) == 24
    params = [
        ("status", "Hello ~ 100%"),
        *((k, v) for k, v in oauth.items() if k != "oauth_signature"),
    ]
    base = reference.signature_base_string(
        "POST", reference.base_string_uri(url), reference.normalize_parameters(params)
    )
    assert reference_hmac(base, "c s&", "t/s") == oauth["oauth_signature"]
