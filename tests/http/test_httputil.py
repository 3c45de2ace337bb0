"""squall.httputil: headers, the request object, body/cookie/start-line parsing.

Expected values for parsers shared with Tornado were produced by running
Tornado 6.6 on the same input and are written here as literals.
"""

from __future__ import annotations

import copy
import datetime
import http.client
import http.cookies
import inspect
import pickle
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from squall import httputil
from squall.httputil import (
    HTTP_WHITESPACE,
    HTTPConnection,
    HTTPFile,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPOutputError,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    ResponseStartLine,
    _encode_header,
    _parse_header,
    encode_username_password,
    format_timestamp,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_request_start_line,
    parse_response_start_line,
    qs_to_qsl,
    responses,
    set_parse_body_config,
    split_host_and_port,
    url_concat,
)
from squall.util import ObjectDict


@pytest.fixture
def restore_body_config() -> Iterator[None]:
    saved = httputil._parse_body_config
    try:
        yield
    finally:
        set_parse_body_config(saved)


def _best_time(func: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)


def _assert_linear(func: Callable[[int], object], n: int) -> None:
    """Ten times the input must cost about ten times the time.

    A quadratic algorithm costs a hundred times; 35 leaves room for a noisy
    machine without letting quadratic behaviour through.
    """
    func(n)  # warm up caches
    ratio = _best_time(lambda: func(10 * n)) / _best_time(lambda: func(n))
    assert ratio < 35, ratio


# -- module surface ---------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    assert sorted(httputil.__all__) == [
        "HTTPConnection",
        "HTTPFile",
        "HTTPHeaders",
        "HTTPInputError",
        "HTTPMessageDelegate",
        "HTTPOutputError",
        "HTTPServerConnectionDelegate",
        "HTTPServerRequest",
        "HTTP_WHITESPACE",
        "ParseBodyConfig",
        "ParseMultipartConfig",
        "ParseUrlEncodedConfig",
        "RequestStartLine",
        "ResponseStartLine",
        "encode_username_password",
        "format_timestamp",
        "parse_body_arguments",
        "parse_cookie",
        "parse_multipart_form_data",
        "parse_request_start_line",
        "parse_response_start_line",
        "qs_to_qsl",
        "responses",
        "set_parse_body_config",
        "split_host_and_port",
        "url_concat",
    ]
    for name in httputil.__all__:
        assert hasattr(httputil, name), name
    # Names Tornado's httputil also exposes by importing them.
    for name in ("utf8", "native_str", "parse_qs_bytes", "to_unicode", "ObjectDict"):
        assert hasattr(httputil, name), name


def test_error_classes() -> None:
    assert issubclass(HTTPInputError, Exception)
    assert issubclass(HTTPOutputError, Exception)
    assert not issubclass(HTTPInputError, HTTPOutputError)
    assert not issubclass(HTTPOutputError, HTTPInputError)


def test_constants() -> None:
    assert HTTP_WHITESPACE == " \t"
    assert responses is http.client.responses
    assert responses[404] == "Not Found"


# -- HTTPHeaders ----------------------------------------------------------------


def test_headers_case_insensitive_multi_values() -> None:
    h = HTTPHeaders()
    h.add("content-type", "text/html")
    h.add("Set-Cookie", "a=1")
    h.add("set-cookie", "b=2")
    assert h["SET-COOKIE"] == "a=1,b=2"
    assert h["Content-Type"] == "text/html"
    assert h.get_list("set-COOKIE") == ["a=1", "b=2"]
    assert h.get_list("missing") == []
    assert list(h.get_all()) == [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert list(h) == ["Content-Type", "Set-Cookie"]
    assert len(h) == 2
    assert "content-type" in h and "CONTENT-TYPE" in h
    assert "missing" not in h
    assert 5 not in h and None not in h
    assert dict(h) == {"Content-Type": "text/html", "Set-Cookie": "a=1,b=2"}
    assert list(h.keys()) == ["Content-Type", "Set-Cookie"]
    assert list(h.values()) == ["text/html", "a=1,b=2"]


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("content-TYPE", "Content-Type"),
        ("X-ABC-def", "X-Abc-Def"),
        ("www-authenticate", "Www-Authenticate"),
        ("ETag", "Etag"),
        ("x--y", "X--Y"),
        ("-x-", "-X-"),
        ("Content-Length", "Content-Length"),
    ],
)
def test_header_name_normalization(name: str, normalized: str) -> None:
    h = HTTPHeaders()
    h.add(name, "v")
    assert list(h) == [normalized]
    assert httputil._normalize_header(name) == normalized


def test_normalization_cache_is_bounded() -> None:
    for i in range(httputil._NORMALIZE_CACHE_SIZE + 500):
        assert httputil._normalize_header(f"x-random-{i}") == f"X-Random-{i}"
    assert len(httputil._normalized_names) <= httputil._NORMALIZE_CACHE_SIZE
    # Names that did not fit are still normalized correctly.
    assert httputil._normalize_header("x-late-COMER") == "X-Late-Comer"


def test_get_list_returns_a_copy() -> None:
    h = HTTPHeaders()
    h.add("A", "1")
    h.get_list("a").append("2")
    assert h.get_list("a") == ["1"]


def test_setitem_replaces_and_delitem_removes() -> None:
    h = HTTPHeaders()
    h["X"] = "1"
    h.add("x", "2")
    assert h["x"] == "1,2"
    h["x"] = "3"
    assert list(h.get_all()) == [("X", "3")]
    h.add("Y", "1")
    h.add("X", "4")
    assert h["X"] == "3,4"
    del h["x"]
    assert list(h.get_all()) == [("Y", "1")]
    with pytest.raises(KeyError, match="Nope"):
        del h["nope"]
    with pytest.raises(KeyError, match="Nope"):
        h["nope"]


def test_joined_value_tracks_changes() -> None:
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("A", "2")
    assert h["a"] == "1,2"  # cached now
    h.add("A", "3")
    assert h["a"] == "1,2,3"
    h._add_raw("a", "4")
    assert h["a"] == "1,2,3,4"
    h["A"] = "5"
    assert h["a"] == "5"


def test_mutable_mapping_methods() -> None:
    h = HTTPHeaders()
    h.add("A", "1")
    h.add("a", "2")
    h.add("B", "x")
    assert h.get("A") == "1,2"
    assert h.get("missing") is None
    assert h.get("missing", "d") == "d"
    assert h.pop("a") == "1,2"
    assert h.pop("a", "gone") == "gone"
    assert h.setdefault("c", "v") == "v"
    assert h.setdefault("C", "w") == "v"
    h.update({"b": "y"}, d="z")
    assert list(h.get_all()) == [("B", "y"), ("C", "v"), ("D", "z")]
    assert h.popitem() == ("B", "y")
    h.clear()
    assert len(h) == 0 and list(h.get_all()) == []


def test_constructor_forms() -> None:
    assert list(HTTPHeaders({"a": "1"}, b="2").get_all()) == [("A", "1"), ("B", "2")]
    # Pairs go through __setitem__: a repeated name keeps the last value.
    assert HTTPHeaders([("a", "1"), ("a", "2")]).get_list("a") == ["2"]
    assert HTTPHeaders(a="1").get_list("A") == ["1"]
    src = HTTPHeaders()
    src.add("A", "1")
    src.add("A", "2")
    assert list(HTTPHeaders(src).get_all()) == [("A", "1"), ("A", "2")]
    assert list(HTTPHeaders(src, b="3").get_all()) == [("A", "1"), ("A", "2"), ("B", "3")]
    with pytest.raises(TypeError, match="at most 1 positional argument"):
        HTTPHeaders({"a": "1"}, {"b": "2"})
    with pytest.raises(TypeError):
        HTTPHeaders(5)


def test_add_validates_name_and_value() -> None:
    h = HTTPHeaders()
    for name in ["Fo o", "", "Foo\t", "Fo\x00o", "Fo(o", "Föo", "a:b"]:
        with pytest.raises(HTTPInputError, match="Invalid header name"):
            h.add(name, "v")
    for value in ["a\r\nb", "a\rb", "a\nb", "\x00", "a\x0bb", "a\x0cb", "a\x7fb", "a\u2028b", "€"]:
        with pytest.raises(HTTPInputError, match="Invalid header value"):
            h.add("X", value)
    assert len(h) == 0
    # HTAB, visible ASCII and obs-text (0x80-0xFF) are all allowed.
    h.add("!#$%&'*+-.^_`|~09azAZ", "a\tb \x85\xa0é~")
    assert h["!#$%&'*+-.^_`|~09azaz"] == "a\tb \x85\xa0é~"


def test_add_raw_is_the_unchecked_fast_path() -> None:
    h = HTTPHeaders()
    h._add_raw("content-type", "text/plain")
    h._add_raw("X-Forwarded-For", "1.1.1.1")
    h._add_raw("x-forwarded-for", "2.2.2.2")
    assert list(h.get_all()) == [
        ("Content-Type", "text/plain"),
        ("X-Forwarded-For", "1.1.1.1"),
        ("X-Forwarded-For", "2.2.2.2"),
    ]
    # Stored verbatim: the parser has already checked and trimmed it.
    h._add_raw("x-raw", " spaced ")
    assert h["X-Raw"] == " spaced "


def test_parse() -> None:
    h = HTTPHeaders.parse("Foo: bar\r\nfoo: baz\r\nContent-Length: 42\r\n\r\n")
    assert h.get_list("foo") == ["bar", "baz"]
    assert h["content-length"] == "42"
    # LF endings, blank lines anywhere, a last line without a newline.
    h = HTTPHeaders.parse("\r\nA: 1\n\nB:2\r\n\r\nC:   3   ")
    assert list(h.get_all()) == [("A", "1"), ("B", "2"), ("C", "3")]
    assert list(HTTPHeaders.parse("").get_all()) == []
    assert HTTPHeaders.parse("Foo: a:b:c")["foo"] == "a:b:c"
    assert HTTPHeaders.parse("Foo:")["foo"] == ""
    assert HTTPHeaders.parse("Foo: a\xa0\r\n")["foo"] == "a\xa0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Foo bar\r\n", "no colon in header line"),
        ("Fo o: bar\r\n", "Invalid header name 'Fo o'"),
        (": bar\r\n", "Invalid header name ''"),
        ("Foo\t: bar\r\n", "Invalid header name"),
        ("Foo: bar\rbaz\r\n", "Invalid header value"),
        ("Foo: bar\r\r\nBaz: 1", "Invalid header value 'bar\\\\r'"),
        ("Foo: b\x00r\r\n", "Invalid header value"),
        ("Foo: bar\n\rBaz: 1", "Invalid header name '\\\\rBaz'"),
        # A CR at the very end is not a line ending.
        ("Foo: a\r", "Invalid header value"),
        ("\r", "no colon in header line"),
        (" cont\r\nFoo: bar\r\n", "cannot start with whitespace, folding not supported"),
        ("Foo: bar\r\n cont\x00\r\n", "folding not supported"),
    ],
)
def test_parse_rejects_bad_lines(text: str, message: str) -> None:
    with pytest.raises(HTTPInputError, match=message):
        HTTPHeaders.parse(text)


def test_parse_needs_str() -> None:
    with pytest.raises(TypeError):
        HTTPHeaders.parse(b"Foo: bar")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "Foo: bar\r\n  cont\r\n",
        "Foo: bar\r\n\tmore\r\n",
        "Foo: bar\n cont\n",
        "Foo: a\r\n \r\n",
        "Foo: \r\n b",
        "\tFoo: bar",
    ],
)
def test_parse_refuses_obs_fold(text: str) -> None:
    # RFC 9112 section 5.2 lets a recipient refuse obs-fold; Tornado 6.6
    # does, with this message, and so does squall (no unfolding anywhere).
    with pytest.raises(HTTPInputError, match=r"^header line cannot start with whitespace, folding"):
        HTTPHeaders.parse(text)


def test_parse_line() -> None:
    h = HTTPHeaders()
    h.parse_line("Foo: bar")
    h.parse_line("Bar: y\r\n")
    h.parse_line("Baz: z\n")
    h.parse_line("")
    h.parse_line("\r\n")
    h.parse_line("Foo: x")
    # Values of one field stay together, fields in first-seen order.
    assert list(h.get_all()) == [("Foo", "bar"), ("Foo", "x"), ("Bar", "y"), ("Baz", "z")]
    with pytest.raises(HTTPInputError, match="no colon"):
        h.parse_line("nocolon")
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        h.parse_line("Bar: a\rb")
    with pytest.raises(HTTPInputError, match="Invalid header value"):
        h.parse_line("Bar: a\r\r\n")
    with pytest.raises(HTTPInputError, match="folding not supported"):
        HTTPHeaders().parse_line(" x")
    # A continuation is refused, and the field it would have extended is
    # left as it was.
    with pytest.raises(HTTPInputError, match="folding not supported"):
        h.parse_line("\ty")
    assert h.get_list("baz") == ["z"]


def test_equality() -> None:
    a = HTTPHeaders(a="1")
    assert a == HTTPHeaders(A="1")
    assert a == {"A": "1"}
    assert a != {"a": "1"}  # a plain dict is case-sensitive
    assert a != HTTPHeaders(A="2")
    assert a != 5
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def _sample_headers() -> HTTPHeaders:
    h = HTTPHeaders()
    h.add("Set-Cookie", "a=1")
    h.add("Set-Cookie", "b=2")
    h.add("Content-Type", "text/html")
    return h


def test_copies_are_independent() -> None:
    h = _sample_headers()
    h["Set-Cookie"]  # build the joined cache so copies inherit it
    for dup in [h.copy(), copy.copy(h), copy.deepcopy(h)]:
        assert type(dup) is HTTPHeaders
        assert list(dup.get_all()) == list(h.get_all())
        dup.add("Set-Cookie", "c=3")
        dup["Content-Type"] = "x"
        assert h.get_list("set-cookie") == ["a=1", "b=2"]
        assert h["set-cookie"] == "a=1,b=2"
        assert h["content-type"] == "text/html"
        assert dup["set-cookie"] == "a=1,b=2,c=3"


def test_copy_keeps_subclass() -> None:
    class MyHeaders(HTTPHeaders):
        pass

    h = MyHeaders(a="1")
    assert type(h.copy()) is MyHeaders
    assert type(MyHeaders.parse("A: 1")) is MyHeaders


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle(protocol: int) -> None:
    h = _sample_headers()
    loaded = pickle.loads(pickle.dumps(h, protocol))
    assert list(loaded.get_all()) == list(h.get_all())
    assert loaded == h
    loaded.add("X", "1")
    assert "X" not in h


def test_str_and_repr() -> None:
    h = _sample_headers()
    assert str(h) == "Set-Cookie: a=1\nSet-Cookie: b=2\nContent-Type: text/html\n"
    assert list(HTTPHeaders.parse(str(h)).get_all()) == list(h.get_all())
    assert str(HTTPHeaders()) == ""
    assert repr(h) == (
        "HTTPHeaders([('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('Content-Type', 'text/html')])"
    )


def test_many_adds_are_linear() -> None:
    def build(n: int) -> None:
        h = HTTPHeaders()
        for _ in range(n):
            h.add("Set-Cookie", "v")
        assert len(h.get_list("set-cookie")) == n

    _assert_linear(build, 10_000)


def test_adds_do_not_rebuild_the_joined_value() -> None:
    # The structure behind the linear bound: values are appended to a list
    # and the joined string is only built when read.
    h = HTTPHeaders()
    for _ in range(1000):
        h.add("X", "v")
        h._add_raw("x", "w")
    assert h._joined == {}
    assert h["x"] == ",".join(["v", "w"] * 1000)
    assert h._joined == {"X": h["x"]}


def test_parse_many_lines_is_linear() -> None:
    _assert_linear(lambda n: HTTPHeaders.parse("X-A: b\r\n" * n), 5_000)


# -- HTTPFile and the body configuration ------------------------------------


def test_http_file() -> None:
    f = HTTPFile(filename="a.txt", body=b"x", content_type="text/plain")
    assert isinstance(f, ObjectDict) and isinstance(f, dict)
    assert f.filename == f["filename"] == "a.txt"
    assert f.body == f["body"] == b"x"
    assert f.content_type == f["content_type"] == "text/plain"
    with pytest.raises(AttributeError):
        _ = HTTPFile().filename


def test_body_config_defaults() -> None:
    config = ParseBodyConfig()
    assert config.multipart == ParseMultipartConfig(
        enabled=True, max_parts=100, max_part_header_size=10240
    )
    assert config.urlencoded == ParseUrlEncodedConfig(max_arguments=1000)
    assert ParseBodyConfig() is not ParseBodyConfig()
    assert ParseBodyConfig().multipart is not ParseBodyConfig().multipart


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True, None])
def test_body_config_rejects_bad_limits(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_parts must be a non-negative integer"):
        ParseMultipartConfig(max_parts=bad)
    with pytest.raises(ValueError, match="max_part_header_size"):
        ParseMultipartConfig(max_part_header_size=bad)
    with pytest.raises(ValueError, match="max_arguments"):
        ParseUrlEncodedConfig(max_arguments=bad)


def test_set_parse_body_config(restore_body_config: None) -> None:
    set_parse_body_config(ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=1)))
    args: dict[str, list[bytes]] = {}
    with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
        parse_body_arguments("application/x-www-form-urlencoded", b"a=1&b=2", args, {})
    # An explicit config still wins over the default.
    parse_body_arguments(
        "application/x-www-form-urlencoded", b"a=1&b=2", args, {}, config=ParseBodyConfig()
    )
    assert args == {"a": [b"1"], "b": [b"2"]}
    with pytest.raises(TypeError, match="expected a ParseBodyConfig"):
        set_parse_body_config(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a ParseBodyConfig"):
        set_parse_body_config(ParseUrlEncodedConfig())  # type: ignore[arg-type]


# -- URL-encoded bodies --------------------------------------------------------


def _parse(
    content_type: str,
    body: bytes,
    headers: HTTPHeaders | None = None,
    config: ParseBodyConfig | None = None,
) -> tuple[dict[str, list[bytes]], dict[str, list[HTTPFile]]]:
    arguments: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    parse_body_arguments(content_type, body, arguments, files, headers, config=config)
    return arguments, files


FORM = "application/x-www-form-urlencoded"


def test_urlencoded_body() -> None:
    assert _parse(FORM, b"a=1&b=2&a=3&c=") == ({"a": [b"1", b"3"], "b": [b"2"], "c": [b""]}, {})
    assert _parse(FORM + "; charset=utf-8", b"a=%C3%A9") == ({"a": [b"\xc3\xa9"]}, {})
    assert _parse(FORM + "; charset=latin1", b"a=%E9") == ({"a": [b"\xe9"]}, {})
    # Values stay bytes, whatever they hold.
    assert _parse(FORM, b"a=\xff&b=%zz&c=%") == ({"a": [b"\xff"], "b": [b"%zz"], "c": [b"%"]}, {})
    assert _parse(FORM, b"=1&=&a") == ({"": [b"1", b""], "a": [b""]}, {})
    assert _parse(FORM, b"") == ({}, {})
    # Media types compare case-insensitively (RFC 9110 section 8.3.1).
    assert _parse("Application/X-WWW-Form-Urlencoded", b"a=1") == ({"a": [b"1"]}, {})


def test_other_content_types_are_ignored() -> None:
    gzip = HTTPHeaders({"Content-Encoding": "gzip"})
    for content_type in ["text/plain", "", "application/json", FORM + "x", "multipart/mixed"]:
        assert _parse(content_type, b"a=1", gzip) == ({}, {})


def test_urlencoded_extends_existing_arguments() -> None:
    arguments = {"a": [b"q"]}
    parse_body_arguments(FORM, b"a=b&c=d", arguments, {})
    assert arguments == {"a": [b"q", b"b"], "c": [b"d"]}


def test_urlencoded_argument_limit() -> None:
    exactly = b"&".join(b"a%d=1" % i for i in range(1000))
    assert len(_parse(FORM, exactly)[0]) == 1000
    for body in [exactly + b"&x=", b"&" * 1000, b"a=1&" * 1000 + b"a=1"]:
        with pytest.raises(HTTPInputError, match="Invalid x-www-form-urlencoded body"):
            _parse(FORM, body)
    small = ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=0))
    assert _parse(FORM, b"", config=small) == ({}, {})
    with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
        _parse(FORM, b"a=1", config=small)


@pytest.mark.parametrize("encoding", ["gzip", "identity", "br"])
def test_content_encoding_is_refused(encoding: str) -> None:
    headers = HTTPHeaders({"Content-Encoding": encoding})
    with pytest.raises(HTTPInputError, match=f"Unsupported Content-Encoding: {encoding}"):
        _parse(FORM, b"a=1", headers)
    with pytest.raises(HTTPInputError, match="Unsupported Content-Encoding"):
        _parse("multipart/form-data; boundary=B", b"--B--", headers)


# -- multipart bodies ----------------------------------------------------------------


def _part(
    disposition: bytes, value: bytes = b"v", extra: bytes = b"", boundary: bytes = b"B"
) -> bytes:
    return (
        b"--"
        + boundary
        + b"\r\nContent-Disposition: "
        + disposition
        + extra
        + b"\r\n\r\n"
        + value
        + b"\r\n"
    )


def _multipart(
    body: bytes, boundary: bytes = b"B", config: ParseMultipartConfig | None = None
) -> tuple[dict[str, list[bytes]], dict[str, list[dict[str, Any]]]]:
    arguments: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    parse_multipart_form_data(boundary, body, arguments, files, config=config)
    return arguments, {name: [dict(f) for f in fs] for name, fs in files.items()}


def test_multipart_files_and_fields() -> None:
    body = (
        _part(b'form-data; name="a"', b"v1")
        + _part(
            b'form-data; name="f"; filename="x.png"',
            b"PNG\r\n--B no CRLF before",
            b"\r\nContent-Type: image/png",
        )
        + _part(b'form-data; name="f"; filename="y"', b"")
        + _part(b'form-data; name="a"', b"v2")
        + _part(b'form-data; name="e"; filename=""', b"not a file")
        + b"--B--\r\n"
    )
    arguments, files = _multipart(body)
    assert arguments == {"a": [b"v1", b"v2"], "e": [b"not a file"]}
    assert files == {
        "f": [
            {
                "filename": "x.png",
                "body": b"PNG\r\n--B no CRLF before",
                "content_type": "image/png",
            },
            {"filename": "y", "body": b"", "content_type": "application/unknown"},
        ]
    }


def test_multipart_through_parse_body_arguments() -> None:
    body = _part(b'form-data; name="files"; filename="ab.txt"', b"Foo") + b"--1234--\r\n"
    body = body.replace(b"--B", b"--1234")
    expected_files = {
        "files": [{"filename": "ab.txt", "body": b"Foo", "content_type": "application/unknown"}]
    }
    for content_type in [
        "multipart/form-data; boundary=1234",
        'multipart/form-data; boundary="1234"',
        "multipart/form-data;boundary=1234",
        "multipart/form-data; boundary=1234; charset=utf-8",
        "multipart/form-data; charset=utf-8; boundary=1234",
        "multipart/form-data; Boundary=1234",
        "Multipart/Form-Data; boundary = 1234",
    ]:
        arguments, files = _parse(content_type, body)
        assert arguments == {}
        assert {k: [dict(f) for f in v] for k, v in files.items()} == expected_files, content_type


def test_multipart_boundary_with_special_characters() -> None:
    body = _part(b'form-data; name="a"', boundary=b"12;34 x") + b"--12;34 x--"
    arguments, _ = _parse('multipart/form-data; boundary="12;34 x"', body)
    assert arguments == {"a": [b"v"]}
    # The quotes may also reach parse_multipart_form_data itself.
    assert _multipart(_part(b'form-data; name="a"') + b"--B--", boundary=b'"B"')[0] == {"a": [b"v"]}


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary=""'],
)
def test_multipart_without_boundary(content_type: str) -> None:
    with pytest.raises(HTTPInputError, match="multipart boundary not found"):
        _parse(content_type, b"--B--")


def test_multipart_rfc2231_names() -> None:
    body = (
        _part(b"form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC%20rates.txt")
        + _part(b'form-data; name="g"; filename="plain.txt"; filename*=iso-8859-1\'en\'%A3.txt')
        + _part(b"form-data; name*=UTF-8''%C3%A9")
        + _part('form-data; name="ü"; filename="ü.txt"'.encode())
        + b"--B--"
    )
    arguments, files = _multipart(body)
    assert arguments == {"é": [b"v"]}
    assert files["f"][0]["filename"] == "€ rates.txt"
    assert files["g"][0]["filename"] == "£.txt"
    assert files["ü"][0]["filename"] == "ü.txt"


def test_multipart_edge_shapes() -> None:
    assert _multipart(b"--B--") == ({}, {})
    assert _multipart(b"--B\r\n--B--") == ({}, {})
    # An epilogue after the final boundary is ignored.
    assert _multipart(_part(b'form-data; name="a"') + b"--B--\r\nepilogue") == ({"a": [b"v"]}, {})
    # Headers, then straight into the final delimiter: an empty value.
    assert _multipart(b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n--B--') == (
        {"a": [b""]},
        {},
    )
    assert _multipart(_part(b'form-data; name="a"', b"\r\n") + b"--B--") == ({"a": [b"\r\n"]}, {})
    # Header names and the disposition type are case-insensitive.
    assert _multipart(b"--B\r\ncontent-disposition: Form-Data; name=a\r\n\r\nv\r\n--B--") == (
        {"a": [b"v"]},
        {},
    )
    # The last final-looking boundary ends the body.
    body = _part(b'form-data; name="a"', b"v1\r\n--B--") + b"--B--"
    assert _multipart(body) == ({"a": [b"v1\r\n--B--"]}, {})


def test_multipart_part_limits() -> None:
    three = b"".join(_part(b'form-data; name="a%d"' % i) for i in range(3)) + b"--B--"
    assert len(_multipart(three, config=ParseMultipartConfig(max_parts=3))[0]) == 3
    with pytest.raises(HTTPInputError, match="too many parts"):
        _multipart(three, config=ParseMultipartConfig(max_parts=2))
    many = b"".join(_part(b'form-data; name="a"') for _ in range(101)) + b"--B--"
    with pytest.raises(HTTPInputError, match="too many parts"):
        _multipart(many)
    hundred = b"".join(_part(b'form-data; name="a"') for _ in range(100)) + b"--B--"
    assert len(_multipart(hundred)[0]["a"]) == 100

    header = b'form-data; name="a"'  # 'Content-Disposition: ' + this = 40 bytes
    assert _multipart(
        _part(header) + b"--B--", config=ParseMultipartConfig(max_part_header_size=40)
    ) == ({"a": [b"v"]}, {})
    with pytest.raises(HTTPInputError, match="part header too large"):
        _multipart(_part(header) + b"--B--", config=ParseMultipartConfig(max_part_header_size=39))
    big = _part(header, extra=b"\r\nX-Pad: " + b"p" * 10240) + b"--B--"
    with pytest.raises(HTTPInputError, match="part header too large"):
        _multipart(big)


def test_multipart_without_opening_boundary() -> None:
    # What precedes the first delimiter is read as a part, as Tornado does:
    # a form whose opening boundary line went missing still parses.
    first = b'Content-Disposition: form-data; name="a"\r\n\r\nv1\r\n'
    body = first + _part(b'form-data; name="b"') + b"--B--"
    assert _multipart(body) == ({"a": [b"v1"], "b": [b"v"]}, {})
    # RFC 2046 section 5.1.1: an empty preamble followed by the delimiter's CRLF.
    assert _multipart(b"\r\n" + _part(b'form-data; name="a"') + b"--B--") == ({"a": [b"v"]}, {})
    # The first part counts towards the limit like any other.
    with pytest.raises(HTTPInputError, match="too many parts"):
        _multipart(body, config=ParseMultipartConfig(max_parts=1))


def test_multipart_disabled() -> None:
    with pytest.raises(HTTPInputError, match="parsing is disabled"):
        _multipart(b"--B--", config=ParseMultipartConfig(enabled=False))
    config = ParseBodyConfig(multipart=ParseMultipartConfig(enabled=False))
    with pytest.raises(HTTPInputError, match="parsing is disabled"):
        _parse("multipart/form-data; boundary=B", b"--B--", config=config)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no final boundary found"),
        (b"junk", "no final boundary found"),
        (_part(b'form-data; name="a"'), "no final boundary found"),
        (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv', "no final boundary found"),
        # A preamble is read as a part (as Tornado does), and has no headers.
        (b"preamble\r\n" + _part(b'form-data; name="a"') + b"--B--", "missing headers"),
        (b"\r\n\r\n" + _part(b'form-data; name="a"') + b"--B--", "part is not form-data"),
        (b"x" + _part(b'form-data; name="a"') + b"--B--", "missing headers"),
        (b"junk--B--", "final boundary not on its own line"),
        (
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv--B--',
            "final boundary not on its own line",
        ),
        (
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\n--B--',
            "final boundary not on its own line",
        ),
        (b'--B\r\nContent-Disposition: form-data; name="a"\r\nv\r\n--B--', "missing headers"),
        (b"--B\r\n\r\n--B--", "missing headers"),
        (
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv1--B\r\n'
            + _part(b'form-data; name="b"')
            + b"--B--",
            "part does not end with CRLF",
        ),
        (b"--B\r\n\r\n\r\nv\r\n--B--", "part is not form-data"),
        (_part(b'attachment; name="a"') + b"--B--", "part is not form-data"),
        (b"--B\r\nX-Foo: bar\r\n\r\nv\r\n--B--", "part is not form-data"),
        (_part(b"form-data") + b"--B--", "missing name"),
        (_part(b'form-data; name=""') + b"--B--", "missing name"),
        (_part(b'form-data; name="a"', extra=b"\rX: y") + b"--B--", "Invalid header value"),
        (_part(b'form-data; name="a"', extra=b"\nX: y") + b"--B--", "bare LF"),
        (
            _part(b'form-data; name="a"', extra=b"\r\n folded") + b"--B--",
            "cannot start with whitespace",
        ),
        (_part(b'form-data; name="a"', extra=b"\r\nBad Header") + b"--B--", "no colon"),
        (_part(b'form-data; name="\xe9"') + b"--B--", "part headers are not UTF-8"),
        (_part(b"form-data; a*=x; a*0=y; name=n") + b"--B--", "RFC 2231"),
        # Only CRLF line ends are multipart syntax.
        (
            _part(b'form-data; name="a"').replace(b"\r\n", b"\n") + b"--B--",
            "final boundary not on its own line",
        ),
    ],
)
def test_multipart_malformed(body: bytes, message: str) -> None:
    with pytest.raises(HTTPInputError, match=message):
        _multipart(body)


def test_multipart_empty_boundary() -> None:
    with pytest.raises(HTTPInputError, match="empty boundary"):
        _multipart(b"----", boundary=b"")
    with pytest.raises(HTTPInputError, match="empty boundary"):
        _multipart(b"----", boundary=b'""')


def test_multipart_is_linear() -> None:
    def run(n: int) -> None:
        body = b"".join(_part(b'form-data; name="a"', b"x" * 50) for _ in range(n)) + b"--B--"
        assert len(_multipart(body, config=ParseMultipartConfig(max_parts=n))[0]["a"]) == n

    _assert_linear(run, 1_000)


# -- HTTPServerRequest ---------------------------------------------------------------


def test_request_defaults() -> None:
    r = HTTPServerRequest()
    assert (r.method, r.uri, r.version, r.path, r.query) == ("GET", "/", "HTTP/1.0", "/", "")
    assert isinstance(r.headers, HTTPHeaders) and len(r.headers) == 0
    assert r.body == b"" and r.files == {} and r.body_arguments == {}
    assert r.host == r.host_name == "127.0.0.1"
    assert r.remote_ip is None and r.protocol == "http"
    assert r.connection is None and r.server_connection is None
    assert r.arguments == {} and r.query_arguments == {}
    assert r._finish_time is None
    assert r.full_url() == "http://127.0.0.1/"
    assert r.get_ssl_certificate() is None
    assert not r.supports_http_1_1()
    assert repr(r) == (
        "HTTPServerRequest(protocol='http', host='127.0.0.1', method='GET', uri='/', "
        "version='HTTP/1.0', remote_ip=None)"
    )
    assert HTTPServerRequest(method="", uri="").uri == "/"


def test_request_uri_split() -> None:
    r = HTTPServerRequest(
        "GET", "/foo/bar?a=1&b=%FF&a=&c#frag", headers=HTTPHeaders({"Host": "Example.COM:8080"})
    )
    assert r.path == "/foo/bar"
    assert r.query == "a=1&b=%FF&a=&c#frag"
    assert r.arguments == {"a": [b"1", b""], "b": [b"\xff"], "c#frag": [b""]}
    assert r.host == "Example.COM:8080"
    assert r.host_name == "example.com"
    assert r.full_url() == "http://Example.COM:8080/foo/bar?a=1&b=%FF&a=&c#frag"
    assert HTTPServerRequest(uri="?a=1").path == ""


def test_request_start_line() -> None:
    start_line = RequestStartLine("POST", "/x?y=1", "HTTP/1.1")
    r = HTTPServerRequest(
        method="PUT", uri="/ignored", start_line=start_line, headers=HTTPHeaders({"Host": "h"})
    )
    assert (r.method, r.uri, r.version, r.path, r.query) == (
        "POST",
        "/x?y=1",
        "HTTP/1.1",
        "/x",
        "y=1",
    )
    assert r.supports_http_1_1()
    assert r.arguments == {"y": [b"1"]}
    assert repr(r) == (
        "HTTPServerRequest(protocol='http', host='h', method='POST', uri='/x?y=1', "
        "version='HTTP/1.1', remote_ip=None)"
    )
    # A start line is taken as is, empty parts included.
    assert HTTPServerRequest(start_line=RequestStartLine("", "", "HTTP/1.0")).method == ""


def test_request_host() -> None:
    r = HTTPServerRequest("GET", "/", host="given.host:99", headers=HTTPHeaders({"Host": "hdr"}))
    assert (r.host, r.host_name, r.full_url()) == (
        "given.host:99",
        "given.host",
        "http://given.host:99/",
    )
    assert HTTPServerRequest(headers=HTTPHeaders({"Host": "x"}), host="").host == ""
    r = HTTPServerRequest(headers=HTTPHeaders({"Host": "[::1]:8080"}))
    assert (r.host, r.host_name) == ("[::1]:8080", "[::1]")
    assert HTTPServerRequest(headers=HTTPHeaders({"Host": "[::1]"})).host_name == "[::1]"
    r = HTTPServerRequest(version="HTTP/1.1", headers=HTTPHeaders({"Host": ""}))
    assert (r.host, r.host_name) == ("", "")
    # A plain dict of headers works too.
    assert HTTPServerRequest(headers={"Host": "d"}).host == "d"  # type: ignore[arg-type]
    assert HTTPServerRequest(headers={}).host == "127.0.0.1"  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/2.0", "HTTP/0.9", ""])
def test_request_requires_host_except_http10(version: str) -> None:
    with pytest.raises(HTTPInputError, match="Missing Host header"):
        HTTPServerRequest(version=version)
    assert HTTPServerRequest(version=version, host="x").host == "x"


def test_request_rejects_several_hosts() -> None:
    headers = HTTPHeaders()
    headers.add("Host", "a")
    headers.add("Host", "b")
    with pytest.raises(HTTPInputError, match="Multiple host headers not allowed: 'a,b'"):
        HTTPServerRequest(version="HTTP/1.1", headers=headers)


class _Context:
    remote_ip = "1.2.3.4"
    protocol = "https"


class _Connection:
    context = _Context()

    def __init__(self, cert: Any = None, error: bool = False) -> None:
        self.cert = cert
        self.error = error
        self.calls: list[bool] = []

    def get_ssl_certificate(self, binary_form: bool = False) -> Any:
        self.calls.append(binary_form)
        if self.error:
            raise ssl.SSLError("handshake not done")
        return self.cert


def test_request_connection_context() -> None:
    conn = _Connection(cert={"subject": ()})
    r = HTTPServerRequest("GET", "/p", connection=conn)  # type: ignore[arg-type]
    assert (r.remote_ip, r.protocol, r.full_url()) == ("1.2.3.4", "https", "https://127.0.0.1/p")
    assert r.connection is conn
    assert r.get_ssl_certificate() == {"subject": ()}
    assert r.get_ssl_certificate(binary_form=True) == {"subject": ()}
    assert conn.calls == [False, True]
    assert HTTPServerRequest(connection=_Connection(error=True)).get_ssl_certificate() is None  # type: ignore[arg-type]

    class NoContext:
        pass

    r = HTTPServerRequest(connection=NoContext(), server_connection="srv")  # type: ignore[arg-type]
    assert (r.remote_ip, r.protocol, r.server_connection) == (None, "http", "srv")
    assert r.get_ssl_certificate() is None


def test_request_arguments_are_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = httputil.parse_qs_bytes

    def counting(qs: Any, *args: Any, **kwargs: Any) -> dict[str, list[bytes]]:
        calls.append(qs)
        return real(qs, *args, **kwargs)

    # Where HTTPServerRequest looks it up (httputil is a package).
    monkeypatch.setattr(httputil._request, "parse_qs_bytes", counting)
    r = HTTPServerRequest("GET", "/?a=1&b=2")
    assert calls == []
    assert r.query_arguments == {"a": [b"1"], "b": [b"2"]}
    assert r.arguments == {"a": [b"1"], "b": [b"2"]}
    assert r.arguments is r.arguments and r.query_arguments is r.query_arguments
    assert calls == ["a=1&b=2"]


def test_request_argument_dicts_are_independent() -> None:
    r = HTTPServerRequest("GET", "/?a=1&a=2&b=")
    qa = r.query_arguments
    qa["a"].append(b"3")
    qa["new"] = [b"x"]
    assert r.arguments == {"a": [b"1", b"2"], "b": [b""]}
    assert r.query_arguments == {"a": [b"1", b"2", b"3"], "b": [b""], "new": [b"x"]}

    r = HTTPServerRequest("GET", "/?a=1")
    r.arguments.setdefault("z", []).append(b"9")
    r.arguments["a"].append(b"2")
    assert r.arguments == {"a": [b"1", b"2"], "z": [b"9"]}
    assert r.query_arguments == {"a": [b"1"]}


def test_request_arguments_can_be_assigned() -> None:
    r = HTTPServerRequest("GET", "/?a=1")
    r.query_arguments = {"q": [b"x"]}
    # arguments is still what the query string held.
    assert r.arguments == {"a": [b"1"]}
    assert r.query_arguments == {"q": [b"x"]}

    r = HTTPServerRequest("GET", "/?a=1")
    r.arguments = {"only": [b"me"]}
    assert r.arguments == {"only": [b"me"]}
    assert r.query_arguments == {"a": [b"1"]}

    r = HTTPServerRequest("GET", "/?a=1")
    r.query = "changed=1"  # the dicts come from the query as received
    assert r.arguments == {"a": [b"1"]}


def test_request_query_argument_limit(restore_body_config: None) -> None:
    exactly = "/?" + "&".join(f"a{i}=1" for i in range(1000))
    assert len(HTTPServerRequest("GET", exactly).arguments) == 1000
    for uri in [exactly + "&x=1", "/?" + "&" * 1000]:
        with pytest.raises(
            HTTPInputError, match="Invalid query string: Max number of fields exceeded"
        ):
            HTTPServerRequest("GET", uri)
    # Without a query string there is nothing to count.
    assert HTTPServerRequest("GET", "/" + "&a" * 1500).arguments == {}
    set_parse_body_config(ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=1)))
    with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
        HTTPServerRequest("GET", "/?a=1&b=2")
    assert HTTPServerRequest("GET", "/?a=1").arguments == {"a": [b"1"]}


def test_check_query_arguments_helper() -> None:
    httputil._check_query_arguments("a=1&b=2")
    httputil._check_query_arguments("", ParseUrlEncodedConfig(max_arguments=0))
    httputil._check_query_arguments("a&b", ParseUrlEncodedConfig(max_arguments=2))
    with pytest.raises(HTTPInputError, match="Invalid query string"):
        httputil._check_query_arguments("a&b&c", ParseUrlEncodedConfig(max_arguments=2))


def test_request_parse_body() -> None:
    headers = HTTPHeaders({"Content-Type": FORM, "Host": "h"})
    r = HTTPServerRequest("POST", "/?a=1", body=b"a=2&c=3", headers=headers)
    assert r.body_arguments == {}
    r._parse_body()
    assert r.body_arguments == {"a": [b"2"], "c": [b"3"]}
    assert r.arguments == {"a": [b"1", b"2"], "c": [b"3"]}
    assert r.query_arguments == {"a": [b"1"]}

    body = _part(b'form-data; name="f"; filename="x"', b"data") + b"--B--"
    headers = HTTPHeaders({"Content-Type": "multipart/form-data; boundary=B"})
    r = HTTPServerRequest("POST", "/", body=body, headers=headers)
    r._parse_body()
    assert r.files["f"][0].body == b"data" and r.arguments == {}

    headers = HTTPHeaders({"Content-Type": FORM})
    r = HTTPServerRequest("POST", "/", body=b"&" * 1000, headers=headers)
    with pytest.raises(HTTPInputError, match="x-www-form-urlencoded"):
        r._parse_body()


def test_request_cookies() -> None:
    headers = HTTPHeaders({"Cookie": 'a=1; b="x y"; c="\\073\\"q"'})
    r = HTTPServerRequest(headers=headers)
    cookies = r.cookies
    assert isinstance(cookies, http.cookies.SimpleCookie)
    assert {k: v.value for k, v in cookies.items()} == {"a": "1", "b": "x y", "c": ';"q'}
    assert r.cookies is cookies
    assert dict(HTTPServerRequest().cookies) == {}


def test_request_cookies_drop_what_simplecookie_refuses() -> None:
    headers = HTTPHeaders(
        {"Cookie": "a b=1; \x01bad=2; expires=3; path=/; ]_xsrf=4; ok=5; $Version=1"}
    )
    cookies = HTTPServerRequest(headers=headers).cookies
    assert {k: v.value for k, v in cookies.items()} == {"ok": "5", "$Version": "1"}


def test_request_cookie_value_cannot_inject_a_cookie() -> None:
    headers = HTTPHeaders({"Cookie": "a=x]_xsrf=evil; b=2"})
    cookies = HTTPServerRequest(headers=headers).cookies
    assert "_xsrf" not in cookies
    assert {k: v.value for k, v in cookies.items()} == {"a": "x]_xsrf=evil", "b": "2"}


def test_request_joins_several_cookie_headers() -> None:
    headers = HTTPHeaders()
    headers.add("Cookie", "a=1")
    headers.add("Cookie", "b=2")
    cookies = HTTPServerRequest(headers=headers).cookies
    assert {k: v.value for k, v in cookies.items()} == {"a": "1", "b": "2"}


def test_request_time() -> None:
    r = HTTPServerRequest()
    assert 0 <= r.request_time() < 60
    assert abs(r._start_time - time.time()) < 60
    r._finish_time = r._start_time + 2.5
    assert r.request_time() == 2.5


# -- delegate interfaces -----------------------------------------------------------


def test_delegate_interfaces() -> None:
    with pytest.raises(NotImplementedError):
        HTTPServerConnectionDelegate().start_request(object(), HTTPConnection())
    assert HTTPServerConnectionDelegate().on_close(object()) is None

    delegate = HTTPMessageDelegate()
    start_line = RequestStartLine("GET", "/", "HTTP/1.1")
    assert delegate.headers_received(start_line, HTTPHeaders()) is None
    assert delegate.data_received(b"chunk") is None
    assert delegate.finish() is None
    assert delegate.on_connection_close() is None

    conn = HTTPConnection()
    with pytest.raises(NotImplementedError):
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
    with pytest.raises(NotImplementedError):
        conn.write(b"x")
    with pytest.raises(NotImplementedError):
        conn.finish()


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        (HTTPServerConnectionDelegate.start_request, ["self", "server_conn", "request_conn"]),
        (HTTPServerConnectionDelegate.on_close, ["self", "server_conn"]),
        (HTTPMessageDelegate.headers_received, ["self", "start_line", "headers"]),
        (HTTPMessageDelegate.data_received, ["self", "chunk"]),
        (HTTPMessageDelegate.finish, ["self"]),
        (HTTPMessageDelegate.on_connection_close, ["self"]),
        (HTTPConnection.write_headers, ["self", "start_line", "headers", "chunk"]),
        (HTTPConnection.write, ["self", "chunk"]),
        (HTTPConnection.finish, ["self"]),
    ],
)
def test_delegate_signatures(method: Callable[..., Any], parameters: list[str]) -> None:
    assert list(inspect.signature(method).parameters) == parameters


# -- URLs and dates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "args", "expected"),
    [
        ("http://x.com/a", {"b": "1", "c": "d e"}, "http://x.com/a?b=1&c=d+e"),
        ("http://x.com/a?x=1", [("b", "1"), ("b", "2")], "http://x.com/a?x=1&b=1&b=2"),
        ("http://x.com/a?x=1#frag", (("b", "é"),), "http://x.com/a?x=1&b=%C3%A9#frag"),
        ("http://x.com/a?", {"b": None}, "http://x.com/a?b=None"),
        ("http://x.com/a?x=&y", {"b": ""}, "http://x.com/a?x=&y=&b="),
        ("http://x.com/a?x=1&x=2", [("x", "3")], "http://x.com/a?x=1&x=2&x=3"),
        ("http://x.com/a;p?q=1#f", {"b": 1}, "http://x.com/a;p?q=1&b=1#f"),
        ("http://x.com/a", None, "http://x.com/a"),
        ("/a?", {}, "/a"),
        ("/a?x=1", [], "/a?x=1"),
    ],
)
def test_url_concat(url: str, args: Any, expected: str) -> None:
    assert url_concat(url, args) == expected


def test_url_concat_bad_args() -> None:
    with pytest.raises(
        TypeError, match=r"'args' parameter should be dict, list or tuple\. Not <class 'str'>"
    ):
        url_concat("http://x.com/", "b=1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        url_concat("http://x.com/", [("b",)])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (1e9 + 0.7, "Sun, 09 Sep 2001 01:46:40 GMT"),
        (1359312200, "Sun, 27 Jan 2013 18:43:20 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (True, "Thu, 01 Jan 1970 00:00:01 GMT"),
        ((2001, 9, 9, 1, 46, 40, 6, 252, 0), "Sun, 09 Sep 2001 01:46:40 GMT"),
        (time.gmtime(1e9), "Sun, 09 Sep 2001 01:46:40 GMT"),
        (datetime.datetime(2001, 9, 9, 1, 46, 40), "Sun, 09 Sep 2001 01:46:40 GMT"),
        (
            datetime.datetime(
                2001, 9, 9, 3, 46, 40, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
            "Sun, 09 Sep 2001 01:46:40 GMT",
        ),
    ],
)
def test_format_timestamp(ts: Any, expected: str) -> None:
    assert format_timestamp(ts) == expected
    assert format_timestamp(ts) == expected  # the same second again, from the cache


@pytest.mark.parametrize("bad", ["x", None, datetime.date(2001, 1, 1), [0]])
def test_format_timestamp_rejects_other_types(bad: Any) -> None:
    with pytest.raises(TypeError, match="unknown timestamp type"):
        format_timestamp(bad)


# -- start lines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /foo HTTP/1.1", ("GET", "/foo", "HTTP/1.1")),
        ("get /foo HTTP/1.0", ("get", "/foo", "HTTP/1.0")),
        ("GET /foo HTTP/1.2", ("GET", "/foo", "HTTP/1.2")),
        ("M-SEARCH * HTTP/1.1", ("M-SEARCH", "*", "HTTP/1.1")),
        ("GET http://x/ HTTP/1.1", ("GET", "http://x/", "HTTP/1.1")),
        ("G.E_T!#$%&'*+^`|~9 / HTTP/1.1", ("G.E_T!#$%&'*+^`|~9", "/", "HTTP/1.1")),
        ("GET /\x80é HTTP/1.1", ("GET", "/\x80é", "HTTP/1.1")),
    ],
)
def test_parse_request_start_line(line: str, expected: tuple[str, str, str]) -> None:
    parsed = parse_request_start_line(line)
    assert parsed == RequestStartLine(*expected)
    assert (parsed.method, parsed.path, parsed.version) == expected


@pytest.mark.parametrize(
    "line",
    [
        "GET /foo",
        "GET /foo HTTP/2",
        "GET  /foo HTTP/1.1",
        "GET /foo HTTP/1.1 x",
        "GET /foo http/1.1",
        "GET /foo HTTP/1.10",
        "GET /foo HTTP/11.1",
        "",
        "GET /foo HTTP/1.1\r\n",
        "G@T /f HTTP/1.1",
        "GET /f\x00 HTTP/1.1",
        "GET /a\tb HTTP/1.1",
        "GET /\x7f HTTP/1.1",
        "GET /\u2028 HTTP/1.1",
        " GET / HTTP/1.1",
        "GET / HTTP/\u0661.\u0661",  # Arabic-Indic digits,
    ],
)
def test_parse_request_start_line_malformed(line: str) -> None:
    with pytest.raises(HTTPInputError, match=r"^Malformed HTTP request line$"):
        parse_request_start_line(line)


@pytest.mark.parametrize("version", ["HTTP/0.9", "HTTP/2.0", "HTTP/9.9"])
def test_parse_request_start_line_other_major_version(version: str) -> None:
    with pytest.raises(HTTPInputError, match=f"Unexpected HTTP version '{version}'"):
        parse_request_start_line(f"GET / {version}")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("HTTP/1.1 200 OK", ("HTTP/1.1", 200, "OK")),
        ("HTTP/1.1 404 Not  Found ", ("HTTP/1.1", 404, "Not  Found ")),
        ("HTTP/1.0 999 Weird", ("HTTP/1.0", 999, "Weird")),
        ("HTTP/1.0 099 x", ("HTTP/1.0", 99, "x")),
        ("HTTP/1.1 200 a\tb é\x80", ("HTTP/1.1", 200, "a\tb é\x80")),
        ("HTTP/1.1 200 ", ("HTTP/1.1", 200, "")),
    ],
)
def test_parse_response_start_line(line: str, expected: tuple[str, int, str]) -> None:
    assert parse_response_start_line(line) == ResponseStartLine(*expected)


@pytest.mark.parametrize(
    "line",
    [
        "HTTP/1.1 200",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 abc OK",
        "HTTP/1.1 \uff12\uff10\uff10 OK",  # fullwidth digits
        "HTTP/2 200 OK",
        "ICY 200 OK",
        "HTTP/1.1  200 OK",
        "HTTP/1.1 200\tOK",
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 O\x00K",
        "HTTP/1.1 200 a\x7fb",
        "HTTP/1.1 200 \u2028",
    ],
)
def test_parse_response_start_line_malformed(line: str) -> None:
    with pytest.raises(HTTPInputError, match="Error parsing response start line"):
        parse_response_start_line(line)


@pytest.mark.parametrize("line", ["HTTP/2.0 200 OK", "HTTP/0.9 200 OK"])
def test_parse_response_start_line_other_major_version(line: str) -> None:
    # Well formed, but not HTTP/1.x: Tornado 6.6's wording for requests too.
    with pytest.raises(HTTPInputError, match=r"^Unexpected HTTP version 'HTTP/"):
        parse_response_start_line(line)


def test_start_line_tuples() -> None:
    assert RequestStartLine._fields == ("method", "path", "version")
    assert ResponseStartLine._fields == ("version", "code", "reason")
    assert ResponseStartLine("HTTP/1.1", 200, "OK").code == 200


# -- cookies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; ]_xsrf=evil; b", {"a": "1", "]_xsrf": "evil", "": "b"}),
        ("a=x]_xsrf=evil", {"a": "x]_xsrf=evil"}),
        ('a="x; _xsrf=evil"', {"a": '"x', "_xsrf": 'evil"'}),
        ('a="x]_xsrf=evil"', {"a": "x]_xsrf=evil"}),
        ("a=1;b=2", {"a": "1", "b": "2"}),
        ("a=1 ;  b = 2 ", {"a": "1", "b": "2"}),
        (' a = " x y " ', {"a": " x y "}),
        ('a="\\073\\"x"', {"a": ';"x'}),
        ('a="\\101"', {"a": "A"}),
        ('a="\\\\"', {"a": "\\"}),
        ('a="\\1234"', {"a": "S4"}),
        ('a="\\377\\400"', {"a": "ÿ400"}),
        ('a="\\z\\t"', {"a": "zt"}),
        ('a="\\"', {"a": "\\"}),
        ('a=""', {"a": ""}),
        ('a="""', {"a": '"'}),
        ('a="x', {"a": '"x'}),
        ('a=x"', {"a": 'x"'}),
        ('"a"=1', {'"a"': "1"}),
        ("a", {"": "a"}),
        ("=a", {"": "a"}),
        ("a=", {"a": ""}),
        (";;;", {}),
        ("", {}),
        ("a=1; a=2", {"a": "2"}),
        ("a=b=c", {"a": "b=c"}),
        ("a=1,b=2", {"a": "1,b=2"}),
        ("a=\t1\t", {"a": "1"}),
        ("é=ü", {"é": "ü"}),
        ("foo=bar; $Path=/", {"foo": "bar", "$Path": "/"}),
        ("a=%20b; c=+", {"a": "%20b", "c": "+"}),
        (
            'keebler="E=mc2; L=\\"Loves\\"; fudge=\\012;";',
            {"keebler": '"E=mc2', "L": '\\"Loves\\"', "fudge": "\\012", "": '"'},
        ),
    ],
)
def test_parse_cookie(header: str, expected: dict[str, str]) -> None:
    assert parse_cookie(header) == expected


@pytest.mark.parametrize("unit", [";", '"', '\\"', "\\", 'a="\\0', "a=b; "])
def test_parse_cookie_is_linear(unit: str) -> None:
    _assert_linear(lambda n: parse_cookie('a="' + unit * n + '"'), 10_000)


# -- header parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'form-data; name="files"; filename="fo\\"o.txt"',
            ("form-data", {"name": "files", "filename": 'fo"o.txt'}),
        ),
        ("text/html; charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        ("text/html", ("text/html", {})),
        ("", ("", {})),
        ("a;b;c=d;;e=", ("a", {"c": "d", "e": ""})),
        ('a; b="x;y"; c=z', ("a", {"b": "x;y", "c": "z"})),
        ('"a;b"; c=d', ('"a;b"', {"c": "d"})),
        ('a"; b=c', ('a"; b=c', {})),
        ("a; B=C", ("a", {"b": "C"})),
        ("A ; b = c ", ("A", {"b": "c"})),
        ("\x0ba\x0b; b=\xa0x\xa0", ("a", {"b": "x"})),
        ("a; b='c'", ("a", {"b": "'c'"})),
        ('a; b="c', ("a", {"b": '"c'})),
        ('a; b="c"d', ("a", {"b": '"c"d'})),
        ('a; b="c" d; e=f', ("a", {"b": '"c" d', "e": "f"})),
        ('a; b="c\\"; d=e', ("a", {"b": '"c\\"; d=e'})),
        ('a; b=c"; d="e; f=g', ("a", {"b": 'c"; d="e', "f": "g"})),
        ('a; b="x\\y"', ("a", {"b": "x\\y"})),
        ('a; b="x\\\\y"', ("a", {"b": "x\\y"})),
        ("a; b=x\\\\y", ("a", {"b": "x\\\\y"})),
        ('a; b=""""', ("a", {"b": ""})),
        ('a; b="\\"x\\\\\\\\y\\""', ("a", {"b": "x\\\\y"})),
        ("a; b=<x>", ("a", {"b": "x"})),
        ('a; b="<x>"', ("a", {"b": "<x>"})),
        ("a; =b", ("a", {"": "b"})),
        ("a; b=1; b=2", ("a", {"b": "2"})),
        ('a; "b"=c', ("a", {'"b"': "c"})),
        ("a; b-c*=UTF-8''x", ("a", {"b-c*": "UTF-8''x"})),
        ("a; é*=x", ("a", {"é*": "x"})),
    ],
)
def test_parse_header(line: str, expected: tuple[str, dict[str, str]]) -> None:
    key, params = _parse_header(line)
    assert (key, params) == expected
    assert list(params) == list(expected[1])  # the order too


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("attachment; filename*=UTF-8''%E2%82%AC%20rates", {"filename": "€ rates"}),
        ("attachment; filename*=iso-8859-1'en'%A3%20rates", {"filename": "£ rates"}),
        ("attachment; filename=x; filename*=UTF-8''y", {"filename": "y"}),
        ("attachment; filename*=UTF-8''y; filename=x", {"filename": "y"}),
        ("a; FILENAME*=UTF-8''x", {"filename": "x"}),
        ("a; filename*=utf-8''a%20b", {"filename": "a b"}),
        ("a; filename*=''x", {"filename": "x"}),
        ("a; filename*=bad", {"filename": "bad"}),
        ("a; filename*=bogus-enc''x", {"filename": "x"}),
        ("a; filename*=UTF-8''%FF", {"filename": "\ufffd"}),
        ("a; filename*=\"UTF-8''x\"", {"filename": "x"}),
        ("a; b*0=c; b*1=d", {"b": "cd"}),
        ("a; b*1=y; b*0=x", {"b": "xy"}),
        ("a; b*0*=utf-8''%41; b*1*=%42", {"b": "AB"}),
        ("a; b*0=x; b=y", {"b": "x"}),
        ("a; b*=a'b'c'd", {"b": "c'd"}),
        ("a; b* = x ", {"b": "x"}),
        ("a; x=1; y*=2", {"x": "1", "y": "2"}),
    ],
)
def test_parse_header_rfc2231(line: str, expected: dict[str, str]) -> None:
    _, params = _parse_header(line)
    assert params == expected
    assert list(params) == list(expected)


@pytest.mark.parametrize("line", ["a; b*=x; b*0=y", "a; b*0=y; b*=x"])
def test_parse_header_rejects_mixed_continuations(line: str) -> None:
    with pytest.raises(HTTPInputError, match="RFC 2231"):
        _parse_header(line)


@pytest.mark.parametrize("unit", [";", '"', '\\"', 'b="x;y";', "b=c;", "\\"])
def test_parse_header_is_linear(unit: str) -> None:
    _assert_linear(lambda n: _parse_header("form-data; " + unit * n), 5_000)


def test_encode_header() -> None:
    assert (
        _encode_header("form-data", {"name": "a", "filename": "b c"})
        == "form-data; filename=b c; name=a"
    )
    assert _encode_header("a", {}) == "a"
    assert _encode_header("a", {"b": None}) == "a; b"
    assert _encode_header("a", {"b": ""}) == "a; b="
    assert (
        _encode_header(
            "permessage-deflate",
            {"client_max_window_bits": "15", "client_no_context_takeover": None},
        )
        == "permessage-deflate; client_max_window_bits=15; client_no_context_takeover"
    )
    params = {"charset": "utf-8", "q": "1"}
    assert _parse_header(_encode_header("text/html", params)) == ("text/html", params)


# -- small helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("netloc", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("example.com:80", ("example.com", 80)),
        ("[::1]:8080", ("[::1]", 8080)),
        ("[::1]", ("[::1]", None)),
        ("::1", (":", 1)),
        ("x:", ("x:", None)),
        ("x:abc", ("x:abc", None)),
        (":80", (":80", None)),
        ("", ("", None)),
        ("x:80:90", ("x:80", 90)),
        ("x:0080", ("x", 80)),
        ("x:99999", ("x", 99999)),
        ("x:-1", ("x:-1", None)),
        ("x: 80", ("x: 80", None)),
        ("x:\uff18\uff10", ("x", 80)),  # fullwidth digits are digits
        ("x\n:80", ("x\n:80", None)),
    ],
)
def test_split_host_and_port(netloc: str, expected: tuple[str, int | None]) -> None:
    assert split_host_and_port(netloc) == expected


def test_qs_to_qsl() -> None:
    pairs = qs_to_qsl({"a": ["1", "2"], "b": ["x"]})
    assert not isinstance(pairs, list)  # lazy
    assert list(pairs) == [("a", "1"), ("a", "2"), ("b", "x")]
    assert list(qs_to_qsl({"a": [b"1"], "b": []})) == [("a", b"1")]
    assert list(qs_to_qsl({})) == []


def test_encode_username_password() -> None:
    assert encode_username_password("u", "p") == b"u:p"
    assert encode_username_password(b"u\xff", "pé") == b"u\xff:p\xc3\xa9"
    assert encode_username_password("", "") == b":"
    with pytest.raises(TypeError, match="not None"):
        encode_username_password(None, "p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected bytes"):
        encode_username_password("u", 5)  # type: ignore[arg-type]
