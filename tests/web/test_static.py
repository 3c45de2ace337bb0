"""StaticFileHandler and static_url over real HTTP: caching, ranges,
precompressed files, sendfile, and the path-safety rules."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import ssl
import urllib.parse

import pytest

from squall.httpserver import HTTPServer
from squall.httputil import _ranges
from squall.testing import ExpectLog, bind_unused_port
from squall.web import Application, RequestHandler, StaticFileHandler, _static

FOO = b"foo file contents\n"
BIG = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def static_dir(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "foo.txt").write_bytes(FOO)
    (root / "robots.txt").write_bytes(b"User-agent: *\n")
    (root / "favicon.ico").write_bytes(b"\x00\x00\x01\x00icon")
    (root / "big.bin").write_bytes(BIG)
    (root / "empty.txt").write_bytes(b"")
    (root / "dir").mkdir()
    (root / "dir" / "index.html").write_bytes(b"<p>index</p>")
    (root / "app.js").write_bytes(b"console.log('identity');" * 10)
    (root / "app.js.gz").write_bytes(b"gzip bytes")
    (root / "app.js.br").write_bytes(b"brotli bytes")
    # Outside the root: a secret, a sibling directory sharing the prefix.
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    (tmp_path / "static_foo.txt").write_bytes(b"sibling")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shared.txt").write_bytes(b"shared")
    os.symlink(tmp_path / "secret.txt", root / "link_out.txt")
    os.symlink(tmp_path / "elsewhere" / "shared.txt", root / "shared.txt")
    os.symlink(root / "foo.txt", root / "link_in.txt")
    StaticFileHandler.reset()
    return root


class StaticUrl(RequestHandler):
    def get(self):
        include_host = self.get_argument("host", None) is not None
        self.write(self.static_url(self.get_argument("path"), include_host=include_host))


def seed_app(static_dir, **settings):
    return Application([("/url", StaticUrl)], static_path=str(static_dir), **settings)


def md5(data):
    # The version hash (Tornado 6.6's choice, SHA-512); the name is historic.
    return hashlib.sha512(data).hexdigest()


# -- the seeds' settings ----------------------------------------------------------


async def test_static_path_serves_static_robots_and_favicon(start, static_dir):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt")
    assert (reply.code, reply.body) == (200, FOO)
    assert reply.headers["Content-Type"] == "text/plain"
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.headers["Etag"] == f'"{md5(FOO)}"'
    assert reply.headers["Last-Modified"]
    assert "Cache-Control" not in reply.headers
    assert (await fetch("/robots.txt")).body == b"User-agent: *\n"
    assert (await fetch("/favicon.ico")).body == b"\x00\x00\x01\x00icon"
    assert (await fetch("/static/missing.txt")).code == 404


async def test_static_url_versions_and_long_caching(start, static_dir):
    fetch = start(seed_app(static_dir))
    url = (await fetch("/url?path=foo.txt")).text
    assert url == f"/static/foo.txt?v={md5(FOO)}"
    absolute = (await fetch("/url?path=foo.txt&host=1")).text
    assert absolute == f"http://127.0.0.1:{fetch.port}{url}"
    reply = await fetch(url)
    assert reply.body == FOO
    assert reply.headers["Cache-Control"] == f"max-age={86400 * 365 * 10}"
    assert reply.headers["Expires"]


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("missing.txt", "Could not open static file .*: HTTP 404"),
        ("dir", "Could not open static file .*dir is not a file"),
        ("link_out.txt", None),  # a symlink out of the root: no hash of the target
    ],
)
async def test_static_url_of_non_files_has_no_version(start, static_dir, path, logged):
    fetch = start(seed_app(static_dir))
    query = "/url?" + urllib.parse.urlencode({"path": path})
    if logged is None:
        url = (await fetch(query)).text
    else:
        with ExpectLog("squall.general", logged):
            url = (await fetch(query)).text
    assert url == "/static/" + path


@pytest.mark.parametrize("path", ["../secret.txt", "../static_foo.txt", "/etc/hostname"])
async def test_static_url_outside_the_root_is_forbidden(start, static_dir, path):
    fetch = start(seed_app(static_dir))
    with ExpectLog("squall.general", ".*is not in root static directory"):
        reply = await fetch("/url?" + urllib.parse.urlencode({"path": path}))
    assert reply.code == 403


async def test_static_url_prefix_and_handler_settings(start, static_dir):
    class Custom(StaticFileHandler):
        def set_extra_headers(self, path):
            self.set_header("X-Static", path)

        @classmethod
        def make_static_url(cls, settings, path, include_version=True):
            return "/cdn" + super().make_static_url(settings, path, include_version)

    fetch = start(
        seed_app(
            static_dir,
            static_url_prefix="/assets/",
            static_handler_class=Custom,
            static_handler_args={"default_filename": "index.html"},
        )
    )
    assert (await fetch("/url?path=foo.txt")).text == f"/cdn/assets/foo.txt?v={md5(FOO)}"
    reply = await fetch("/assets/foo.txt")
    assert (reply.body, reply.headers["X-Static"]) == (FOO, "foo.txt")
    assert (await fetch("/assets/dir/")).body == b"<p>index</p>"
    assert (await fetch("/static/foo.txt")).code == 404


async def test_hash_cache_and_static_hash_cache_setting(start, static_dir):
    fetch = start(seed_app(static_dir))
    first = (await fetch("/url?path=foo.txt")).text
    (static_dir / "foo.txt").write_bytes(b"changed")
    assert (await fetch("/url?path=foo.txt")).text == first  # cached
    fetch = start(seed_app(static_dir, static_hash_cache=False))
    # Any request resets the cache when static_hash_cache is off.
    assert (await fetch("/url?path=foo.txt")).text == f"/static/foo.txt?v={md5(b'changed')}"


def test_hash_cache_is_capped(static_dir, monkeypatch):
    monkeypatch.setattr(_static, "_HASH_CACHE_MAX", 2)
    settings = {"static_path": str(static_dir)}
    for name in ("foo.txt", "robots.txt", "favicon.ico", "big.bin"):
        assert StaticFileHandler.get_version(settings, name)
    assert len(StaticFileHandler._static_hashes) == 2


def test_make_static_url_without_version(static_dir):
    settings = {"static_path": str(static_dir)}
    assert StaticFileHandler.make_static_url(settings, "foo.txt", include_version=False) == (
        "/static/foo.txt"
    )


# -- conditional requests -------------------------------------------------------


async def test_etag_and_if_modified_since_give_304(start, static_dir):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt")
    etag, modified = reply.headers["Etag"], reply.headers["Last-Modified"]
    reply = await fetch("/static/foo.txt", headers={"If-None-Match": etag})
    assert (reply.code, reply.body) == (304, b"")
    assert "Content-Type" not in reply.headers
    reply = await fetch("/static/foo.txt", headers={"If-None-Match": f'"x", W/{etag}'})
    assert reply.code == 304
    reply = await fetch("/static/foo.txt", headers={"If-Modified-Since": modified})
    assert reply.code == 304
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await fetch("/static/foo.txt", headers={"If-Modified-Since": earlier})).code == 200
    # If-None-Match decides when both are present (RFC 9110 §13.2.2).
    headers = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert (await fetch("/static/foo.txt", headers=headers)).code == 200
    bad_date = {"If-Modified-Since": "not a date"}
    assert (await fetch("/static/foo.txt", headers=bad_date)).code == 200


# -- ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start_", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=5-", 5, None),
        ("bytes=-4", -4, None),
        ("bytes=3-3", 3, 4),
        ("bytes=10-1000", 10, None),  # clipped to the file
        ("bytes=5", 5, None),  # no dash: from 5 to the end, as Tornado reads it
    ],
)
async def test_single_range(start, static_dir, header, start_, end):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt", headers={"Range": header})
    expected = FOO[start_:end]
    assert (reply.code, reply.body) == (206, expected)
    first = start_ % len(FOO)
    last = first + len(expected) - 1
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{len(FOO)}"
    assert reply.headers["Content-Length"] == str(len(expected))


@pytest.mark.parametrize(
    "header",
    ["bytes=18-", "bytes=100-200", "bytes=-0", "bytes=18-18", "bytes=5-2"],  # end before start
)
async def test_unsatisfiable_range_is_416(start, static_dir, header):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt", headers={"Range": header})
    assert reply.code == 416
    assert reply.headers["Content-Range"] == f"bytes */{len(FOO)}"
    assert reply.body == b""


async def test_range_on_empty_file_is_416(start, static_dir):
    fetch = start(seed_app(static_dir))
    assert (await fetch("/static/empty.txt", headers={"Range": "bytes=0-"})).code == 416
    assert (await fetch("/static/empty.txt")).code == 200


@pytest.mark.parametrize(
    "header",
    [
        "bytes=x-3",
        "items=0-3",
        "bytes=0-3;",
        "bytes",
        "bytes=+1-3",
        "bytes=\xb2-4",
        # Ranges covering the whole file are answered as if absent (as Tornado).
        "bytes=-1000",
        "bytes=0-",
        "bytes=0-17",
    ],
)
async def test_invalid_range_is_ignored(start, static_dir, header):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt", headers={"Range": header})
    assert (reply.code, reply.body) == (200, FOO)


async def test_too_many_ranges_are_ignored(start, static_dir):
    fetch = start(seed_app(static_dir))
    header = "bytes=" + ",".join(["0-0"] * (_ranges.MAX_RANGES + 1))
    reply = await fetch("/static/foo.txt", headers={"Range": header})
    assert (reply.code, reply.body) == (200, FOO)


def parse_multipart(reply):
    message = email.message_from_bytes(
        b"Content-Type: " + reply.headers["Content-Type"].encode() + b"\r\n\r\n" + reply.body,
        policy=email.policy.HTTP,
    )
    assert message.get_content_type() == "multipart/byteranges"
    return [(part["Content-Range"], part.get_payload(decode=True)) for part in message.iter_parts()]


async def test_multiple_ranges_are_multipart(start, static_dir):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/big.bin", headers={"Range": "bytes=0-4, 100-199, -3, 99999999-"})
    assert reply.code == 206
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    size = len(BIG)
    assert parse_multipart(reply) == [
        (f"bytes 0-4/{size}", BIG[0:5]),
        (f"bytes 100-199/{size}", BIG[100:200]),
        (f"bytes {size - 3}-{size - 1}/{size}", BIG[-3:]),
    ]


async def test_if_range(start, static_dir):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/foo.txt")
    etag, modified = reply.headers["Etag"], reply.headers["Last-Modified"]
    for validator in (etag, modified):
        headers = {"Range": "bytes=0-2", "If-Range": validator}
        assert (await fetch("/static/foo.txt", headers=headers)).code == 206
    for stale in ('"old"', "Mon, 01 Jan 2001 00:00:00 GMT", "junk"):
        headers = {"Range": "bytes=0-2", "If-Range": stale}
        reply = await fetch("/static/foo.txt", headers=headers)
        assert (reply.code, reply.body) == (200, FOO)


# -- HEAD, content types, large files ----------------------------------------------


async def test_head(start, static_dir):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/big.bin", "HEAD")
    assert (reply.code, reply.body) == (200, b"")
    assert reply.headers["Content-Length"] == str(len(BIG))
    reply = await fetch("/static/big.bin", "HEAD", headers={"Range": "bytes=0-9"})
    assert (reply.code, reply.headers["Content-Length"]) == (206, "10")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.html", "text/html"),
        ("a.css", "text/css"),
        ("a.png", "image/png"),
        ("a.tar.gz", "application/gzip"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
async def test_content_types(start, static_dir, name, content_type):
    (static_dir / name).write_bytes(b"x")
    fetch = start(seed_app(static_dir))
    assert (await fetch("/static/" + name)).headers["Content-Type"] == content_type


async def test_large_file_plain_and_compressed_app(start, static_dir):
    # Plain connection: sendfile. With compress_response, .bin is not
    # compressible, so the gzip transform passes it through (sendfile too).
    for settings in ({}, {"compress_response": True}):
        fetch = start(seed_app(static_dir, **settings))
        reply = await fetch("/static/big.bin", headers={"Accept-Encoding": "gzip"})
        assert reply.code == 200
        assert reply.body == BIG
        reply = await fetch("/static/big.bin", headers={"Range": "bytes=1000-2000999"})
        assert reply.body == BIG[1000:2001000]


async def test_sendfile_is_used_on_plain_connections(start, static_dir, monkeypatch):
    calls = []
    real = os.sendfile

    def spy(*args):
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr(os, "sendfile", spy)
    fetch = start(seed_app(static_dir))
    assert (await fetch("/static/big.bin")).body == BIG
    assert sum(calls) >= len(BIG)


async def test_compressed_response_of_text_is_not_sent_with_sendfile(start, static_dir):
    text = b"compressible text " * 10000
    (static_dir / "long.txt").write_bytes(text)
    fetch = start(seed_app(static_dir, compress_response=True))
    reply = await fetch("/static/long.txt", headers={"Accept-Encoding": "gzip"})
    import gzip

    assert reply.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(reply.body) == text


async def test_large_file_over_tls(io_loop, static_dir):
    import http.client

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    sock, port = bind_unused_port()
    server = HTTPServer(seed_app(static_dir), ssl_options=server_ctx)
    server.add_sockets([sock])

    def get():
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=client_ctx, timeout=10)
        try:
            conn.request("GET", "/static/big.bin")
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    try:
        status, body = await io_loop.run_in_executor(None, get)
        assert (status, body == BIG) == (200, True)
    finally:
        server.stop()
        await server.close_all_connections()


# -- precompressed siblings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "body", "encoding"),
    [
        ("br, gzip", b"brotli bytes", "br"),
        ("gzip", b"gzip bytes", "gzip"),
        ("gzip;q=1.0, br;q=0", b"gzip bytes", "gzip"),
        ("", b"console.log('identity');" * 10, None),
        ("identity", b"console.log('identity');" * 10, None),
    ],
)
async def test_precompressed_siblings(start, static_dir, accept, body, encoding):
    fetch = start(seed_app(static_dir))
    reply = await fetch("/static/app.js", headers={"Accept-Encoding": accept})
    assert (reply.code, reply.body) == (200, body)
    assert reply.headers.get("Content-Encoding") == encoding
    assert reply.headers["Vary"] == "Accept-Encoding"
    assert "javascript" in reply.headers["Content-Type"]
    # Each representation has its own ETag; revalidation works on it.
    etag = reply.headers["Etag"]
    assert etag == f'"{md5(body)}"'
    headers = {"Accept-Encoding": accept, "If-None-Match": etag}
    assert (await fetch("/static/app.js", headers=headers)).code == 304


async def test_ranges_use_the_identity_file(start, static_dir):
    fetch = start(seed_app(static_dir))
    headers = {"Accept-Encoding": "br", "Range": "bytes=0-6"}
    reply = await fetch("/static/app.js", headers=headers)
    assert (reply.code, reply.body) == (206, b"console")
    assert "Content-Encoding" not in reply.headers


async def test_no_vary_without_siblings(start, static_dir):
    fetch = start(seed_app(static_dir))
    assert "Vary" not in (await fetch("/static/foo.txt")).headers


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/static/../secret.txt", 403),
        ("/static/../static_foo.txt", 403),  # the sibling-prefix trick
        ("/static/%2e%2e/secret.txt", 403),
        ("/static/%2E%2E/static_foo.txt", 403),
        ("/static/..%2fsecret.txt", 403),
        ("/static/dir/../../secret.txt", 403),
        ("/static//etc/passwd", 403),  # absolute path
        ("/static/%2fetc%2fpasswd", 403),
        ("/static/foo.txt%00.png", 400),
        ("/static/%00", 400),
        ("/static/..%5csecret.txt", 404),  # a backslash is just a character here
        ("/static/..\\secret.txt", 404),
        ("/static/link_out.txt", 403),  # symlink leaving the root
        ("/static/shared.txt", 403),
        ("/static/dir", 403),  # a directory, no default_filename
        ("/static/", 403),
    ],
)
async def test_path_safety(start, static_dir, path, code):
    fetch = start(seed_app(static_dir))
    reply = await fetch(path)
    assert reply.code == code
    assert b"secret" not in reply.body and b"sibling" not in reply.body


async def test_symlink_inside_root_is_served(start, static_dir):
    fetch = start(seed_app(static_dir))
    assert (await fetch("/static/link_in.txt")).body == FOO


async def test_allowed_symlink_directory(start, static_dir, tmp_path):
    app = Application(
        [
            (
                r"/files/(.*)",
                StaticFileHandler,
                {
                    "path": str(static_dir),
                    "allowed_symlink_directory": [str(static_dir), str(tmp_path / "elsewhere")],
                },
            )
        ]
    )
    fetch = start(app)
    assert (await fetch("/files/shared.txt")).body == b"shared"
    assert (await fetch("/files/foo.txt")).body == FOO
    assert (await fetch("/files/link_out.txt")).code == 403  # not in the allowed list


async def test_default_filename_and_directory_redirect(start, static_dir):
    app = Application(
        [(r"/(.*)", StaticFileHandler, {"path": str(static_dir), "default_filename": "index.html"})]
    )
    fetch = start(app)
    reply = await fetch("/dir")
    assert (reply.code, reply.headers["Location"]) == (301, "/dir/")
    assert (await fetch("/dir/")).body == b"<p>index</p>"


@pytest.mark.parametrize("path", ["//evil.com/../dir", "/\\evil.com/../dir", "//evil.com/../"])
async def test_no_open_redirect_via_default_filename(start, static_dir, path):
    app = Application(
        [(r"/(.*)", StaticFileHandler, {"path": str(static_dir), "default_filename": "index.html"})]
    )
    fetch = start(app)
    reply = await fetch(path)
    assert reply.code == 403
    assert "Location" not in reply.headers


async def test_methods_other_than_get_and_head(start, static_dir):
    fetch = start(seed_app(static_dir))
    assert (await fetch("/static/foo.txt", "POST", b"")).code == 405


async def test_no_existence_oracle_through_a_symlinked_directory(start, static_dir, tmp_path):
    # A directory symlink leaving the root: asking for a missing file under it
    # is refused like an existing one, so it tells nothing about what exists.
    outside = tmp_path / "outside_dir"
    outside.mkdir()
    (outside / "real.txt").write_bytes(b"x")
    os.symlink(outside, static_dir / "linkdir")
    fetch = start(seed_app(static_dir))
    for name in ("real.txt", "missing.txt"):
        with ExpectLog("squall.general", ".*is not in root static directory"):
            assert (await fetch(f"/static/linkdir/{name}")).code == 403
