"""Percent-decoding (``url_unescape``, ``parse_qs_bytes`` and the private
``_unquote_to_bytes``): the same results as ``urllib.parse``, in memory
bounded by a small multiple of the input whatever a peer sends."""

from __future__ import annotations

import tracemalloc
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from squall.escape import _unquote_to_bytes, parse_qs_bytes, url_unescape

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def test_unquote_to_bytes_every_octet() -> None:
    every = bytes(range(256))
    assert _unquote_to_bytes(every) == every
    escaped = "".join(f"%{i:02x}" for i in range(256)).encode()
    assert _unquote_to_bytes(escaped) == every
    assert _unquote_to_bytes(escaped.upper()) == every


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"%", b"%"),
        (b"%4", b"%4"),
        (b"%zz%41", b"%zzA"),
        (b"%%41", b"%A"),
        (b"%41%", b"A%"),
        (b"a+b", b"a+b"),
        (b"%e9%C3%a9", b"\xe9\xc3\xa9"),
        (b"%2541", b"%41"),
    ],
)
def test_unquote_to_bytes_cases(data: bytes, expected: bytes) -> None:
    assert _unquote_to_bytes(data) == expected
    assert urllib.parse.unquote_to_bytes(data) == expected


def test_unquote_to_bytes_takes_bytes_only() -> None:
    with pytest.raises(TypeError):
        _unquote_to_bytes("%41")  # type: ignore[arg-type]


_PIECES = st.sampled_from(["%", "%4", "%41", "%e9", "%C3%A9", "+", "&", "=", "a", " ", "\x00"])
_TEXT = st.lists(
    st.one_of(_PIECES, st.sampled_from(["é", "一", "\U0001f600", "\ud800"]), st.text(max_size=3)),
    max_size=12,
).map("".join)


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(_TEXT, st.sampled_from(["utf-8", "latin-1", "shift_jis", "utf-16"]))
def test_url_unescape_matches_urllib(text: str, encoding: str) -> None:
    assert url_unescape(text, encoding) == urllib.parse.unquote_plus(text, encoding)
    assert url_unescape(text, encoding, plus=False) == urllib.parse.unquote(text, encoding)
    try:
        expected: Any = urllib.parse.unquote_to_bytes(text)
    except UnicodeEncodeError:
        expected = UnicodeEncodeError
    try:
        got: Any = url_unescape(text, None, plus=False)
    except UnicodeEncodeError:
        got = UnicodeEncodeError
    assert got == expected


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.lists(_PIECES, max_size=12).map("".join), st.booleans(), st.booleans())
def test_parse_qs_bytes_matches_urllib(qs: str, keep_blank: bool, strict: bool) -> None:
    try:
        parsed = urllib.parse.parse_qs(
            qs, keep_blank_values=keep_blank, strict_parsing=strict, encoding="latin-1"
        )
        expected: Any = {k: [v.encode("latin-1") for v in vs] for k, vs in parsed.items()}
    except ValueError as e:
        expected = str(e)
    try:
        got: Any = parse_qs_bytes(qs.encode("latin-1"), keep_blank, strict)
    except ValueError as e:
        got = str(e)
    assert got == expected


def test_parse_qs_bytes_field_limit() -> None:
    assert parse_qs_bytes(b"a=1&b=2", max_num_fields=2) == {"a": [b"1"], "b": [b"2"]}
    with pytest.raises(ValueError, match="Max number of fields exceeded"):
        parse_qs_bytes(b"a=1&b=2&c", max_num_fields=2)
    with pytest.raises(UnicodeEncodeError):
        parse_qs_bytes("a=\u0100")


def _peak_ratio(function: Callable[[], object], size: int) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / size


# Tornado 6.6 holds its unquoting to 12 times the input; urllib's
# unquote_to_bytes reaches about 190 on "%%%...".
_BUDGET = 12
_HOSTILE = [b"%%%", b"%41", b"%4", b"a=%41&", b"&", b"+", "%é".encode(), "一%41".encode()]


@pytest.mark.parametrize("pattern", _HOSTILE)
def test_memory_stays_within_budget(pattern: bytes) -> None:
    data = pattern * (120_000 // len(pattern))
    text = data.decode("utf-8")
    calls: dict[str, Callable[[], object]] = {
        "_unquote_to_bytes": lambda: _unquote_to_bytes(data),
        "url_unescape": lambda: url_unescape(data),
        "url_unescape(plus=False)": lambda: url_unescape(text, plus=False),
        "url_unescape(None)": lambda: url_unescape(data, None),
        "url_unescape(latin-1)": lambda: url_unescape(data, "latin-1"),
        "parse_qs_bytes": lambda: parse_qs_bytes(data, keep_blank_values=True),
    }
    for name, call in calls.items():
        ratio = _peak_ratio(call, len(data))
        assert ratio < _BUDGET, (name, pattern, ratio)


def test_url_unescape_argument_types() -> None:
    class Text(str):
        pass

    assert url_unescape(Text("a%41+"), None) == b"aA "
    assert url_unescape(Text("a%41+")) == "aA "
    with pytest.raises(TypeError):
        url_unescape(123, None)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        url_unescape(None)  # type: ignore[call-overload]
