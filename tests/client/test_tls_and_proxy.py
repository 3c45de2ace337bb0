"""TLS verification, client certificates, HTTP proxies, digest vectors."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import pytest
import trustme

from squall._client_auth import digest_authorization, parse_digest_challenge
from squall.httpclient import AsyncHTTPClient, HTTPClientError

# -- TLS ------------------------------------------------------------------------


async def test_certificate_verified_by_default(
    tls_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    server, _ca = tls_server
    if backend == "simple":
        # As Tornado's simple client: the handshake's own error, logged by
        # the stream at WARNING.
        with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.fetch(server.url("/hello"))
        return
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(server.url("/hello"))
    assert info.value.code == 599
    assert isinstance(info.value, OSError)
    assert "local issuer certificate" in str(info.value)


async def test_ca_certs_and_reuse(tls_server: Any, client: AsyncHTTPClient) -> None:
    server, ca = tls_server
    for _ in range(3):
        response = await client.fetch(server.url("/hello"), ca_certs=ca)
        assert response.body == b"Hello"
    assert len(set(server.peers)) == 1


async def test_hostname_checked(
    tls_ca: trustme.CA, serve_app: Any, tmp_path: Any, make_client: Any, backend: str
) -> None:
    cert = tls_ca.issue_cert("other.example")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = serve_app("https", ssl_options=context)
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    client = make_client()
    try:
        refused = HTTPClientError if backend == "curl" else ssl.SSLCertVerificationError
        with pytest.raises(refused, match="match"):
            await client.fetch(server.url("/hello"), ca_certs=str(ca_file))
        response = await client.fetch(server.url("/hello"), validate_cert=False)
        assert response.body == b"Hello"
    finally:
        client.close()


async def test_ssl_options_context(tls_server: Any, client: AsyncHTTPClient, backend: str) -> None:
    server, ca = tls_server
    context = ssl.create_default_context(cafile=ca)
    if backend == "curl":
        with pytest.raises(ValueError, match="ssl_options is not supported"):
            await client.fetch(server.url("/hello"), ssl_options=context)
        return
    assert (await client.fetch(server.url("/hello"), ssl_options=context)).body == b"Hello"
    options = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
    assert (await client.fetch(server.url("/hello"), ssl_options=options)).body == b"Hello"


async def test_client_certificate(
    tls_ca: trustme.CA, serve_app: Any, tmp_path: Any, client: AsyncHTTPClient
) -> None:
    server_cert = tls_ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    tls_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    server = serve_app("https", ssl_options=context)
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    client_cert = tls_ca.issue_cert("client@example.com")
    cert_file = tmp_path / "client.pem"
    key_file = tmp_path / "client.key"
    client_cert.cert_chain_pems[0].write_to_path(str(cert_file))
    client_cert.private_key_pem.write_to_path(str(key_file))
    response = await client.fetch(
        server.url("/hello"),
        ca_certs=str(ca_file),
        client_cert=str(cert_file),
        client_key=str(key_file),
    )
    assert response.body == b"Hello"
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(server.url("/hello"), ca_certs=str(ca_file))
    assert info.value.code == 599


# -- proxies ---------------------------------------------------------------------


class ForwardProxy:
    """A minimal forward proxy: answers absolute-form requests itself (after
    recording them) and tunnels CONNECT to the requested authority."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.connections = 0
        self.refuse_connect = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            self.heads.append(head)
            method, target, _version = head.split(b"\r\n", 1)[0].split(b" ")
            if method == b"CONNECT":
                await self._tunnel(target.decode(), reader, writer)
                return
            body = b"proxied " + target
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
            await writer.drain()

    async def _tunnel(
        self, authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.refuse_connect:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        host, _, port = authority.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_http_proxy_absolute_form(raw_server: Any, client: AsyncHTTPClient) -> None:
    proxy = ForwardProxy()
    port = await raw_server(proxy.handle)
    for _ in range(2):
        response = await client.fetch(
            "http://origin.invalid:8080/path?q=1",
            proxy_host="127.0.0.1",
            proxy_port=port,
            proxy_username="user",
            proxy_password="pass",
        )
        assert response.body == b"proxied http://origin.invalid:8080/path?q=1"
    head = proxy.heads[0]
    assert head.startswith(b"GET http://origin.invalid:8080/path?q=1 HTTP/1.1\r\n")
    assert b"\r\nHost: origin.invalid:8080\r\n" in head
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n" in head
    assert proxy.connections == 1  # kept alive to the proxy


async def test_https_through_connect_tunnel(
    raw_server: Any, tls_server: Any, client: AsyncHTTPClient
) -> None:
    server, ca = tls_server
    proxy = ForwardProxy()
    port = await raw_server(proxy.handle)
    for _ in range(2):
        response = await client.fetch(
            server.url("/echo"),
            ca_certs=ca,
            proxy_host="127.0.0.1",
            proxy_port=port,
            proxy_username="user",
        )
        echoed = json.loads(response.body)
        # Proxy credentials go to the proxy only, never through the tunnel.
        assert "Proxy-Authorization" not in echoed["headers"]
    assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: Basic dXNlcjo=" in proxy.heads[0]
    assert proxy.connections == 1


async def test_connect_refused_by_proxy(
    raw_server: Any, tls_server: Any, client: AsyncHTTPClient, backend: str
) -> None:
    server, ca = tls_server
    proxy = ForwardProxy()
    proxy.refuse_connect = True
    port = await raw_server(proxy.handle)
    message = (
        "CONNECT tunnel failed, response 403" if backend == "curl" else "proxy CONNECT failed: 403"
    )
    with pytest.raises(HTTPClientError, match=message) as info:
        await client.fetch(
            server.url("/hello"), ca_certs=ca, proxy_host="127.0.0.1", proxy_port=port
        )
    assert info.value.code == 599


# -- digest computation ------------------------------------------------------------

# RFC 7616 §3.9.1's example.
_RFC_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
_RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_rfc7616_example(algorithm: str, expected: str) -> None:
    challenge = parse_digest_challenge(_RFC_CHALLENGE.replace("MD5", algorithm))
    assert challenge is not None
    assert challenge["realm"] == "http-auth@example.org"
    value = digest_authorization(
        challenge, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce=_RFC_CNONCE
    )
    assert f'response="{expected}"' in value
    assert "qop=auth" in value and "nc=00000001" in value
    assert 'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"' in value


def test_digest_challenge_parameter_names_follow_the_token_grammar() -> None:
    """auth-param names are RFC 9110 tokens: every tchar is kept in a name,
    a separator (``@``, ``/``) never is."""
    tchars = "!#$%&'*+-.^_`|~09azAZ"
    parsed = parse_digest_challenge(f'Digest realm="r", nonce="n", {tchars}=v, a@b=1, c/d="2"')
    assert parsed is not None
    assert parsed[tchars.lower()] == "v"
    assert not any("@" in name or "/" in name for name in parsed)
    assert (parsed["realm"], parsed["nonce"]) == ("r", "n")


def test_digest_challenge_parsing_and_errors() -> None:
    assert parse_digest_challenge('Basic realm="x"') is None
    assert parse_digest_challenge('Digest realm="x"') is None  # no nonce
    parsed = parse_digest_challenge(r'Digest realm="a \"q\"", nonce=abc')
    assert parsed == {"realm": 'a "q"', "nonce": "abc"}
    with pytest.raises(ValueError, match="algorithm"):
        digest_authorization(
            {"realm": "r", "nonce": "n", "algorithm": "SHA-1"}, "u", "p", "GET", "/"
        )
    with pytest.raises(ValueError, match="qop"):
        digest_authorization({"realm": "r", "nonce": "n", "qop": "auth-int"}, "u", "p", "GET", "/")
    legacy = digest_authorization({"realm": "r", "nonce": "n"}, "u", "p", "GET", "/")
    assert "qop" not in legacy
    session = digest_authorization(
        {"realm": "r", "nonce": "n", "qop": "auth", "algorithm": "MD5-sess"}, "u", "p", "GET", "/"
    )
    assert "algorithm=MD5-sess" in session
