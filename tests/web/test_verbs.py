"""Which verbs a handler answers: SUPPORTED_METHODS and the verb methods,
including verbs beyond the seven RequestHandler knows by name."""

from __future__ import annotations

from typing import Any

from squall.testing import ExpectLog
from squall.web import Application, RequestHandler


class DavHandler(RequestHandler):
    SUPPORTED_METHODS = (*RequestHandler.SUPPORTED_METHODS, "PROPFIND")

    def propfind(self) -> None:
        self.write("props")

    def get(self) -> None:
        self.write("got")


class GetOnlyHandler(RequestHandler):
    SUPPORTED_METHODS = ("GET",)

    def get(self) -> None:
        self.write("got")

    def post(self) -> None:  # defined, but not a supported method
        self.write("posted")


class PlainHandler(RequestHandler):
    def get(self) -> None:
        self.write("got")

    def propfind(self) -> None:  # not in SUPPORTED_METHODS
        self.write("props")


def app() -> Application:
    return Application(
        [(r"/dav", DavHandler), (r"/get-only", GetOnlyHandler), (r"/plain", PlainHandler)]
    )


async def test_a_verb_added_to_supported_methods_reaches_its_method(start: Any) -> None:
    fetch = start(app())
    r = await fetch("/dav", method="PROPFIND")
    assert (r.code, r.body) == (200, b"props")
    r = await fetch("/dav")
    assert (r.code, r.body) == (200, b"got")


async def test_a_supported_verb_without_a_method_is_405(start: Any) -> None:
    fetch = start(app())
    with ExpectLog("squall.access", "405", required=False):
        r = await fetch("/dav", method="DELETE")
    assert r.code == 405
    assert r.headers["Content-Type"] == "text/html; charset=UTF-8"


async def test_a_method_for_an_unsupported_verb_is_never_called(start: Any) -> None:
    fetch = start(app())
    with ExpectLog("squall.access", "405", required=False):
        r = await fetch("/get-only", method="POST", body=b"x")
    assert r.code == 405
    assert b"posted" not in r.body
    with ExpectLog("squall.access", "405", required=False):
        r = await fetch("/plain", method="PROPFIND")
    assert r.code == 405
    assert b"props" not in r.body


async def test_head_without_a_head_method_is_405(start: Any) -> None:
    fetch = start(app())
    with ExpectLog("squall.access", "405", required=False):
        r = await fetch("/plain", method="HEAD")
    assert r.code == 405
    assert r.body == b""
