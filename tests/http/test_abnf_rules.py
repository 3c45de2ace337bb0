"""The RFC 9110/9112 rules as ``squall.httputil._ABNF`` exposes them, and
squall's parsers checked against them: whatever a rule generates, the
matching parser must accept (and give back), whatever it refuses, the
parser must refuse with ``HTTPInputError``."""

from __future__ import annotations

import contextlib
import re

import pytest

from squall import httputil
from squall._http1 import _abnf
from squall.httputil import (
    HTTPHeaders,
    HTTPInputError,
    parse_request_start_line,
    parse_response_start_line,
)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

ABNF = httputil._ABNF

RULE_NAMES = [
    "HTTP_version",
    "VCHAR",
    "field_name",
    "field_value",
    "field_vchar",
    "host",
    "method",
    "obs_text",
    "reason_phrase",
    "request_line",
    "request_target",
    "status_code",
    "status_line",
    "tchar",
    "token",
    "uri_host",
    "uri_pct_encoded",
    "uri_port",
    "uri_sub_delims",
    "uri_unreserved",
]


def test_one_grammar() -> None:
    # httputil hands out the grammar module's rules, not a copy of them.
    assert ABNF is _abnf.ABNF
    for name in RULE_NAMES:
        assert isinstance(getattr(ABNF, name), re.Pattern), name
    # The older names of the grammar module spell the same token rule.
    assert ABNF.token.pattern == _abnf.TOKEN


# (rule, accepted, refused): samples read off the RFCs' ABNF.
SAMPLES = [
    ("tchar", ["a", "Z", "0", "!", "~", "`", "|"], ["", "(", ")", ":", "@", " ", "ab", "\x80"]),
    ("token", ["GET", "x-y.z", "!#$%&'*+-.^_`|~"], ["", "a b", "a:", "a\x00", "é", "a/b"]),
    ("VCHAR", ["!", "~", "a"], [" ", "\x7f", "\x80", "\t", ""]),
    ("obs_text", ["\x80", "\xff"], ["\x7f", "\u0100", "a", ""]),
    ("field_vchar", ["a", "\x80", "\xff", "~"], [" ", "\t", "\x7f", "\u0100", "\x00"]),
    (
        "field_value",
        ["", "a", "a b", "a\t\tb", "\x80x\xff", "a  b"],
        [" a", "a ", "\t", "a\x7f", "a\x00b", "a\rb", "a\nb", "\u0100"],
    ),
    ("field_name", ["Content-Type", "x"], ["", "Content Type", "X:", " X"]),
    ("method", ["GET", "get", "M-SEARCH"], ["", "GE T", "GET/"]),
    ("HTTP_version", ["HTTP/1.1", "HTTP/0.9", "HTTP/2.0"], ["http/1.1", "HTTP/1", "HTTP/10.1"]),
    (
        "request_target",
        ["/", "*", "/a?b=c#d", "http://x/y", "example.com:443", "/caf\xe9"],
        ["", "/a b", "/\x7f", "/\x00", "/\t", "/\u0100"],
    ),
    (
        "request_line",
        ["GET / HTTP/1.1", "OPTIONS * HTTP/1.0", "x http://a/ HTTP/9.9"],
        ["GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /", "GET / HTTP/1.1\r\n", " GET / HTTP/1.1"],
    ),
    ("status_code", ["200", "000", "999"], ["20", "2000", "2x0", ""]),
    ("reason_phrase", ["OK", " x", "x ", "\t", "caf\xe9"], ["", "\x7f", "a\x00", "\u0100"]),
    (
        "status_line",
        ["HTTP/1.1 200 OK", "HTTP/1.1 200 ", "HTTP/1.0 599 a\tb "],
        ["HTTP/1.1 200", "HTTP/1.1 20 OK", "HTTP/1.1 200 OK\r\n", "HTTP/1.1  200 OK"],
    ),
    ("uri_pct_encoded", ["%41", "%a0", "%Ff"], ["%4", "%zz", "%", "%410"]),
    ("uri_sub_delims", list("!$&'()*+,;="), ["@", ":", "/", "a", ""]),
    ("uri_unreserved", ["a", "Z", "9", "-", ".", "_", "~"], ["%", "!", " ", ""]),
    ("uri_port", ["", "80", "65535"], ["a", "8 0", "-1"]),
    (
        "uri_host",
        ["", "example.com", "[::1]", "1.2.3.4", "%41b", "a;b"],
        ["a b", "a/b", "a@b", "%zz", "\x80", "a\tb"],
    ),
    (
        "host",
        ["", "example.com", "example.com:8080", "[::1]:443", "a:"],
        ["a b", "a/b", "user@a", "a:8 0", "\x7f", "\xe9"],
    ),
]


@pytest.mark.parametrize(("rule", "good", "bad"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_rule_samples(rule: str, good: list[str], bad: list[str]) -> None:
    pattern = getattr(ABNF, rule)
    for text in good:
        assert pattern.fullmatch(text), (rule, text)
    for text in bad:
        assert not pattern.fullmatch(text), (rule, text)


def test_every_rule_has_samples() -> None:
    assert sorted(s[0] for s in SAMPLES) == sorted(RULE_NAMES)


_SETTINGS = hypothesis.settings(max_examples=150, deadline=None)


@_SETTINGS
@hypothesis.given(
    st.from_regex(ABNF.method, fullmatch=True),
    st.from_regex(ABNF.request_target, fullmatch=True),
    st.from_regex(r"HTTP/1\.[0-9]", fullmatch=True),
)
def test_request_line_round_trip(method: str, target: str, version: str) -> None:
    line = f"{method} {target} {version}"
    assert ABNF.request_line.fullmatch(line)
    assert parse_request_start_line(line) == (method, target, version)


@_SETTINGS
@hypothesis.given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=40))
def test_request_line_arbitrary_text(line: str) -> None:
    # Either the grammar takes it and so does the parser (HTTP/1.x only),
    # or the parser refuses it with HTTPInputError, nothing else.
    try:
        parsed = parse_request_start_line(line)
    except HTTPInputError:
        grammatical = ABNF.request_line.fullmatch(line)
        assert not grammatical or not line.rpartition(" ")[2].startswith("HTTP/1.")
        return
    assert ABNF.request_line.fullmatch(line)
    assert " ".join(parsed) == line


@_SETTINGS
@hypothesis.given(
    st.from_regex(r"HTTP/1\.[0-9]", fullmatch=True),
    st.from_regex(ABNF.status_code, fullmatch=True),
    st.one_of(st.just(""), st.from_regex(ABNF.reason_phrase, fullmatch=True)),
)
def test_status_line_round_trip(version: str, code: str, reason: str) -> None:
    line = f"{version} {code} {reason}"
    assert ABNF.status_line.fullmatch(line)
    assert parse_response_start_line(line) == (version, int(code), reason)


@_SETTINGS
@hypothesis.given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=40))
def test_status_line_arbitrary_text(line: str) -> None:
    try:
        parsed = parse_response_start_line(line)
    except HTTPInputError:
        return
    assert ABNF.status_line.fullmatch(line)
    assert line.startswith("HTTP/1.")
    assert f"{parsed.version} {parsed.code:03d} {parsed.reason}" == line


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HTTP/2.0 200 OK", "Unexpected HTTP version 'HTTP/2.0'"),
        ("HTTP/0.9 200 OK", "Unexpected HTTP version 'HTTP/0.9'"),
        ("HTTP/1.1 200", "Error parsing response start line"),
        ("HTTP/1.1 200 OK\r\n", "Error parsing response start line"),
        ("HTTP/1.1 200 \x7f", "Error parsing response start line"),
    ],
)
def test_status_line_refusals(line: str, message: str) -> None:
    with pytest.raises(HTTPInputError, match=re.escape(message)):
        parse_response_start_line(line)


_FIELDS = st.lists(
    st.tuples(
        st.from_regex(ABNF.field_name, fullmatch=True),
        st.from_regex(ABNF.field_value, fullmatch=True),
    ),
    max_size=8,
)


@_SETTINGS
@hypothesis.given(_FIELDS, st.sampled_from(["\r\n", "\n"]))
def test_header_block_round_trip(fields: list[tuple[str, str]], eol: str) -> None:
    text = "".join(f"{name}: {value}{eol}" for name, value in fields)
    headers = HTTPHeaders.parse(text)
    got = [(name.lower(), value) for name, value in headers.get_all()]
    # Fields come back grouped by name, in first-seen order.
    expected: dict[str, list[str]] = {}
    for name, value in fields:
        expected.setdefault(name.lower(), []).append(value)
    assert got == [(name, value) for name, values in expected.items() for value in values]
    assert list(HTTPHeaders.parse(str(headers)).get_all()) == list(headers.get_all())


@_SETTINGS
@hypothesis.given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=60))
def test_header_block_arbitrary_text(text: str) -> None:
    # Refusing the text is fine; whatever is accepted must obey the grammar.
    with contextlib.suppress(HTTPInputError):
        accepted = list(HTTPHeaders.parse(text).get_all())
        off_grammar = [
            (name, value)
            for name, value in accepted
            if not (ABNF.field_name.fullmatch(name) and ABNF.field_value.fullmatch(value))
        ]
        assert off_grammar == []
