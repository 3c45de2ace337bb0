"""Fixtures for HTTP client tests.

``app_server`` serves ``client_app`` (squall's own server) on 127.0.0.1 and
records the peer address of every request, so tests can count connections
server-side. ``raw_server(reply)`` answers each connection with whatever
bytes the test scripts, for responses no well-behaved server sends.
``backend`` runs a test once per client implementation ("simple", and
"curl" when pycurl is installed); ``make_client(**kwargs)`` builds a private
client of that backend and ``client`` is one with default settings, both
closed after the test. ``simple_client`` is for what only the simple
backend has (its pool, its resolver options).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ssl
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trustme

from squall import web
from squall.httpclient import AsyncHTTPClient
from squall.httpserver import HTTPServer
from squall.simple_httpclient import SimpleAsyncHTTPClient
from squall.testing import bind_unused_port

DIGEST_REALM = "squall-test"
DIGEST_NONCE = "0123456789abcdef"


class _Recorder(web.RequestHandler):
    def prepare(self) -> None:
        self.application.settings["peers"].append(self.request.connection.context.address)


class HelloHandler(_Recorder):
    def get(self) -> None:
        self.write("Hello")

    def head(self) -> None:
        self.set_header("Content-Length", "5")


class EchoHandler(_Recorder):
    """The request as JSON: method, headers, body."""

    def _echo(self) -> None:
        self.write(
            {
                "method": self.request.method,
                "uri": self.request.uri,
                "headers": dict(self.request.headers.get_all()),
                "body": self.request.body.decode("latin-1"),
            }
        )

    get = post = put = delete = patch = options = _echo


class RedirectHandler(_Recorder):
    """``/redirect/<code>?to=<url>``."""

    def _go(self, code: str) -> None:
        self.redirect(self.get_argument("to"), status=int(code))

    get = post = put = head = _go


class CountdownHandler(_Recorder):
    """``/countdown/<n>`` redirects n times before answering."""

    def get(self, n: str) -> None:
        if int(n) > 0:
            self.redirect(f"/countdown/{int(n) - 1}")
        else:
            self.write("Zero")


class GzipHandler(_Recorder):
    """``/gzip?size=n``: n bytes of "a", gzip-coded."""

    def get(self) -> None:
        size = int(self.get_argument("size", "1000"))
        self.set_header("Content-Encoding", "gzip")
        self.write(gzip.compress(b"a" * size))


class ChunkedHandler(_Recorder):
    async def get(self) -> None:
        for part in ("asdf", "qwer", "zxcv"):
            self.write(part)
            await self.flush()


class SlowHandler(_Recorder):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("delay", "2")))
        self.write("slow")


class StatusHandler(_Recorder):
    def get(self, code: str) -> None:
        self.set_status(int(code))
        if int(code) not in (204, 304):
            self.write(f"status {code}")


class CloseHandler(_Recorder):
    def get(self) -> None:
        self.set_header("Connection", "close")
        self.write("closing")


class BasicAuthHandler(_Recorder):
    def get(self) -> None:
        self.write(self.request.headers.get("Authorization", ""))


class DigestAuthHandler(_Recorder):
    """Checks RFC 7616 MD5 / qop=auth credentials for user "foo", password "bar"."""

    def get(self) -> None:
        header = self.request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            self.set_status(401)
            self.set_header(
                "WWW-Authenticate",
                f'Digest realm="{DIGEST_REALM}", qop="auth", nonce="{DIGEST_NONCE}", '
                'opaque="xyz", algorithm=MD5',
            )
            self.write("login")
            return
        params: dict[str, str] = {}
        for item in header[len("Digest ") :].split(","):
            name, _, value = item.strip().partition("=")
            params[name] = value.strip('"')

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"foo:{DIGEST_REALM}:bar")
        ha2 = md5(f"GET:{params['uri']}")
        expected = md5(f"{ha1}:{DIGEST_NONCE}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        if params.get("response") != expected or params.get("opaque") != "xyz":
            raise web.HTTPError(403)
        self.write("digest ok")


class ContinueHandler(_Recorder):
    def post(self) -> None:
        self.write(b"got " + self.request.body)


class BigHeaderHandler(_Recorder):
    def get(self) -> None:
        self.set_header("X-Big", "x" * int(self.get_argument("size")))
        self.write("big")


class CookieHandler(_Recorder):
    def get(self) -> None:
        self.write(self.request.headers.get("Cookie", "-"))


def client_app() -> web.Application:
    return web.Application(
        [
            (r"/hello", HelloHandler),
            (r"/echo", EchoHandler),
            (r"/redirect/(\d+)", RedirectHandler),
            (r"/countdown/(\d+)", CountdownHandler),
            (r"/gzip", GzipHandler),
            (r"/chunked", ChunkedHandler),
            (r"/slow", SlowHandler),
            (r"/status/(\d+)", StatusHandler),
            (r"/close", CloseHandler),
            (r"/basic", BasicAuthHandler),
            (r"/digest", DigestAuthHandler),
            (r"/continue", ContinueHandler),
            (r"/big_header", BigHeaderHandler),
            (r"/cookie", CookieHandler),
        ],
        peers=[],
    )


class AppServer:
    """A running ``client_app``: ``url(path)``, ``peers`` (one per request)."""

    def __init__(self, server: HTTPServer, port: int, app: web.Application, scheme: str) -> None:
        self.server = server
        self.port = port
        self.app = app
        self.scheme = scheme

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @property
    def peers(self) -> list[Any]:
        return self.app.settings["peers"]  # type: ignore[no-any-return]


@pytest.fixture
def serve_app(io_loop: Any) -> Iterator[Callable[..., AppServer]]:
    servers: list[HTTPServer] = []

    def start(scheme: str = "http", **kwargs: Any) -> AppServer:
        sock, port = bind_unused_port()
        app = client_app()
        server = HTTPServer(app, **kwargs)
        server.add_sockets([sock])
        servers.append(server)
        return AppServer(server, port, app, scheme)

    yield start
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)


@pytest.fixture
def app_server(serve_app: Callable[..., AppServer]) -> AppServer:
    return serve_app()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(
    serve_app: Callable[..., AppServer], tls_ca: trustme.CA, tmp_path: Any
) -> tuple[AppServer, str]:
    """An HTTPS app server for 127.0.0.1 and the CA file that signs it."""
    cert = tls_ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    return serve_app("https", ssl_options=context), str(ca_file)


try:
    import pycurl  # noqa: F401

    HAVE_PYCURL = True
except ImportError:  # pragma: no cover - depends on the installed extras
    HAVE_PYCURL = False

BACKENDS = [
    pytest.param("simple", id="simple"),
    pytest.param(
        "curl",
        id="curl",
        marks=pytest.mark.skipif(not HAVE_PYCURL, reason="pycurl is not installed"),
    ),
]


def backend_class(name: str) -> type[AsyncHTTPClient]:
    if name == "curl":
        from squall.curl_httpclient import CurlAsyncHTTPClient

        return CurlAsyncHTTPClient
    return SimpleAsyncHTTPClient


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _settle() -> None:
    # Let the closed connections' transports finish closing.
    await asyncio.sleep(0.01)


@pytest.fixture
def make_client(io_loop: Any, backend: str) -> Iterator[Callable[..., AsyncHTTPClient]]:
    clients: list[AsyncHTTPClient] = []

    def make(**kwargs: Any) -> AsyncHTTPClient:
        http = backend_class(backend)(force_instance=True, **kwargs)
        clients.append(http)
        return http

    yield make
    for http in clients:
        http.close()
    io_loop.run_sync(_settle)


@pytest.fixture
def client(make_client: Callable[..., AsyncHTTPClient]) -> AsyncHTTPClient:
    return make_client()


@pytest.fixture
def configured_backend(backend: str) -> Iterator[str]:
    """``AsyncHTTPClient()`` builds the test's backend (restored afterwards)."""
    saved = AsyncHTTPClient._save_configuration()
    AsyncHTTPClient.configure(backend_class(backend))
    yield backend
    AsyncHTTPClient._restore_configuration(saved)


@pytest.fixture
def simple_client(io_loop: Any) -> Iterator[SimpleAsyncHTTPClient]:
    http = SimpleAsyncHTTPClient(force_instance=True)
    yield http
    http.close()
    io_loop.run_sync(_settle)


RawReply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
def raw_server(io_loop: Any) -> Iterator[Callable[[RawReply], Awaitable[int]]]:
    """``port = await raw_server(reply)``: ``reply(reader, writer)`` per connection."""
    servers: list[asyncio.AbstractServer] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(reply: RawReply) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await reply(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        sock, port = bind_unused_port()
        server = await asyncio.start_server(handle, sock=sock)
        servers.append(server)
        return port

    yield start

    async def stop() -> None:
        for server in servers:
            server.close()
        for writer in writers:
            writer.close()
        for server in servers:
            await server.wait_closed()
        await asyncio.sleep(0)

    io_loop.run_sync(stop, timeout=5)
