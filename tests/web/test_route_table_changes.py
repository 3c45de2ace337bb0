"""Routes changed while an Application is serving take effect at once,
however they are changed (Application caches its table of path routes)."""

from __future__ import annotations

from typing import Any

from squall.httputil import HTTPHeaders, ResponseStartLine
from squall.routing import PathMatches, Rule
from squall.testing import ExpectLog
from squall.web import Application, RequestHandler, url


class One(RequestHandler):
    def get(self) -> None:
        self.write("one")


class Two(RequestHandler):
    def get(self) -> None:
        self.write("two")


class Named(RequestHandler):
    def get(self, name: str) -> None:
        self.write(f"hello {name}")


async def test_rules_added_later_are_routed(start: Any) -> None:
    app = Application([(r"/one", One)])
    fetch = start(app)
    assert (await fetch("/one")).body == b"one"
    with ExpectLog("squall.access", "404", required=False):
        assert (await fetch("/two")).code == 404
    app.wildcard_router.add_rules([(r"/two", Two), (r"/hi/(\w+)", Named)])
    assert (await fetch("/two")).body == b"two"
    assert (await fetch("/hi/squall")).body == b"hello squall"


async def test_a_rule_replaced_in_the_list_is_routed(start: Any) -> None:
    app = Application([(r"/a", One), (r"/b", One)])
    fetch = start(app)
    assert (await fetch("/b")).body == b"one"
    app.wildcard_router.rules[1] = Rule(PathMatches(r"/b"), Two)
    assert (await fetch("/b")).body == b"two"


async def test_a_rule_changed_in_place_is_routed(start: Any) -> None:
    app = Application([(r"/a", One)])
    fetch = start(app)
    assert (await fetch("/a")).body == b"one"
    rule = app.wildcard_router.rules[0]
    rule.target = Two
    assert (await fetch("/a")).body == b"two"
    rule.matcher = PathMatches(r"/z")
    with ExpectLog("squall.access", "404", required=False):
        assert (await fetch("/a")).code == 404
    assert (await fetch("/z")).body == b"two"


async def test_a_rule_of_another_kind_added_later_is_routed(start: Any) -> None:
    app = Application([(r"/a", One)])
    fetch = start(app)
    assert (await fetch("/a")).body == b"one"

    def plain(request: Any) -> None:
        request.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "5"}), b"plain"
        )
        request.connection.finish()

    app.wildcard_router.add_rules([(r"/plain", plain)])
    assert (await fetch("/plain")).body == b"plain"
    assert (await fetch("/a")).body == b"one"
    del app.wildcard_router.rules[1]
    assert (await fetch("/a")).body == b"one"
    with ExpectLog("squall.access", "404", required=False):
        assert (await fetch("/plain")).code == 404


class Echo(RequestHandler):
    def initialize(self, label: str) -> None:
        self.label = label

    def get(self, *args: str) -> None:
        self.write(self.label)


async def test_first_matching_rule_wins_across_literal_and_open_patterns(start: Any) -> None:
    import re

    app = Application(
        [
            (r"/(\w+)/first$", Echo, {"label": "open-first"}),
            (r"/users/(\w+)$", Echo, {"label": "users"}),
            (r"/users/admin$", Echo, {"label": "never: shadowed by the rule above"}),
            (r"/a/*b$", Echo, {"label": "optional slash"}),
            (r"/x/one$|/y/two$", Echo, {"label": "alternation"}),
            url(re.compile(r"/About$", re.IGNORECASE), Echo, {"label": "about"}),
            (r"/$", Echo, {"label": "root"}),
            (r"/.*", Echo, {"label": "catch-all"}),
        ]
    )
    fetch = start(app)
    expected = {
        "/users/first": "open-first",
        "/users/admin": "users",
        "/users/bob": "users",
        "/ab": "optional slash",
        "/a/b": "optional slash",
        "/a//b": "optional slash",
        "/y/two": "alternation",
        "/x/one": "alternation",
        "/ABOUT": "about",
        "/about": "about",
        "/": "root",
        "/users": "catch-all",
        "/nothing/here": "catch-all",
    }
    for path, label in expected.items():
        r = await fetch(path)
        assert (path, r.code, r.body) == (path, 200, label.encode())
