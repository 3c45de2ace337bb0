"""squall.web over real sockets: the seeds' handler idioms and Tornado's
observable behaviour (status codes, headers, bodies, errors)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re

import pytest

import squall.web
from squall import gen
from squall.ioloop import IOLoop
from squall.testing import ExpectLog
from squall.web import (
    Application,
    ErrorHandler,
    Finish,
    HTTPError,
    RedirectHandler,
    RequestHandler,
    addslash,
    asynchronous,
    removeslash,
    stream_request_body,
    url,
)


class MainHandler(RequestHandler):
    def get(self):
        self.write("Hello, world")


async def test_seed_hello_world_headers(start):
    fetch = start(Application([(r"/", MainHandler)]))
    r = await fetch("/")
    assert r.code == 200 and r.body == b"Hello, world"
    assert r.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert r.headers["Content-Length"] == "12"
    # The ETag the seed's session shows for this body.
    assert r.headers["Etag"] == '"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8"'
    assert r.headers["Server"].startswith("SquallServer/")
    assert r.headers["Date"].endswith("GMT")


async def test_etag_304(start):
    fetch = start(Application([(r"/", MainHandler)]))
    etag = '"e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8"'
    for value in (etag, "W/" + etag, '"other", ' + etag, "*"):
        r = await fetch("/", headers={"If-None-Match": value})
        assert r.code == 304 and r.body == b""
        assert "Content-Type" not in r.headers and r.headers["Etag"] == etag
    r = await fetch("/", headers={"If-None-Match": '"stale"'})
    assert r.code == 200


async def test_405_and_unknown_method(start):
    fetch = start(Application([(r"/", MainHandler)]))
    with ExpectLog("squall.access", "405", required=False):
        r = await fetch("/", method="POST", body=b"")
    assert r.code == 405
    assert (
        r.body
        == b"<html><title>405: Method Not Allowed</title><body>405: Method Not Allowed</body></html>"
    )
    r = await fetch("/", method="FOO")
    assert r.code == 405


async def test_404_for_unknown_url(start):
    fetch = start(Application([(r"/", MainHandler)]))
    r = await fetch("/nope")
    assert r.code == 404
    assert r.body == b"<html><title>404: Not Found</title><body>404: Not Found</body></html>"


class JSONHandler(RequestHandler):
    def get(self):
        self.write({"a": 1})

    def post(self):
        self.write([1, 2])


async def test_write_dict_is_json_and_lists_refused(start):
    fetch = start(Application([(r"/", JSONHandler)]))
    r = await fetch("/")
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(r.body) == {"a": 1}
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/", method="POST", body=b"")
    assert r.code == 500


class Forbidden(RequestHandler):
    def get(self):
        raise HTTPError(403)


class BadReason(RequestHandler):
    def get(self):
        raise HTTPError(403, reason="No <b>way</b>")


class Custom(RequestHandler):
    def get(self):
        raise HTTPError(418, "logged only: %s", "secret", reason="Short and stout")


class Broken(RequestHandler):
    def get(self):
        1 / 0  # noqa: B018


async def test_http_errors(start):
    fetch = start(
        Application([("/403", Forbidden), ("/bad", BadReason), ("/418", Custom), ("/500", Broken)])
    )
    r = await fetch("/403")
    assert (r.code, r.body) == (
        403,
        b"<html><title>403: Forbidden</title><body>403: Forbidden</body></html>",
    )
    r = await fetch("/bad")
    assert r.code == 403 and b"<b>" not in r.body and b"Unknown" in r.body
    with ExpectLog("squall.general", r"418 GET /418 \(127.0.0.1\): logged only: secret"):
        r = await fetch("/418")
    assert (r.code, r.reason) == (418, "Short and stout")
    assert b"secret" not in r.body
    with ExpectLog("squall.application", "Uncaught exception GET /500"):
        r = await fetch("/500")
    assert r.code == 500 and b"ZeroDivisionError" not in r.body


async def test_debug_serves_tracebacks(start):
    fetch = start(Application([("/500", Broken)], debug=True, autoreload=False))
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/500")
    assert r.code == 500 and r.headers["Content-Type"] == "text/plain"
    assert b"ZeroDivisionError" in r.body and b"Traceback" in r.body


class WriteErrorHandler(RequestHandler):
    def get(self):
        raise HTTPError(402)

    def write_error(self, status_code, **kwargs):
        self.write(f"custom {status_code} {type(kwargs['exc_info'][1]).__name__}")


class ErrorHTMLHandler(RequestHandler):
    def get(self):
        raise HTTPError(404)

    def get_error_html(self, status_code, **kwargs):
        return f"<h1>legacy {status_code}</h1>"


async def test_write_error_and_get_error_html(start):
    fetch = start(Application([("/we", WriteErrorHandler), ("/geh", ErrorHTMLHandler)]))
    r = await fetch("/we")
    assert (r.code, r.body) == (402, b"custom 402 HTTPError")
    r = await fetch("/geh")
    assert (r.code, r.body) == (404, b"<h1>legacy 404</h1>")


class ArgsHandler(RequestHandler):
    def get(self, name, ident=None):
        self.write(
            {
                "name": name,
                "ident": ident,
                "q": self.get_argument("q"),
                "qs": self.get_arguments("q"),
                "d": self.get_argument("d", "dflt"),
            }
        )

    def post(self, name, ident=None):
        self.write(
            {
                "body": self.get_body_argument("b"),
                "query": self.get_query_argument("q", None),
                "all": self.get_arguments("b"),
            }
        )


async def test_path_and_query_arguments(start):
    fetch = start(Application([(r"/user/(\w+)(?:/(\d+))?", ArgsHandler)]))
    r = await fetch("/user/ann/7?q=1&q=%20two%20")
    assert json.loads(r.body) == {
        "name": "ann",
        "ident": "7",
        "q": "two",
        "qs": ["1", "two"],
        "d": "dflt",
    }
    r = await fetch("/user/bob?q=x%00y")
    assert json.loads(r.body)["q"] == "x y"  # control characters replaced
    with ExpectLog("squall.general", ".*Missing argument q"):
        r = await fetch("/user/bob")
    assert r.code == 400
    r = await fetch(
        "/user/bob?q=1",
        method="POST",
        body=b"b=x&b=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert json.loads(r.body) == {"body": "y", "query": "1", "all": ["x", "y"]}


async def test_invalid_utf8_argument_is_400(start):
    fetch = start(Application([(r"/user/(\w+)", ArgsHandler)]))
    with ExpectLog("squall.general", ".*Invalid unicode"):
        r = await fetch("/user/x?q=%ff")
    assert r.code == 400


class Users(RequestHandler):
    """Seed 004: JSON in, settings from the application, dict out."""

    def prepare(self):
        self.content = json.loads(self.request.body) if self.request.body else None

    def post(self):
        ident = self.application.settings["database"].save(self.content)
        self.write({"id": "%s" % (ident), "name": self.content["name"]})


class FakeDB:
    def __init__(self):
        self.saved = []

    def save(self, doc):
        self.saved.append(doc)
        return len(self.saved)


async def test_seed_004_users_handler(start):
    db = FakeDB()
    fetch = start(Application([("/users", Users)], database=db))
    r = await fetch("/users", method="POST", body=json.dumps({"name": "ann"}))
    assert json.loads(r.body) == {"id": "1", "name": "ann"}
    assert db.saved == [{"name": "ann"}]


class InitHandler(RequestHandler):
    def initialize(self, db, greeting="hi"):
        self.db = db
        self.greeting = greeting

    def get(self):
        self.write(f"{self.greeting} {self.db['name']}")


async def test_initialize_with_dict(start):
    fetch = start(Application([(r"/", InitHandler, dict(db={"name": "squall"}))]))
    assert (await fetch("/")).body == b"hi squall"


class Upload(RequestHandler):
    def post(self):
        f = self.request.files["file"][0]
        self.write({"name": f["filename"], "body": f["body"].decode(), "type": f.content_type})


async def test_uploads(start):
    fetch = start(Application([("/up", Upload)]))
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ncontents\r\n--B--\r\n"
    )
    r = await fetch(
        "/up", method="POST", body=body, headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    assert json.loads(r.body) == {"name": "a.txt", "body": "contents", "type": "text/plain"}


class AsyncLegacy(RequestHandler):
    @asynchronous
    def get(self):
        IOLoop.current().add_timeout(IOLoop.current().time() + 0.01, self._done)

    def _done(self):
        self.write("finished later")
        self.finish()


class AsyncLegacyError(RequestHandler):
    @asynchronous
    def get(self):
        IOLoop.current().add_callback(self._callback, None)

    def _callback(self, response):
        if response:
            self.write(response)
        else:
            raise HTTPError(500, "We couldn't find it.")
        self.finish()


class AsyncCallbackError(RequestHandler):
    @asynchronous
    def get(self):
        IOLoop.current().add_callback(self.async_callback(self._fail, "arg"))

    def _fail(self, arg):
        raise HTTPError(503, "failed with %s", arg)


async def test_seed_asynchronous_and_async_callback(start):
    fetch = start(
        Application([("/ok", AsyncLegacy), ("/err", AsyncLegacyError), ("/cb", AsyncCallbackError)])
    )
    r = await fetch("/ok")
    assert (r.code, r.body) == (200, b"finished later")
    with ExpectLog("squall.general", ".*We couldn't find it"):
        r = await fetch("/err")
    assert r.code == 500
    with ExpectLog("squall.general", ".*failed with arg"):
        r = await fetch("/cb")
    assert r.code == 503


class GenCoroutine(RequestHandler):
    @gen.coroutine
    def get(self):
        yield gen.sleep(0.001)
        value = yield gen.maybe_future("gen")
        self.write(value)


class AsyncDef(RequestHandler):
    async def prepare(self):
        await asyncio.sleep(0)
        self.prepared = True

    async def get(self):
        await asyncio.sleep(0.001)
        self.write(f"async {self.prepared}")


async def test_coroutine_handlers(start):
    fetch = start(Application([("/gen", GenCoroutine), ("/async", AsyncDef)]))
    assert (await fetch("/gen")).body == b"gen"
    assert (await fetch("/async")).body == b"async True"


class Redirector(RequestHandler):
    def get(self):
        self.redirect(self.get_argument("to"), permanent=bool(self.get_argument("p", "")))


async def test_redirects(start):
    fetch = start(
        Application(
            [
                ("/r", Redirector),
                (r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"}),
                (r"/go/(.*)", RedirectHandler, {"url": "/{0}"}),
                (r"/named/(?P<x>\w+)", RedirectHandler, {"url": "/n/{x}", "permanent": False}),
            ]
        )
    )
    r = await fetch("/r?to=/x%3Fy%3D1")
    assert (r.code, r.headers["Location"]) == (302, "/x?y=1")
    r = await fetch("/r?to=/x&p=1")
    assert r.code == 301
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/r?to=/x%0d%0aSet-Cookie:%20a=b")
    assert r.code == 500 and "Set-Cookie" not in r.headers
    r = await fetch("/old/a/b?k=v")
    assert (r.code, r.headers["Location"]) == (301, "/new/a/b?k=v")
    r = await fetch("/named/q")
    assert (r.code, r.headers["Location"]) == (302, "/n/q")
    r = await fetch("/old//evil.com")  # a path on this host: harmless
    assert r.headers["Location"] == "/new//evil.com"
    with ExpectLog("squall.general", ".*cannot change the scheme or netloc"):
        r = await fetch("/go//evil.com")
    assert r.code == 400 and "Location" not in r.headers
    with ExpectLog("squall.general", ".*cannot change the scheme or netloc"):
        r = await fetch("/go/%5Cevil.com")
    assert r.code == 400


class HeaderHandler(RequestHandler):
    def set_default_headers(self):
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Server", "MyServer")

    def get(self):
        kind = self.get_argument("kind")
        if kind == "inject":
            self.set_header("X-Test", "a\r\nInjected: yes")
        elif kind == "name":
            self.set_header("X-Bad\r\nInjected", "v")
        elif kind == "reason":
            self.set_status(200, "OK\r\nInjected: yes")
        elif kind == "clear":
            self.clear_header("X-Frame-Options")
        elif kind == "add":
            self.add_header("X-Multi", "1")
            self.add_header("X-Multi", 2)
        self.write("ok")


async def test_headers_and_injection(start):
    fetch = start(Application([("/", HeaderHandler)]))
    r = await fetch("/?kind=none")
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Server"] == "MyServer"
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/?kind=inject")
    assert r.code == 500 and "Injected" not in r.headers
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/?kind=name")
    assert r.code == 500 and "Injected" not in r.headers
    r = await fetch("/?kind=reason")
    assert (r.code, r.reason) == (200, "Unknown") and "Injected" not in r.headers
    r = await fetch("/?kind=clear")
    assert "X-Frame-Options" not in r.headers
    r = await fetch("/?kind=add")
    assert r.headers.get_all("X-Multi") == ["1", "2"]


class FinishHandler(RequestHandler):
    def get(self):
        self.set_status(401)
        self.set_header("WWW-Authenticate", "Basic")
        raise Finish("go away")


class OnFinish(RequestHandler):
    finished: list[str] = []

    def get(self):
        self.write("x")

    def on_finish(self):
        OnFinish.finished.append(self.request.path)


class NoContent(RequestHandler):
    def get(self):
        self.set_status(204)


async def test_finish_on_finish_and_204(start):
    fetch = start(Application([("/f", FinishHandler), ("/of", OnFinish), ("/nc", NoContent)]))
    r = await fetch("/f")
    assert (r.code, r.body, r.headers["WWW-Authenticate"]) == (401, b"go away", "Basic")
    await fetch("/of")
    assert OnFinish.finished == ["/of"]
    r = await fetch("/nc")
    assert r.code == 204 and "Content-Type" not in r.headers and "Content-Length" not in r.headers


async def test_head_has_headers_no_body(start):
    class Head(RequestHandler):
        def head(self):
            self.write("body not sent")

    fetch = start(Application([("/", Head)]))
    r = await fetch("/", method="HEAD")
    assert r.code == 200 and r.body == b"" and r.headers["Content-Length"] == "13"


class Slashes(RequestHandler):
    @removeslash
    def get(self):
        self.write("no slash")


class AddSlash(RequestHandler):
    @addslash
    def get(self):
        self.write("slash")


async def test_add_and_remove_slash(start):
    fetch = start(Application([(r"/rs/?", Slashes), (r"/as/?", AddSlash), (r"(/.*)", Slashes)]))
    r = await fetch("/rs/?a=1")
    assert (r.code, r.headers["Location"]) == (301, "/rs?a=1")
    r = await fetch("/as")
    assert (r.code, r.headers["Location"]) == (301, "/as/")
    # Refused as Tornado refuses it: 403, with the reason logged.
    with ExpectLog("squall.general", ".*cannot redirect path with two initial slashes"):
        r = await fetch("//evil.com/")
    assert r.code == 403 and "Location" not in r.headers


@stream_request_body
class Streaming(RequestHandler):
    def prepare(self):
        self.sizes = []
        self.request.connection.set_max_body_size(10 * 1024 * 1024)

    def data_received(self, chunk):
        self.sizes.append(len(chunk))

    def put(self):
        self.write({"total": sum(self.sizes), "chunks": len(self.sizes)})


async def test_stream_request_body(start):
    fetch = start(Application([("/s", Streaming)]), max_body_size=1024)
    r = await fetch("/s", method="PUT", body=b"x" * (3 * 1024 * 1024))
    assert r.code == 200 and json.loads(r.body)["total"] == 3 * 1024 * 1024


class Cookies(RequestHandler):
    def get(self):
        action = self.get_argument("a")
        if action == "set":
            self.set_cookie("name", "value", httponly=True, samesite="Lax", max_age=60)
            self.set_cookie("other", "x", path="/p", domain="example.com")
        elif action == "clear":
            self.clear_cookie("name")
        elif action == "bad":
            self.set_cookie("name", "v", domain="evil.com; Secure")
        self.write(self.get_cookie("name", "missing"))


async def test_cookies(start):
    fetch = start(Application([("/c", Cookies)]))
    r = await fetch("/c?a=set")
    cookies = r.headers.get_all("Set-Cookie")
    assert any(
        c.startswith("name=value") and "HttpOnly" in c and "SameSite=Lax" in c and "Max-Age=60" in c
        for c in cookies
    )
    assert any(
        c.startswith("other=x") and "Domain=example.com" in c and "Path=/p" in c for c in cookies
    )
    r = await fetch("/c?a=read", headers={"Cookie": "name=hello"})
    assert r.body == b"hello"
    r = await fetch("/c?a=clear", headers={"Cookie": "name=hello"})
    assert re.match(r'name=""; expires=.*; Path=/', r.headers["Set-Cookie"])
    with ExpectLog("squall.application", "Uncaught exception"):
        r = await fetch("/c?a=bad")
    assert r.code == 500


async def test_compress_response(start):
    class Big(RequestHandler):
        def get(self):
            self.write("squall " * 1000)

    fetch = start(Application([("/", Big)], compress_response=True))
    r = await fetch("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(r.body) == b"squall " * 1000
    assert int(r.headers["Content-Length"]) == len(r.body)
    r = await fetch("/")
    assert "Content-Encoding" not in r.headers and r.body == b"squall " * 1000


async def test_reverse_url_and_named_routes(start):
    class Show(RequestHandler):
        def get(self, ident):
            self.write(self.reverse_url("show", int(ident) + 1))

    app = Application([url(r"/show/(\d+)", Show, name="show")])
    fetch = start(app)
    assert (await fetch("/show/1")).body == b"/show/2"
    assert app.reverse_url("show", 5) == "/show/5"
    with pytest.raises(KeyError):
        app.reverse_url("missing")


async def test_host_specific_handlers_and_default_handler(start):
    class Host(RequestHandler):
        def get(self):
            self.write("host " + self.request.host_name)

    class Fallback(ErrorHandler):
        pass

    app = Application(
        [("/", MainHandler)],
        default_handler_class=Fallback,
        default_handler_args={"status_code": 410},
    )
    app.add_handlers(r"special\.example", [("/", Host)])
    fetch = start(app)
    assert (await fetch("/", headers={"Host": "special.example"})).body == b"host special.example"
    assert (await fetch("/")).body == b"Hello, world"
    assert (await fetch("/missing")).code == 410


async def test_access_log_lines(start):
    fetch = start(Application([("/", MainHandler), ("/403", Forbidden), ("/500", Broken)]))
    access = logging.getLogger("squall.access")
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        with ExpectLog("squall.access", r"200 GET / \(127.0.0.1\) \d+\.\d+ms", level=logging.INFO):
            await fetch("/")
        with ExpectLog("squall.access", r"403 GET /403", level=logging.WARNING):
            await fetch("/403")
        with (
            ExpectLog("squall.access", r"500 GET /500", level=logging.ERROR),
            ExpectLog("squall.application", "Uncaught"),
        ):
            await fetch("/500")
    finally:
        access.setLevel(old_level)


async def test_log_function_setting(start):
    seen = []
    fetch = start(
        Application([("/", MainHandler)], log_function=lambda h: seen.append(h.get_status()))
    )
    await fetch("/")
    assert seen == [200]


async def test_application_listen_returns_server(io_loop):
    from web_helpers import blocking_fetch

    from squall.httpserver import HTTPServer
    from squall.testing import bind_unused_port

    sock, port = bind_unused_port()
    sock.close()
    server = Application([("/", MainHandler)]).listen(port, "127.0.0.1", xheaders=True)
    try:
        assert isinstance(server, HTTPServer) and server.xheaders
        r = await io_loop.run_in_executor(None, blocking_fetch, port, "/")
        assert r.body == b"Hello, world"
    finally:
        server.stop()
        await server.close_all_connections()


def test_web_exports_match_tornado_names():
    for name in (
        "RequestHandler",
        "Application",
        "HTTPError",
        "url",
        "URLSpec",
        "asynchronous",
        "authenticated",
        "stream_request_body",
        "RedirectHandler",
        "ErrorHandler",
    ):
        assert hasattr(squall.web, name)
