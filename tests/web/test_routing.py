"""squall.routing: matchers, rules, reversal, and routers serving real requests.

Socket tests run an HTTPServer on 127.0.0.1 with a router as its callback;
a blocking raw-socket client runs on a worker thread meanwhile.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httptools
import pytest

from squall import gen
from squall.httpserver import HTTPServer
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import app_log, gen_log
from squall.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    Matcher,
    PathMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    RoutePatternError,
    Router,
    Rule,
    RuleRouter,
    URLSpec,
)
from squall.testing import ExpectLog, bind_unused_port


def make_request(
    uri: str = "/", host: str = "example.com", method: str = "GET", **headers: str
) -> HTTPServerRequest:
    return HTTPServerRequest(
        start_line=RequestStartLine(method, uri, "HTTP/1.1"),
        headers=HTTPHeaders({"Host": host, **headers}),
    )


class Target:
    """Something a rule can point at that is neither router nor callable."""


# -- PathMatches -------------------------------------------------------------------


def test_path_positional_groups_are_percent_decoded_bytes() -> None:
    m = PathMatches(r"/a/([^/]+)/(\d+)")
    assert m.match(make_request("/a/h%C3%A9llo%2Fx+y/12?q=1")) == {
        "path_args": ["héllo/x+y".encode(), b"12"],
        "path_kwargs": {},
    }


def test_path_named_groups_go_to_kwargs_only() -> None:
    m = PathMatches(r"/(?P<year>\d{4})/(?P<slug>[^/]+)")
    assert m.match(make_request("/2024/a%20b")) == {
        "path_args": [],
        "path_kwargs": {"year": b"2024", "slug": b"a b"},
    }


def test_path_group_that_did_not_participate_is_none() -> None:
    assert PathMatches(r"/x(/\d+)?").match(make_request("/x")) == {
        "path_args": [None],
        "path_kwargs": {},
    }
    assert PathMatches(r"/x(?P<n>/\d+)?").match(make_request("/x")) == {
        "path_args": [],
        "path_kwargs": {"n": None},
    }


def test_path_without_groups_matches_with_no_params() -> None:
    m = PathMatches("/about")
    assert m.match(make_request("/about?x=1")) == {}
    assert m.match(make_request("/about/")) is None
    assert m.match(make_request("/")) is None


def test_path_pattern_is_anchored_at_both_ends() -> None:
    m = PathMatches("/a")
    assert m.regex.pattern == "/a$"
    assert m.match(make_request("/ab")) is None
    assert m.match(make_request("/x/a")) is None
    # Already anchored: left alone.
    assert PathMatches("/a$").regex.pattern == "/a$"
    # An escaped dollar is a literal character, not an anchor.
    escaped = PathMatches(r"/price\$")
    assert escaped.regex.pattern == r"/price\$$"
    assert escaped.match(make_request("/price$")) == {}
    assert escaped.match(make_request("/price$x")) is None


def test_path_compiled_pattern_is_used_as_given() -> None:
    m = PathMatches(re.compile("/y"))
    assert m.regex.pattern == "/y"
    assert m.match(make_request("/yz")) == {}  # no anchor was added


def test_path_matching_uses_the_raw_path() -> None:
    # The pattern sees the path as sent: percent-encoded.
    assert PathMatches("/a%20b").match(make_request("/a%20b")) == {}
    assert PathMatches("/a b").match(make_request("/a%20b")) is None


def test_bad_path_pattern_names_the_pattern() -> None:
    with pytest.raises(RoutePatternError, match=r"invalid path pattern '/\(x': missing \)") as e:
        PathMatches("/(x")
    assert isinstance(e.value, re.error)  # what Tornado raised
    assert isinstance(e.value, ValueError)
    assert e.value.pattern == "/(x"
    assert e.value.pos == 1


def test_mixed_named_and_positional_groups_rejected_at_construction() -> None:
    with pytest.raises(RoutePatternError, match="mixes named and positional groups"):
        PathMatches(r"/(?P<id>\d+)/(\w+)")


@pytest.mark.parametrize("pattern", [re.compile(b"/x"), 5, None, b"/x"])
def test_path_pattern_must_be_text(pattern: Any) -> None:
    with pytest.raises(TypeError, match="path patterns must be"):
        PathMatches(pattern)


# -- reversing paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "args", "expected"),
    [
        (r"/a/([^/]+)/(\d+)", ("a b/é", 5), "/a/a%20b/%C3%A9/5"),
        (r"/a/([^/]+)", (b"x y",), "/a/x%20y"),
        (r"/a/(.+)", ("x?y#z&w+v",), "/a/x%3Fy%23z%26w%2Bv"),
        (r"/a/(\d+)/edit", (7,), "/a/7/edit"),
        (r"/n/(.*)", (1.5,), "/n/1.5"),
        (r"^/a/(\d+)$", (3,), "/a/3"),
        (r"/a\.b/(\d+)", (3,), "/a.b/3"),
        (r"/a\(b/(\d+)", (3,), "/a(b/3"),
        (r"/(?P<a>\d+)/(?P<b>\w+)", (1, "q"), "/1/q"),
        (r"/index.html", (), "/index.html"),
        (r"/static/", (), "/static/"),
        (r"/100%/(\d+)", (1,), "/100%/1"),
        (r"/100%", (), "/100%"),
        (r"/x/([(])/(\d+)", ("(", 2), "/x/%28/2"),
        (r"/x/([)\]]+)/(\d+)", ("a", 2), "/x/a/2"),
        (r"/x/(\)|a)/(\d+)", ("a", 2), "/x/a/2"),
        # Outside groups, classes are kept as written (Tornado's rule); their
        # parentheses are not groups.
        (r"/[(]x/(\d+)", (3,), "/[(]x/3"),
        (r"/[]a]/(\d+)", (3,), "/[]a]/3"),
        (r"/[^]a]/(\d+)", (3,), "/[^]a]/3"),
        (r"/[\]]/(\d+)", (3,), r"/[\]]/3"),
    ],
)
def test_reverse(pattern: str, args: tuple[Any, ...], expected: str) -> None:
    assert PathMatches(pattern).reverse(*args) == expected


@pytest.mark.parametrize("value", ["plain", "a b", "ü/é", "50%", "a+b", "?#&="])
def test_reverse_then_match_gives_the_argument_back(value: str) -> None:
    m = PathMatches(r"/item/(.+)/x")
    path = m.reverse(value)
    assert path is not None
    assert m.match(make_request(path)) == {"path_args": [value.encode()], "path_kwargs": {}}


@pytest.mark.parametrize(
    "pattern",
    [
        r"/(?:x)/(\d+)",  # non-capturing group
        r"(?i)/a/(\d+)",  # inline flags
        r"/a\d/(\d+)",  # an escape with no literal meaning
        r"/a/((x)y)",  # nested groups
        r"/a(?=b)",  # lookahead
    ],
)
def test_reverse_refuses_patterns_it_cannot_reverse(pattern: str) -> None:
    with pytest.raises(ValueError, match="Cannot reverse url regex"):
        PathMatches(pattern).reverse("q")


def test_reverse_wrong_number_of_arguments() -> None:
    m = PathMatches(r"/a/(\d+)/(\d+)")
    with pytest.raises(ValueError, match=r"takes 2 argument\(s\), got 1"):
        m.reverse(1)
    with pytest.raises(ValueError, match=r"takes 2 argument\(s\), got 3"):
        m.reverse(1, 2, 3)
    with pytest.raises(ValueError, match=r"takes 0 argument\(s\), got 1"):
        PathMatches("/static/").reverse("x")


def test_find_groups_template() -> None:
    assert PathMatches(r"/a/(\d+)/b/(\w+)")._find_groups() == ("/a/%s/b/%s", 2)
    assert PathMatches(r"/(?:x)")._find_groups() == (None, None)


# -- host matchers -------------------------------------------------------------------


def test_host_matches_whole_host_name_without_port() -> None:
    m = HostMatches(r"example\.com")
    assert m.host_pattern.pattern == r"example\.com$"
    assert m.match(make_request(host="example.com:8080")) == {}
    assert m.match(make_request(host="EXAMPLE.com")) == {}
    assert m.match(make_request(host="www.example.com")) is None
    assert m.match(make_request(host="example.com.evil")) is None
    assert m.reverse() is None


def test_host_matches_prefix_pattern_is_not_a_prefix_match() -> None:
    assert HostMatches("example").match(make_request(host="example.com")) is None


def test_host_matches_ipv6_literal() -> None:
    assert HostMatches(r"\[::1\]").match(make_request(host="[::1]:8000")) == {}


def test_host_compiled_pattern_used_as_given() -> None:
    m = HostMatches(re.compile("a.*"))
    assert m.host_pattern.pattern == "a.*"
    assert m.match(make_request(host="abc")) == {}


def test_bad_host_pattern() -> None:
    with pytest.raises(RoutePatternError, match=r"invalid host pattern '\(x'"):
        HostMatches("(x")
    with pytest.raises(TypeError, match="host patterns must be"):
        HostMatches(b"x")  # type: ignore[arg-type]


class FakeApplication:
    def __init__(self, default_host: str | None) -> None:
        self.default_host = default_host


def test_default_host_matches_follows_the_applications_default_host() -> None:
    app = FakeApplication("main.example.com")
    m = DefaultHostMatches(app, re.compile(r"main\.example\.com$"))
    # Any request host: the default host is what counts.
    assert m.match(make_request(host="10.0.0.1")) == {}
    # Proxied requests are not defaulted.
    assert m.match(make_request(host="10.0.0.1", **{"X-Real-Ip": "1.2.3.4"})) is None
    app.default_host = "other.example.com"
    assert m.match(make_request(host="10.0.0.1")) is None
    app.default_host = None
    assert m.match(make_request(host="10.0.0.1")) is None


def test_any_matches_and_matcher_base() -> None:
    assert AnyMatches().match(make_request("/whatever")) == {}
    assert AnyMatches().reverse(1) is None
    with pytest.raises(NotImplementedError):
        Matcher().match(make_request())
    assert Matcher().reverse() is None


def test_matcher_reprs() -> None:
    assert repr(PathMatches("/a")) == "PathMatches('/a$')"
    assert repr(HostMatches("h")) == "HostMatches('h$')"
    assert repr(AnyMatches()) == "AnyMatches()"
    app = FakeApplication("h")
    assert repr(DefaultHostMatches(app, re.compile("h$"))) == f"DefaultHostMatches({app!r}, 'h$')"


# -- rules ---------------------------------------------------------------------------


def test_rule_attributes_and_repr() -> None:
    matcher = PathMatches("/x")
    rule = Rule(matcher, Target, {"a": 1}, "nm")
    assert (rule.matcher, rule.target, rule.target_kwargs, rule.name) == (
        matcher,
        Target,
        {"a": 1},
        "nm",
    )
    assert repr(rule) == f"Rule(PathMatches('/x$'), {Target!r}, kwargs={{'a': 1}}, name='nm')"
    assert rule.reverse() == "/x"
    assert Rule(AnyMatches(), Target).target_kwargs == {}


def test_rule_str_matcher_is_a_path_pattern_and_str_target_is_imported() -> None:
    rule = Rule(r"/x/(\d+)", "re.compile")
    assert isinstance(rule.matcher, PathMatches)
    assert rule.target is re.compile
    assert rule.reverse(4) == "/x/4"
    with pytest.raises(ImportError):
        Rule("/x", "squall.no_such_module.Thing")


def test_rule_rejects_non_matchers() -> None:
    with pytest.raises(TypeError, match="a rule's matcher must be a Matcher or a path pattern"):
        Rule(42, Target)  # type: ignore[arg-type]


def test_urlspec() -> None:
    spec = URLSpec(r"/u/(\d+)", Target, {"k": 1}, "un")
    assert spec.regex.pattern == r"/u/(\d+)$"
    assert spec.handler_class is Target
    assert spec.target is Target
    assert spec.kwargs == {"k": 1}
    assert spec.target_kwargs == {"k": 1}
    assert spec.name == "un"
    assert spec.reverse(5) == "/u/5"
    assert repr(spec) == f"URLSpec('/u/(\\\\d+)$', {Target!r}, kwargs={{'k': 1}}, name='un')"
    bare = URLSpec("/u", Target)
    assert bare.kwargs is None  # as given, like Tornado
    assert bare.target_kwargs == {}
    with pytest.raises(RoutePatternError, match="/u/\\(x"):
        URLSpec("/u/(x", Target)


# -- RuleRouter without sockets ---------------------------------------------------------


class RecordingRouter(Router):
    def __init__(self, result: Any = None) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.result


def test_rule_forms() -> None:
    rule = Rule(HostMatches("h"), Target)
    router = RuleRouter(
        [
            ("/a", Target),
            ("/b", Target, {"x": 1}),
            ("/c", Target, {}, "cname"),
            ["/d", Target],
            (AnyMatches(), Target),
            rule,
        ]
    )
    assert [type(r.matcher) for r in router.rules] == [
        PathMatches,
        PathMatches,
        PathMatches,
        PathMatches,
        AnyMatches,
        HostMatches,
    ]
    assert router.rules[1].target_kwargs == {"x": 1}
    assert router.rules[2].name == "cname"
    assert router.rules[5] is rule


@pytest.mark.parametrize("bad", [("/a",), ("/a", Target, {}, "n", "extra"), ()])
def test_rule_tuple_of_wrong_length(bad: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match=f"got {len(bad)} items"):
        RuleRouter([bad])


@pytest.mark.parametrize("bad", ["/a", {"/a": Target}, 42])
def test_rule_of_wrong_type(bad: Any) -> None:
    with pytest.raises(TypeError, match="a rule must be a Rule, tuple or list"):
        RuleRouter([bad])


def test_add_rule_and_process_rule_hook() -> None:
    seen: list[Rule] = []

    class Hooked(RuleRouter):
        def process_rule(self, rule: Rule) -> Rule:
            seen.append(rule)
            return Rule(rule.matcher, rule.target, {"hooked": True}, rule.name)

    router = Hooked([("/a", Target)])
    added = router.add_rule("/b", Target, name="b")
    assert [r.target_kwargs for r in router.rules] == [{"hooked": True}, {"hooked": True}]
    assert added is router.rules[1]
    assert len(seen) == 2 and seen[1].name == "b"


def test_find_handler_passes_match_and_target_kwargs() -> None:
    inner = RecordingRouter("found")
    plain = RecordingRouter("plain")
    router = RuleRouter([(r"/k/(\d+)", inner, {"extra": 1}), ("/p", plain)])
    assert router.find_handler(make_request("/k/5"), ignored=True) == "found"
    assert inner.calls == [{"path_args": [b"5"], "path_kwargs": {}, "target_kwargs": {"extra": 1}}]
    assert router.find_handler(make_request("/p")) == "plain"
    assert plain.calls == [{}]  # empty target_kwargs are not passed
    assert router.find_handler(make_request("/none")) is None


def test_find_handler_falls_through_when_a_target_declines() -> None:
    declining = RecordingRouter(None)
    accepting = RecordingRouter("second")
    router = RuleRouter([(AnyMatches(), declining), ("/b", accepting)])
    assert router.find_handler(make_request("/b")) == "second"
    assert len(declining.calls) == 1 and len(accepting.calls) == 1


def test_get_target_delegate_of_unknown_target_is_none() -> None:
    router = RuleRouter()
    assert router.get_target_delegate(Target(), make_request()) is None
    assert router.get_target_delegate("not callable", make_request()) is None


def test_delegate_targets_need_a_connection() -> None:
    router = RuleRouter([("/c", lambda request: None), ("/d", HTTPServerConnectionDelegate())])
    with pytest.raises(ValueError, match=r"GET /c .*no connection"):
        router.find_handler(make_request("/c"))
    with pytest.raises(ValueError, match=r"GET /d .*no connection"):
        router.find_handler(make_request("/d"))


def test_abstract_routers() -> None:
    with pytest.raises(NotImplementedError):
        Router().find_handler(make_request())
    with pytest.raises(NotImplementedError):
        ReversibleRouter().reverse_url("x")


# -- reverse_url -------------------------------------------------------------------------


def test_reverse_url_named_and_nested() -> None:
    inner = ReversibleRuleRouter([(r"/inner/(\d+)", Target, {}, "inner")])
    plain = RuleRouter([(r"/plain", Target, {}, "plain")])  # not reversible
    outer = ReversibleRuleRouter(
        [
            (AnyMatches(), plain),
            (HostMatches("h"), inner),
            (r"/o/([a-z]+)", Target, {}, "outer"),
        ]
    )
    assert outer.reverse_url("outer", "abc") == "/o/abc"
    assert outer.reverse_url("inner", 4) == "/inner/4"
    # Unknown names (and names only a non-reversible router knows) give None;
    # web.Application turns that into KeyError.
    assert outer.reverse_url("plain") is None
    assert outer.reverse_url("nope") is None
    assert set(outer.named_rules) == {"outer"}


def test_own_names_win_over_nested_ones() -> None:
    inner = ReversibleRuleRouter([("/inner", Target, {}, "same")])
    outer = ReversibleRuleRouter([(AnyMatches(), inner), ("/outer", Target, {}, "same")])
    assert outer.reverse_url("same") == "/outer"


def test_duplicate_names_warn_and_the_last_wins() -> None:
    with ExpectLog(app_log, "Multiple handlers named n; replacing previous value"):
        router = ReversibleRuleRouter([("/c", Target, {}, "n"), ("/d", Target, {}, "n")])
    assert router.reverse_url("n") == "/d"


def test_reverse_url_errors_propagate() -> None:
    router = ReversibleRuleRouter([(r"/c/(\d+)", Target, {}, "c")])
    with pytest.raises(ValueError, match="takes 1 argument"):
        router.reverse_url("c")


# -- routers serving real requests ----------------------------------------------------


@dataclass
class Response:
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Collector:
    def __init__(self, head_only: bool) -> None:
        self.responses: list[Response] = []
        self.parser = httptools.HttpResponseParser(self)
        self.head_only = head_only

    def on_message_begin(self) -> None:
        self.responses.append(Response())

    def on_status(self, status: bytes) -> None:
        self.responses[-1].reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1].headers[name.decode().lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> bool:
        self.responses[-1].status = self.parser.get_status_code()
        return self.head_only  # True: a HEAD answer has no body to wait for

    def on_body(self, body: bytes) -> None:
        self.responses[-1].body += body


def parse_responses(data: bytes, head_only: bool = False) -> list[Response]:
    collector = _Collector(head_only)
    collector.parser.feed_data(data)
    return collector.responses


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``; read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[[Any], int]]:
    """``serve(router)`` -> port of an HTTPServer on 127.0.0.1."""
    servers: list[HTTPServer] = []

    def start(callback: Any) -> int:
        sock, port = bind_unused_port()
        server = HTTPServer(callback)
        server.add_sockets([sock])
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)


async def fetch(port: int, data: bytes) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, exchange, port, data)


def respond(request: HTTPServerRequest, body: bytes, status: int = 200) -> None:
    assert request.connection is not None
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", status, "OK"),
        HTTPHeaders({"Content-Length": str(len(body))}),
        body,
    )
    request.connection.finish()


def named(label: str) -> Callable[..., None]:
    """A callable target answering ``label`` and what the rule passed it."""

    def target(request: HTTPServerRequest, **params: Any) -> None:
        args = [a.decode() if isinstance(a, bytes) else a for a in params.get("path_args", [])]
        kwargs = {k: v.decode() for k, v in params.get("path_kwargs", {}).items()}
        extra = params.get("target_kwargs", {})
        body = f"{label} {request.method} {request.path} {args} {kwargs} {extra} {request.body!r}"
        respond(request, body.encode())

    return target


def get(path: str, host: str = "example.com", close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path.encode(), host.encode(), connection)


async def test_callable_targets_receive_path_groups_and_body(serve: Any) -> None:
    port = serve(
        RuleRouter(
            [
                (r"/pos/(\d+)/([^/]+)", named("pos"), {"k": 3}),
                (r"/kw/(?P<n>\d+)", named("kw")),
            ]
        )
    )
    [r] = parse_responses(await fetch(port, get("/pos/9/a%20b")))
    assert (r.status, r.body) == (200, b"pos GET /pos/9/a%20b ['9', 'a b'] {} {'k': 3} b''")
    post = b"POST /kw/4 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    [r] = parse_responses(await fetch(port, post))
    assert r.body == b"kw POST /kw/4 [] {'n': '4'} {} b'hello'"


async def test_no_match_answers_404_with_an_empty_body_and_keeps_the_connection(
    serve: Any,
) -> None:
    port = serve(RuleRouter([("/here", named("here"))]))
    with ExpectLog(app_log, "Delegate for GET /nowhere request not found", level=10):
        data = await fetch(port, get("/nowhere", close=False) + get("/here"))
    missing, found = parse_responses(data)
    assert (missing.status, missing.reason, missing.body) == (404, "Not Found", b"")
    assert missing.headers["content-length"] == "0"
    assert found.status == 200 and found.body.startswith(b"here GET /here")


async def test_404_after_reading_a_request_body(serve: Any) -> None:
    port = serve(RuleRouter([("/here", named("here"))]))
    post = b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
    missing, found = parse_responses(await fetch(port, post + get("/here")))
    assert missing.status == 404
    assert found.body == b"here GET /here [] {} {} b''"


async def test_404_to_head_and_to_http_1_0(serve: Any) -> None:
    port = serve(RuleRouter())
    head = b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    [r] = parse_responses(await fetch(port, head), head_only=True)
    assert r.status == 404
    data = await fetch(port, b"GET /x HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert data.endswith(b"\r\n\r\n")  # no body


async def test_rule_router_nested_in_rule_router(serve: Any) -> None:
    api = RuleRouter([(r"/api/v1/items/(\d+)", named("item")), ("/api/v1/ping", named("ping"))])
    port = serve(RuleRouter([(AnyMatches(), api), ("/api/other", named("other"))]))
    [r] = parse_responses(await fetch(port, get("/api/v1/items/42")))
    assert r.body == b"item GET /api/v1/items/42 ['42'] {} {} b''"
    [r] = parse_responses(await fetch(port, get("/api/v1/ping")))
    assert r.body.startswith(b"ping ")
    # The nested router has no match: the outer router tries its next rule.
    [r] = parse_responses(await fetch(port, get("/api/other")))
    assert r.body.startswith(b"other ")
    with ExpectLog(app_log, "Delegate for GET /api/none", level=10):
        [r] = parse_responses(await fetch(port, get("/api/none")))
    assert r.status == 404


async def test_host_router_in_front_of_path_routers(serve: Any) -> None:
    router = RuleRouter(
        [
            (
                HostMatches(r"a\.example"),
                RuleRouter([("/", named("a-root")), ("/x", named("a-x"))]),
            ),
            (HostMatches(r"b\.example"), RuleRouter([("/", named("b-root"))])),
        ]
    )
    port = serve(router)
    [r] = parse_responses(await fetch(port, get("/", host="a.example:8080")))
    assert r.body.startswith(b"a-root ")
    [r] = parse_responses(await fetch(port, get("/x", host="A.EXAMPLE")))
    assert r.body.startswith(b"a-x ")
    [r] = parse_responses(await fetch(port, get("/", host="b.example")))
    assert r.body.startswith(b"b-root ")
    with ExpectLog(app_log, "Delegate for GET / request not found", level=10):
        [r] = parse_responses(await fetch(port, get("/", host="c.example")))
    assert r.status == 404
    with ExpectLog(app_log, "Delegate for GET /x request not found", level=10):
        [r] = parse_responses(await fetch(port, get("/x", host="b.example")))
    assert r.status == 404


class StreamingDelegate(HTTPMessageDelegate):
    def __init__(self, log: list[Any], connection: Any) -> None:
        self.log = log
        self.connection = connection

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> Any:
        self.log.append(("headers", start_line.path, headers.get("X-Test")))

    async def data_received(self, chunk: bytes) -> None:  # type: ignore[override]
        await gen.sleep(0)  # an awaitable makes the connection wait for us
        self.log.append(("data", chunk))

    def finish(self) -> None:
        self.log.append(("finish",))
        self.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 201, "Created"), HTTPHeaders({"Content-Length": "0"})
        )
        self.connection.finish()

    def on_connection_close(self) -> None:
        self.log.append(("closed",))


class StreamingServer(HTTPServerConnectionDelegate):
    def __init__(self) -> None:
        self.log: list[Any] = []
        self.connections: list[Any] = []

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        self.connections.append(server_conn)
        return StreamingDelegate(self.log, request_conn)


async def test_connection_delegate_target_gets_every_event(serve: Any) -> None:
    target = StreamingServer()
    port = serve(RuleRouter([("/upload", target)]))
    chunked = (
        b"POST /upload HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    [r] = parse_responses(await fetch(port, chunked))
    assert r.status == 201
    assert target.log[0] == ("headers", "/upload", "yes")
    assert b"".join(e[1] for e in target.log if e[0] == "data") == b"abcde"
    assert target.log[-1] == ("finish",)
    assert target.connections[0] is not None  # the server connection was passed on


async def test_connection_close_reaches_the_target(serve: Any, io_loop: Any) -> None:
    target = StreamingServer()
    port = serve(RuleRouter([("/upload", target)]))

    def send_half() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
            # Wait until the body chunk has been seen, then hang up.
            s.settimeout(0.05)
            for _ in range(100):
                if ("data", b"partial") in target.log:
                    break
                try:
                    s.recv(1)
                except TimeoutError:
                    pass

    await asyncio.get_running_loop().run_in_executor(None, send_half)
    for _ in range(200):
        if ("closed",) in target.log:
            break
        await gen.sleep(0.01)
    assert target.log[-1] == ("closed",)
    assert ("finish",) not in target.log


async def test_coroutine_callable_target(serve: Any) -> None:
    async def slow(request: HTTPServerRequest, **params: Any) -> None:
        await gen.sleep(0.01)
        respond(request, b"awaited " + params["path_args"][0])

    port = serve(RuleRouter([(r"/slow/(\w+)", slow)]))
    [r] = parse_responses(await fetch(port, get("/slow/yes")))
    assert r.body == b"awaited yes"


async def test_missing_host_is_a_400_and_no_delegate_is_told(serve: Any) -> None:
    router = RecordingRouter(None)
    port = serve(router)
    with ExpectLog(gen_log, "Malformed HTTP message"):
        data = await fetch(port, b"GET / HTTP/1.1\r\n\r\n")
    [r] = parse_responses(data)
    assert r.status == 400
    assert router.calls == []  # the request was rejected before routing


async def test_router_that_raises_gives_500(serve: Any) -> None:
    class Broken(Router):
        def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
            raise RuntimeError("router bug")

    port = serve(Broken())
    with ExpectLog(app_log, "Uncaught exception"):
        [r] = parse_responses(await fetch(port, get("/")))
    assert r.status == 500


async def test_reversible_router_served_and_reversed(serve: Any) -> None:
    router = ReversibleRuleRouter([(r"/users/(\w+)", named("user"), {}, "user")])
    port = serve(router)
    path = router.reverse_url("user", "ann")
    assert path == "/users/ann"
    [r] = parse_responses(await fetch(port, get(path)))
    assert r.body == b"user GET /users/ann ['ann'] {} {} b''"
