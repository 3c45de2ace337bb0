"""Requests llhttp refuses but Tornado serves (or refuses in its own words).

The server parses such a request again with ``squall._http1._fallback``;
these tests drive it over real sockets: what is served, how the connection
carries on after, the log line of what is refused, and the switch that
makes refusals answer with Tornado's statuses (``_tornado_mode``).
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from httptest_helpers import echo_app, raw_exchange, split_responses

from squall import _tornado_mode
from squall.testing import ExpectLog

MALFORMED = "squall.general"


def packets_exchange(port: int, packets: list[bytes], timeout: float = 5.0) -> bytes:
    """Send ``packets`` as separate TCP segments, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for packet in packets:
            s.sendall(packet)
            time.sleep(0.05)  # lets the server read each one on its own
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<<timeout>>")
    return b"".join(chunks)


def answered(data: bytes) -> list[tuple[int, dict]]:
    return [(r.status, r.json()) for r in split_responses(data)]


# -- what llhttp refuses and is served ---------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "method", "version"),
    [
        (b"OTHER / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "OTHER", "HTTP/1.1"),
        (b"get / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "get", "HTTP/1.1"),
        (b"PROPFIND2 / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "PROPFIND2", "HTTP/1.1"),
        (b"GET / HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n", "GET", "HTTP/1.2"),
        (b"GET / HTTP/1.1\nHost: a\nConnection: close\n\n", "GET", "HTTP/1.1"),
    ],
    ids=["unknown method", "lowercase method", "method with digit", "HTTP/1.2", "bare LF"],
)
async def test_request_llhttp_refuses_is_served(serve, blocking, request_bytes, method, version):
    port = serve(echo_app)
    data = await blocking(raw_exchange, port, request_bytes)
    ((status, info),) = answered(data)
    assert status == 200
    assert (info["method"], info["version"], info["path"]) == (method, version, "/")


async def test_unknown_method_with_body_then_keep_alive(serve, blocking):
    """The fallback parser keeps the connection: a body, then more requests,
    pipelined in the same packet and in later ones."""
    port = serve(echo_app)
    packets = [
        b"OTHER /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\n",
        b"Host: a\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    data = await blocking(packets_exchange, port, packets)
    responses = answered(data)
    assert [(s, i["method"], i["path"], i["body"]) for s, i in responses] == [
        (200, "OTHER", "/1", "hello"),
        (200, "GET", "/2", ""),
        (200, "POST", "/3", "abcde"),
        (200, "GET", "/4", ""),
    ]


async def test_unknown_method_after_a_request_in_the_same_packet(serve, blocking):
    port = serve(echo_app)
    packet = (
        b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokOTHER /2 HTTP/1.1\r\n"
        b"Host: a\r\nConnection: close\r\n\r\n"
    )
    data = await blocking(raw_exchange, port, packet)
    assert [(i["method"], i["body"]) for _, i in answered(data)] == [("POST", "ok"), ("OTHER", "")]


async def test_unknown_method_whose_head_spans_packets(serve, blocking):
    """llhttp refuses the method only in the second packet of the head."""
    port = serve(echo_app)
    packets = [b"OT", b"HER /x HTTP/1.1\r\nHo", b"st: a\r\nConnection: close\r\n\r\n"]
    data = await blocking(packets_exchange, port, packets)
    assert [(i["method"], i["path"]) for _, i in answered(data)] == [("OTHER", "/x")]


async def test_equal_content_length_list_is_one_length(serve, blocking):
    port = serve(echo_app)
    packet = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc"
    ((status, info),) = answered(await blocking(raw_exchange, port, packet))
    assert (status, info["body"]) == (200, "abc")


async def test_chunked_on_http_1_0_is_read_then_the_connection_closes(serve, blocking):
    port = serve(echo_app)
    packet = (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        b"2\r\nhi\r\n0\r\n\r\nGET /never HTTP/1.0\r\n\r\n"
    )
    data = await blocking(raw_exchange, port, packet)
    # RFC 9112 §6.1: its framing is suspect, so no second request is read.
    assert [(s, i["body"]) for s, i in answered(data)] == [(200, "hi")]


async def test_chunked_on_http_1_0_keeps_alive_as_tornado(serve, blocking, monkeypatch):
    monkeypatch.setattr(_tornado_mode, "answer_as_tornado", True)
    port = serve(echo_app)
    packet = (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        b"2\r\nhi\r\n0\r\n\r\nGET /next HTTP/1.0\r\n\r\n"
    )
    data = await blocking(raw_exchange, port, packet)
    assert [i["path"] for _, i in answered(data)] == ["/", "/next"]


async def test_upgrade_request_through_the_fallback(serve, blocking):
    """An upgrade request with an unknown method: what follows its head is
    left for whoever takes the connection over."""
    tasks = []

    def app(request):
        async def talk():
            stream = request.connection.detach()
            rest = await stream.read_bytes(len(b"RAW BYTES"))
            await stream.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + rest)
            stream.close()

        tasks.append(asyncio.ensure_future(talk()))

    port = serve(app)
    packet = b"OTHER / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nRAW BYTES"
    data = await blocking(raw_exchange, port, packet)
    assert data == b"HTTP/1.1 101 Switching Protocols\r\n\r\nRAW BYTES"
    await asyncio.gather(*tasks)


# -- what is refused: Tornado's status line and wording ----------------------------------------

REFUSED = [
    ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", "no colon in header line"),
    (
        "CL letters",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: foo\r\n\r\n",
        "Only integer Content-Length is allowed: foo",
    ),
    (
        "CL plus",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +10\r\n\r\n",
        r"Only integer Content-Length is allowed: \+10",
    ),
    (
        "CL unequal list",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
        "Multiple unequal Content-Lengths: '5, 6'",
    ),
    (
        "CL list with nbsp",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\xa05\r\n\r\n",
        "Multiple unequal Content-Lengths:",
    ),
    (
        "TE and CL",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
        "Message with both Transfer-Encoding and Content-Length",
    ),
    (
        "TE twice",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Unsupported Transfer-Encoding chunked,chunked",
    ),
    (
        "TE gzip, chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "Unsupported Transfer-Encoding gzip, chunked",
    ),
    (
        "bad chunk size",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "invalid chunk size",
    ),
    (
        "host with space",
        b"GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n",
        "Invalid Host header: 'foo bar'",
    ),
    ("missing host", b"GET / HTTP/1.1\r\n\r\n", "Missing Host header"),
    ("method not a token", b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", "Malformed HTTP request line"),
    ("bad header name", b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", "Invalid header name"),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "header line cannot start"),
    (
        "unknown method, bad CL",
        b"OTHER / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
        "Only integer Content-Length is allowed: x",
    ),
    (
        "unknown method, bad chunk",
        b"OTHER / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\na\r\n0\r\n\r\n",
        "invalid chunk size",
    ),
    (
        "unknown method, chunk unterminated",
        b"OTHER / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX",
        "improperly terminated chunk",
    ),
]


@pytest.mark.parametrize(
    ("request_bytes", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
async def test_refused_in_tornado_words(serve, blocking, request_bytes, reason):
    port = serve(echo_app)
    with ExpectLog(MALFORMED, f"Malformed HTTP message from 127.0.0.1: {reason}") as log:
        data = await blocking(raw_exchange, port, request_bytes)
    assert data == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert sum(log.counts.values()) == 1  # one log line per bad request


async def test_refusal_after_an_unknown_method_request(serve, blocking):
    """The fallback parser refuses a later request on its connection too,
    after answering the good one before it."""
    port = serve(echo_app)
    packet = b"OTHER /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nbroken\r\n\r\n"
    with ExpectLog(MALFORMED, ".*no colon in header line"):
        data = await blocking(raw_exchange, port, packet)
    assert data.endswith(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    assert [s for s, _ in answered(data[: -len(b"HTTP/1.1 400 Bad Request\r\n\r\n")])] == [200]


async def test_unknown_method_head_over_the_limit(serve, blocking):
    port = serve(echo_app, max_header_size=1024)
    packets = [b"OTHER / HTTP/1.1\r\nHost: a\r\n", b"X-Big: " + b"b" * 4000 + b"\r\n\r\n"]
    with ExpectLog(MALFORMED, "Unsatisfiable read, closing connection: header block too large"):
        data = await blocking(packets_exchange, port, packets)
    assert data == b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n"


async def test_data_after_connection_close_is_dropped_quietly(serve, blocking):
    port = serve(echo_app)
    packet = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGARBAGE"
    data = await blocking(raw_exchange, port, packet)  # no log line expected
    assert [s for s, _ in answered(data)] == [200]


# -- the Tornado switch: refusals with Tornado's statuses --------------------------------------

BIG_BODY = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n" + b"x" * 20000
BIG_HEAD = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 4000 + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("as_tornado", "request_bytes", "answer"),
    [
        (False, BIG_BODY, b"HTTP/1.1 413 Request Entity Too Large\r\n\r\n"),
        (True, BIG_BODY, b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        (False, BIG_HEAD, b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n"),
        (True, BIG_HEAD, b""),  # Tornado closes without answering
    ],
    ids=["body squall", "body tornado", "head squall", "head tornado"],
)
async def test_statuses_by_mode(serve, blocking, monkeypatch, as_tornado, request_bytes, answer):
    monkeypatch.setattr(_tornado_mode, "answer_as_tornado", as_tornado)
    port = serve(echo_app, max_body_size=10_000, max_header_size=1024)
    with ExpectLog(MALFORMED, ".*too (long|large)") as log:
        data = await blocking(raw_exchange, port, request_bytes)
    assert data == answer
    assert sum(log.counts.values()) == 1


MANY_HEADERS = (
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + b"X-Rep: a\r\n" * 500 + b"\r\n"
)


async def test_header_count_limit_by_mode(serve, blocking, monkeypatch):
    port = serve(echo_app)
    with ExpectLog(MALFORMED, ".*too many header lines"):
        data = await blocking(raw_exchange, port, MANY_HEADERS)
    assert data.startswith(b"HTTP/1.1 431 ")
    # Tornado has no count limit, only the size (64 KiB here): served.
    monkeypatch.setattr(_tornado_mode, "answer_as_tornado", True)
    data = await blocking(raw_exchange, port, MANY_HEADERS)
    assert [s for s, _ in answered(data)] == [200]


def test_the_alias_turns_the_switch_on():
    import subprocess
    import sys

    code = (
        "from squall import _tornado_mode; before = _tornado_mode.answer_as_tornado; "
        "from squall.compat import install_tornado; install_tornado(); "
        "print(before, _tornado_mode.answer_as_tornado)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "True"]


async def test_many_pipelined_requests_after_the_fallback(serve, blocking):
    port = serve(echo_app)
    requests = [b"OTHER /first HTTP/1.1\r\nHost: a\r\n\r\n"]
    requests += [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(300)]
    requests += [
        b"PUT /last HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    ]
    data = await blocking(raw_exchange, port, b"".join(requests))
    paths = [info["path"] for _, info in answered(data)]
    assert paths == ["/first"] + [f"/{i}" for i in range(300)] + ["/last"]


async def test_no_request_is_read_from_inside_a_chunked_body(serve, blocking):
    """After a chunked body in the same packet, where the refused request
    begins is not tracked: it is refused, never re-parsed from a guess
    (which could take a request smuggled inside the body for a real one)."""
    port = serve(echo_app)
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    packets = [
        # The body's data begins the second packet, the refused request
        # follows it there.
        b"POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(smuggled),
        smuggled + b"\r\n0\r\n\r\nOTHER /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    with ExpectLog(MALFORMED, ".*Malformed HTTP request line"):
        data = await blocking(packets_exchange, port, packets)
    refusal = b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert data.endswith(refusal)
    served = answered(data[: -len(refusal)])
    assert [(i["path"], i["body"]) for _, i in served] == [("/1", smuggled.decode())]


async def test_unknown_method_in_the_packet_after_a_chunked_body(serve, blocking):
    port = serve(echo_app)
    packets = [
        b"POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        b"OTHER /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    data = await blocking(packets_exchange, port, packets)
    assert [(i["method"], i["path"]) for _, i in answered(data)] == [
        ("POST", "/1"),
        ("OTHER", "/2"),
    ]


async def test_tls_client_hello_on_the_plain_port_is_refused_at_once(serve, blocking):
    """No request line can follow these bytes: refused now, not after a
    wait for a blank line that never comes."""
    port = serve(echo_app)
    client_hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32))
    with ExpectLog(MALFORMED, ".*Malformed HTTP request line"):
        data = await blocking(raw_exchange, port, client_hello, 2.0)
    assert data == b"HTTP/1.1 400 Bad Request\r\n\r\n"
