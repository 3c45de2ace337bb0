"""squall.escape: conversions, HTML/URL/JSON escaping and linkify.

Expected strings were produced by running Tornado 6.6 on the same input and
are written here as literals: squall must give byte-identical output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from squall import escape


def test_public_names_are_pinned() -> None:
    assert sorted(escape.__all__) == [
        "json_decode",
        "json_encode",
        "linkify",
        "native_str",
        "parse_qs_bytes",
        "recursive_unicode",
        "squeeze",
        "to_basestring",
        "to_unicode",
        "unicode_type",
        "url_escape",
        "url_unescape",
        "utf8",
        "xhtml_escape",
        "xhtml_unescape",
    ]
    for name in escape.__all__:
        assert hasattr(escape, name), name
    assert escape.unicode_type is str


# -- str <-> bytes -----------------------------------------------------------


def test_utf8() -> None:
    assert escape.utf8("é") == b"\xc3\xa9"
    raw = b"\xff\x00"
    assert escape.utf8(raw) is raw
    assert escape.utf8(None) is None

    class Sub(bytes):
        pass

    assert escape.utf8(Sub(b"x")) == b"x"


@pytest.mark.parametrize("bad", [5, 1.5, bytearray(b"x"), memoryview(b"x"), ["x"]])
def test_utf8_and_to_unicode_reject_other_types(bad: Any) -> None:
    with pytest.raises(TypeError, match="Expected bytes, unicode, or None; got"):
        escape.utf8(bad)
    with pytest.raises(TypeError, match="Expected bytes, unicode, or None; got"):
        escape.to_unicode(bad)


def test_to_unicode() -> None:
    assert escape.to_unicode(b"\xc3\xa9") == "é"
    text = "déjà"
    assert escape.to_unicode(text) is text
    assert escape.to_unicode(None) is None

    class Sub(str):
        pass

    assert escape.to_unicode(Sub("x")) == "x"
    with pytest.raises(UnicodeDecodeError):
        escape.to_unicode(b"\xff")


def test_aliases_are_to_unicode() -> None:
    assert escape.native_str is escape.to_unicode
    assert escape.to_basestring is escape.to_unicode
    assert escape._unicode is escape.to_unicode


def test_recursive_unicode() -> None:
    data = {b"a": [b"b", (b"c", 1)], "x": {b"y"}, b"n": None}
    assert escape.recursive_unicode(data) == {"a": ["b", ("c", 1)], "x": {b"y"}, "n": None}
    assert escape.recursive_unicode([b"a", {b"k": b"v"}]) == ["a", {"k": "v"}]
    assert escape.recursive_unicode((b"a",)) == ("a",)
    assert escape.recursive_unicode(b"\xc3\xa9") == "é"
    assert escape.recursive_unicode(7) == 7
    with pytest.raises(UnicodeDecodeError):
        escape.recursive_unicode([b"\xff"])


# -- HTML ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ('<a href="x">&\'</a>', "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;&lt;/a&gt;"),
        ("plain é \x00", "plain é \x00"),
        (b"<b>\xc3\xa9", "&lt;b&gt;é"),
        ("&amp;", "&amp;amp;"),
        ("", ""),
    ],
)
def test_xhtml_escape(raw: str | bytes, escaped: str) -> None:
    assert escape.xhtml_escape(raw) == escaped


def test_xhtml_escape_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="got None"):
        escape.xhtml_escape(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected bytes"):
        escape.xhtml_escape(5)  # type: ignore[arg-type]
    with pytest.raises(UnicodeDecodeError):
        escape.xhtml_escape(b"\xff")


@pytest.mark.parametrize(
    ("escaped", "raw"),
    [
        ("&lt;&gt;&amp;&quot;&#39;&#x27;&#X27;&apos;", "<>&\"''''"),
        ("&nbsp;&eacute;&#65;&#x41;", "\xa0éAA"),
        # Unknown or malformed references stay as written.
        ("&bogus; &#xZZ; &#; &Amp; &#-1;", "&bogus; &#xZZ; &#; &Amp; &#-1;"),
        # HTML5 rules: some names without ";", numbers without ";".
        ("&amp &AMP; &#65", "& & A"),
        # Out-of-range code points become U+FFFD.
        ("&#0;&#x110000;&#9999999999;", "\ufffd\ufffd\ufffd"),
        (b"&amp;", "&"),
    ],
)
def test_xhtml_unescape(escaped: str | bytes, raw: str) -> None:
    assert escape.xhtml_unescape(escaped) == raw


def test_xhtml_round_trip() -> None:
    text = "<script>alert('x & \"y\"')</script> é"
    assert escape.xhtml_unescape(escape.xhtml_escape(text)) == text


# -- URLs ----------------------------------------------------------------------


def test_url_escape() -> None:
    assert escape.url_escape("a b/c?d=e&f+g~é") == "a+b%2Fc%3Fd%3De%26f%2Bg~%C3%A9"
    assert escape.url_escape("a b/c", plus=False) == "a%20b/c"
    assert escape.url_escape(b"\xff ") == "%FF+"
    assert escape.url_escape("") == ""
    with pytest.raises(TypeError, match="got None"):
        escape.url_escape(None)  # type: ignore[arg-type]


def test_url_unescape() -> None:
    assert escape.url_unescape("a+b%20c%2B%C3%A9") == "a b c+é"
    assert escape.url_unescape("a+b", plus=False) == "a+b"
    assert escape.url_unescape(b"a+%C3%A9") == "a é"
    assert escape.url_unescape("%C3%A9", encoding="latin1") == "Ã©"
    # Undecodable bytes are replaced, not an error.
    assert escape.url_unescape("%FF") == "\ufffd"
    assert escape.url_unescape("%FF", encoding="ascii") == "\ufffd"


def test_url_unescape_to_bytes() -> None:
    assert escape.url_unescape("a+b%FF", encoding=None) == b"a b\xff"
    assert escape.url_unescape(b"a+b%FF", encoding=None) == b"a b\xff"
    assert escape.url_unescape("a+b%FF", encoding=None, plus=False) == b"a+b\xff"
    assert escape.url_unescape(b"a+b", encoding=None, plus=False) == b"a+b"
    assert escape.url_unescape("é+x", encoding=None) == b"\xc3\xa9 x"
    # A truncated escape is kept literally.
    assert escape.url_unescape("a%2", encoding=None) == b"a%2"


def test_url_escape_round_trip() -> None:
    for text in ["", "plain", "a b+c&d=e/f?g#h", "é€😀", "%41"]:
        assert escape.url_unescape(escape.url_escape(text)) == text
        assert escape.url_unescape(escape.url_escape(text, plus=False), plus=False) == text


def test_parse_qs_bytes() -> None:
    qs = "a=1&b=%FF&a=2&c=&d"
    assert escape.parse_qs_bytes(qs) == {"a": [b"1", b"2"], "b": [b"\xff"]}
    assert escape.parse_qs_bytes(qs, keep_blank_values=True) == {
        "a": [b"1", b"2"],
        "b": [b"\xff"],
        "c": [b""],
        "d": [b""],
    }
    assert escape.parse_qs_bytes("a+b=c+d") == {"a b": [b"c d"]}
    # Only "&" separates fields.
    assert escape.parse_qs_bytes("a=1;b=2") == {"a": [b"1;b=2"]}
    assert escape.parse_qs_bytes("") == {}
    assert escape.parse_qs_bytes(b"") == {}
    assert escape.parse_qs_bytes(None) == {}


def test_parse_qs_bytes_latin1_round_trip() -> None:
    # Values stay bytes; names come out as the latin-1 reading of the bytes.
    parsed = escape.parse_qs_bytes(b"a=%C3%A9&%C3%A9=x&raw=\xe9")
    assert parsed == {"a": [b"\xc3\xa9"], "Ã©": [b"x"], "raw": [b"\xe9"]}
    assert "Ã©".encode("latin-1").decode("utf-8") == "é"
    assert escape.parse_qs_bytes("é=é") == {"é": [b"\xe9"]}


def test_parse_qs_bytes_bad_input() -> None:
    with pytest.raises(ValueError, match="bad query field"):
        escape.parse_qs_bytes("a=1&bad", strict_parsing=True)
    with pytest.raises(ValueError, match="Max number of fields exceeded"):
        escape.parse_qs_bytes("a=1&b=2&c=3", max_num_fields=2)
    assert escape.parse_qs_bytes("a=1&b=2", max_num_fields=2) == {"a": [b"1"], "b": [b"2"]}
    # A str query can only carry code points a byte can hold.
    with pytest.raises(UnicodeEncodeError):
        escape.parse_qs_bytes("€=1")
    with pytest.raises(UnicodeEncodeError):
        escape.parse_qs_bytes("a=€")


# -- JSON and whitespace -----------------------------------------------------


def test_json_encode_escapes_script_end() -> None:
    assert escape.json_encode("</script>") == '"<\\/script>"'
    assert escape.json_encode({"a": [1, "é"]}) == '{"a": [1, "\\u00e9"]}'
    assert escape.json_decode(escape.json_encode("</script><!--")) == "</script><!--"
    with pytest.raises(TypeError, match="not JSON serializable"):
        escape.json_encode(b"x")


def test_json_decode() -> None:
    assert escape.json_decode(b'{"a": 1}') == {"a": 1}
    assert escape.json_decode("[1, null]") == [1, None]
    assert escape.json_decode(b'"\\u00e9"') == "é"
    with pytest.raises(json.JSONDecodeError):
        escape.json_decode("{")
    with pytest.raises(UnicodeDecodeError):
        escape.json_decode(b"\xff")


def test_squeeze() -> None:
    assert escape.squeeze("  a \t\n b  ") == "a b"
    assert escape.squeeze("\x00a\x1f\x20b\x0b\x0c") == "a b"
    # Only ASCII whitespace and controls: DEL and Unicode spaces stay.
    assert escape.squeeze("a\x7f\xa0\u2003b") == "a\x7f\xa0\u2003b"
    assert escape.squeeze("") == ""


# -- linkify ---------------------------------------------------------------------


def _data_href(href: str) -> str:
    return f'data-href="{href}"'


LINKIFY_CASES: list[tuple[str | bytes, dict[str, Any], str]] = [
    (
        "hello http://example.com world",
        {},
        'hello <a href="http://example.com">http://example.com</a> world',
    ),
    (
        "www.example.com/path?a=1&b=2",
        {},
        '<a href="http://www.example.com/path?a=1&amp;b=2">www.example.com/path?a=1&amp;b=2</a>',
    ),
    ("example.com", {}, "example.com"),
    (
        "Visit http://example.com.",
        {},
        'Visit <a href="http://example.com">http://example.com</a>.',
    ),
    (
        "(see http://example.com/foo_(bar))",
        {},
        '(see <a href="http://example.com/foo_(bar)">http://example.com/foo_(bar)</a>)',
    ),
    ("http://x.com/a(b(c)d)e", {}, '<a href="http://x.com/a">http://x.com/a</a>(b(c)d)e'),
    ("http://x.com/a.(b)", {}, '<a href="http://x.com/a">http://x.com/a</a>.(b)'),
    ("www.(a)", {}, '<a href="http://www.(a)">www.(a)</a>'),
    (
        '<http://x.com/?q="a\'b">',
        {},
        '&lt;<a href="http://x.com/?q=&quot;a">http://x.com/?q=&quot;a</a>&#x27;b&quot;&gt;',
    ),
    (
        "http://x.com/a&quot;b http://x.com/a&",
        {},
        '<a href="http://x.com/a&amp;quot;b">http://x.com/a&amp;quot;b</a> '
        '<a href="http://x.com/a">http://x.com/a</a>&amp;',
    ),
    ("http:// x http:/ y", {}, '<a href="http://">http://</a> x http:/ y'),
    ("http://///a", {}, '<a href="http://///a">http://///a</a>'),
    (
        "x-www.y.com _www.y.com xhttp://a.b -http://a.b",
        {},
        'x-<a href="http://www.y.com">www.y.com</a> _www.y.com xhttp://a.b '
        '-<a href="http://a.b">http://a.b</a>',
    ),
    ("ftp://x.com www.y.com", {}, 'ftp://x.com <a href="http://www.y.com">www.y.com</a>'),
    (
        "ftp://x.com mailto:a@b.com",
        {"permitted_protocols": ["ftp", "mailto"]},
        '<a href="ftp://x.com">ftp://x.com</a> mailto:a@b.com',
    ),
    (
        "javascript://x%0aalert(1) javascript:alert(1)",
        {},
        "javascript://x%0aalert(1) javascript:alert(1)",
    ),
    (
        "javascript://x%0aalert(1)",
        {"permitted_protocols": ["javascript"]},
        '<a href="javascript://x%0aalert(1)">javascript://x%0aalert(1)</a>',
    ),
    (
        "www.x.com http://y.com",
        {"require_protocol": True},
        'www.x.com <a href="http://y.com">http://y.com</a>',
    ),
    (
        "www.x.com http://y.com",
        {"extra_params": 'rel="nofollow" class="external"'},
        '<a href="http://www.x.com" rel="nofollow" class="external">www.x.com</a> '
        '<a href="http://y.com" rel="nofollow" class="external">http://y.com</a>',
    ),
    ("www.x.com", {"extra_params": "  x  "}, '<a href="http://www.x.com" x>www.x.com</a>'),
    (
        "www.x.com http://y.com/a&b",
        {"extra_params": _data_href},
        '<a href="http://www.x.com" data-href="http://www.x.com">www.x.com</a> '
        '<a href="http://y.com/a&amp;b" data-href="http://y.com/a&amp;b">http://y.com/a&amp;b</a>',
    ),
    (
        "http://www.example.com/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
        {"shorten": True},
        '<a href="http://www.example.com/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p" '
        'title="http://www.example.com/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p">'
        "http://www.example.com/a...</a>",
    ),
    (
        "http://example.com/" + "a" * 60,
        {"shorten": True},
        f'<a href="http://example.com/{"a" * 60}" title="http://example.com/{"a" * 60}">'
        "http://example.com/aaaaaaaa...</a>",
    ),
    (
        "www.example.com/" + "z" * 50,
        {"shorten": True},
        f'<a href="http://www.example.com/{"z" * 50}" title="http://www.example.com/{"z" * 50}">'
        "www.example.com/zzzzzzzz...</a>",
    ),
    (
        "http://" + "a" * 60,
        {"shorten": True},
        f'<a href="http://{"a" * 60}" title="http://{"a" * 60}">http://{"a" * 23}...</a>',
    ),
    # Long, but shortening would not save anything: left alone, no title.
    ("http://" + "a" * 35, {"shorten": True}, f'<a href="http://{"a" * 35}">http://{"a" * 35}</a>'),
    (
        "http://" + "a" * 26 + "/b/cc",
        {"shorten": True},
        f'<a href="http://{"a" * 26}/b/cc">http://{"a" * 26}/b/cc</a>',
    ),
    (
        "http://" + "a" * 26 + "/b/ccc",
        {"shorten": True},
        f'<a href="http://{"a" * 26}/b/ccc" title="http://{"a" * 26}/b/ccc">'
        f"http://{'a' * 26}/b...</a>",
    ),
    (
        "http://a.com/b.c.d/" + "e" * 38,
        {"shorten": True},
        f'<a href="http://a.com/b.c.d/{"e" * 38}" title="http://a.com/b.c.d/{"e" * 38}">'
        "http://a.com/b...</a>",
    ),
    # Lengths count the escaped text ("&" is five characters).
    (
        "http://a.com/b&b" + "b" * 15,
        {"shorten": True},
        f'<a href="http://a.com/b&amp;b{"b" * 15}" title="http://a.com/b&amp;b{"b" * 15}">'
        "http://a.com/b&amp;bb...</a>",
    ),
    # A cut near the end that would break an entity drops it...
    (
        "http://" + "a" * 19 + "&" + "b" * 40,
        {"shorten": True},
        f'<a href="http://{"a" * 19}&amp;{"b" * 40}" title="http://{"a" * 19}&amp;{"b" * 40}">'
        f"http://{'a' * 19}...</a>",
    ),
    # ...but an entity that fits is kept.
    (
        "http://" + "a" * 18 + "&" + "b" * 40,
        {"shorten": True},
        f'<a href="http://{"a" * 18}&amp;{"b" * 40}" title="http://{"a" * 18}&amp;{"b" * 40}">'
        f"http://{'a' * 18}&amp;...</a>",
    ),
    (
        "http://a.com/" + "b" * 40,
        {"shorten": True, "extra_params": lambda href: ""},
        f'<a href="http://a.com/{"b" * 40}"  title="http://a.com/{"b" * 40}">'
        "http://a.com/bbbbbbbb...</a>",
    ),
    (b"http://x.com/\xc3\xa9 \xc3\xa9", {}, '<a href="http://x.com/é">http://x.com/é</a> é'),
    ("", {}, ""),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), LINKIFY_CASES)
def test_linkify_matches_tornado(text: str | bytes, kwargs: dict[str, Any], expected: str) -> None:
    assert escape.linkify(text, **kwargs) == expected


def test_linkify_passes_href_to_callable() -> None:
    seen: list[str] = []

    def params(href: str) -> str:
        seen.append(href)
        return "  x  "

    assert (
        escape.linkify("www.a.com", extra_params=params)
        == '<a href="http://www.a.com" x>www.a.com</a>'
    )
    assert seen == ["http://www.a.com"]


def test_linkify_bad_input() -> None:
    with pytest.raises(TypeError, match="got None"):
        escape.linkify(None)  # type: ignore[arg-type]
    with pytest.raises(UnicodeDecodeError):
        escape.linkify(b"www.\xff")


def _best_time(func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    [
        "http:/!",  # a scheme whose body can never end
        "www.!",
        "a" * 7,  # one endless word
        "-" * 7,
        "http://x/.(",  # unclosed groups
        "http://x.(a)",
        "&amp;" * 2,
    ],
)
def test_linkify_is_linear(unit: str) -> None:
    # Ten times the input must cost about ten times the time; a quadratic
    # scan would cost a hundred. The bound is generous for noisy machines.
    small = unit * 2_000
    large = unit * 20_000
    assert escape.linkify(large)  # and it works at all
    ratio = _best_time(lambda: escape.linkify(large)) / max(
        _best_time(lambda: escape.linkify(small)), 1e-6
    )
    assert ratio < 35, ratio
