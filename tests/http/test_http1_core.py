"""The sans-I/O HTTP/1 core (squall._http1), byte for byte, and the server
connection's state machine fed bytes through a recording transport: bytes
in, events and bytes out, no sockets."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest

from squall._http1 import _heads as heads
from squall._http1._abnf import comma_tokens, is_token
from squall._http1._flow import APPLICATION_BEHIND, PEER_BEHIND, FlowControl
from squall._http1._inflate import INFLATE_STEP, BoundedInflater, InflateError, InflateLimitError
from squall._http1._limits import HTTP1ConnectionParameters
from squall._http1._persistence import keeps_alive
from squall._http1._requests import Reject, check_request, reject_for_parser_error
from squall._http1._response import ResponseError, ResponseParser
from squall._http1._states import Life, Message
from squall.http1connection import HTTP1ServerProtocol
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.testing import ExpectLog

# -- grammar ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["GET", "X-Custom-1", "a!#$%&'*+-.^_`|~z"])
def test_tokens(text):
    assert is_token(text)


@pytest.mark.parametrize("text", ["", "a b", "a:b", "a\r\nb", "é", "a\x00", "(x)"])
def test_not_tokens(text):
    assert not is_token(text)


def test_comma_tokens_across_lines_and_case():
    assert comma_tokens(["Keep-Alive, Upgrade", " close\t,,"]) == {"keep-alive", "upgrade", "close"}
    assert comma_tokens(None) == set()
    assert comma_tokens("") == set()


# -- one keep-alive rule (RFC 9112 §9.3) ----------------------------------------------


@pytest.mark.parametrize(
    ("version", "connection", "persists"),
    [
        ("HTTP/1.1", None, True),
        ("HTTP/1.1", ["close"], False),
        ("HTTP/1.1", ["Keep-Alive, CLOSE"], False),
        ("HTTP/1.1", ["enclosed"], True),  # a token, not a substring
        ("HTTP/1.1", ["upgrade"], True),
        ("HTTP/1.0", None, False),
        ("HTTP/1.0", ["keep-alive"], True),
        ("HTTP/1.0", ["Upgrade-Insecure, Keep-Alive"], True),
        ("HTTP/1.0", ["no-keep-alive"], False),
        ("HTTP/1.0", ["keep-alive, close"], False),
    ],
)
def test_keeps_alive(version, connection, persists):
    assert keeps_alive(version, connection) is persists


# -- heads out ---------------------------------------------------------------------------


def test_response_head_bytes():
    fields = {"Content-Length": ["2"], "Set-Cookie": ["a=1", "b=2"]}
    assert heads.format_response_head(ResponseStartLine("HTTP/1.1", 200, "OK"), fields) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
    )
    assert heads.format_response_head(("HTTP/1.0", 204, ""), {}) == b"HTTP/1.0 204 \r\n\r\n"


@pytest.mark.parametrize(
    "fields",
    [
        {"X-A": ["1\r\nEvil: injected"]},
        {"X-A": ["1\nEvil: injected"]},
        {"X-A": ["1\r"]},
        {"X-A\r\nEvil": ["1"]},
    ],
)
def test_response_head_refuses_line_breaks(fields):
    with pytest.raises(heads.InvalidHead, match="Illegal characters"):
        heads.format_response_head(("HTTP/1.1", 200, "OK"), fields)


def test_response_head_refuses_bad_status_lines():
    with pytest.raises(heads.InvalidHead, match="reason"):
        heads.format_response_head(("HTTP/1.1", 200, "OK\r\nX: y"), {})
    with pytest.raises(heads.InvalidHead, match="status line"):
        heads.format_response_head(("HTTP/2", 200, "OK"), {})
    with pytest.raises(heads.InvalidHead, match="status line"):
        heads.format_response_head(("HTTP/1.1", 42, "Odd"), {})


def test_request_head_bytes():
    fields = {"Host": ["example.com"], "Accept": ["*/*"]}
    assert heads.format_request_head("GET", "/a?b=c", fields) == (
        b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    )
    assert heads.format_request_head("OPTIONS", "*", {}) == b"OPTIONS * HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "target", "fields", "message"),
    [
        ("GET / HTTP/1.0\r\n", "/", {}, "Invalid HTTP method"),
        ("", "/", {}, "Invalid HTTP method"),
        ("GET", "/a b", {}, "request target"),
        ("GET", "/a\r\nX: y", {}, "request target"),
        ("GET", "", {}, "request target"),
        ("GET", "/", {"X-A": ["a\x00b"]}, "Illegal characters"),
        ("GET", "/", {"X-A": ["a\r\nb: c"]}, "Illegal characters"),
        ("GET", "/", {"Bad Name": ["x"]}, "Invalid header name"),
        ("GET", "/", {"X\nY": ["x"]}, "Illegal characters"),
    ],
)
def test_request_head_refuses(method, target, fields, message):
    with pytest.raises(heads.InvalidHead, match=message):
        heads.format_request_head(method, target, fields)


def test_invalid_head_is_a_value_error():
    assert issubclass(heads.InvalidHead, ValueError)


def test_chunk_framing():
    assert heads.frame_chunk(b"hello") == b"5\r\nhello\r\n"
    assert heads.frame_chunk(b"x" * 255) == b"ff\r\n" + b"x" * 255 + b"\r\n"
    assert heads.LAST_CHUNK == b"0\r\n\r\n"
    assert heads.CONTINUE_100 == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_http_date_format():
    value = heads.http_date()
    assert value.endswith(" GMT") and len(value) == 29 and value[3:5] == ", "


# -- the bounded inflater ------------------------------------------------------------------


def test_inflate_round_trip_in_pieces():
    data = bytes(range(256)) * 1000
    inflater = BoundedInflater(limit=len(data))
    compressed = gzip.compress(data)
    out = []
    for i in range(0, len(compressed), 100):  # fed in small packets
        out.extend(inflater.inflate(compressed[i : i + 100]))
    assert b"".join(out) == data
    assert max(map(len, out)) <= INFLATE_STEP


def test_inflate_stops_a_bomb_after_one_step_past_the_limit():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 KiB on the wire
    inflater = BoundedInflater(limit=100_000)
    with pytest.raises(InflateLimitError):
        inflater.inflate(bomb)
    assert inflater._produced <= 100_000 + INFLATE_STEP


def test_inflate_limit_counts_across_calls():
    compressed = gzip.compress(b"a" * 10_000)
    inflater = BoundedInflater(limit=9_999)
    with pytest.raises(InflateLimitError):
        for i in range(0, len(compressed), 5):
            inflater.inflate(compressed[i : i + 5])


def test_inflate_limit_may_be_raised():
    compressed = gzip.compress(b"a" * 10_000)
    inflater = BoundedInflater(limit=100)
    inflater.limit = 10_000
    assert b"".join(inflater.inflate(compressed)) == b"a" * 10_000


def test_inflate_refuses_what_is_not_gzip():
    with pytest.raises(InflateError, match="invalid gzip"):
        BoundedInflater(limit=1000).inflate(b"not gzip at all")


# -- responses in (client role) --------------------------------------------------------------


def test_response_head_and_chunked_body_byte_by_byte():
    parser = ResponseParser()
    head = parser.parse_head(
        b"HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\nX-A:  padded \r\n\r\n"
    )
    assert (head.version, head.code, head.reason) == ("HTTP/1.1", 200, "Fine")
    assert head.headers["X-A"] == "padded"
    assert head.header_lines[0] == "HTTP/1.1 200 Fine\r\n"
    body = b""
    for byte in b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n":
        body += b"".join(parser.feed(bytes([byte])))
    assert body == b"abcde" and parser.complete and not parser.extra_message
    assert head.keeps_alive()


def test_response_bytes_after_the_message_are_noticed():
    parser = ResponseParser()
    parser.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    assert parser.feed(b"okHTTP/1.1 200 OK\r\n") == [b"ok"]
    assert parser.complete and parser.extra_message


def test_response_101_is_reported_as_switching():
    parser = ResponseParser()
    head = parser.parse_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert parser.switching and head.code == 101 and head.headers["Upgrade"] == "websocket"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTX/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    ],
)
def test_malformed_response_heads(data):
    with pytest.raises(ResponseError, match="malformed HTTP response"):
        ResponseParser().parse_head(data)


def test_response_keep_alive_uses_the_one_rule():
    parser = ResponseParser()
    head = parser.parse_head(b"HTTP/1.0 200 OK\r\nConnection: no-keep-alive\r\n\r\n")
    assert not head.keeps_alive()


# -- requests in: squall's checks beside llhttp's ----------------------------------------------


def test_request_checks():
    check_request("GET", b"/", "HTTP/1.1", {"Host": ["a.example:80"]})
    for fields, version in [({}, "HTTP/1.1"), ({"Host": ["a", "b"]}, "HTTP/1.1")]:
        with pytest.raises(Reject) as info:
            check_request("GET", b"/", version, fields)
        assert info.value.status == 400
    # Tornado's wording, which programs match in the log line.
    with pytest.raises(Reject, match=r"^Missing Host header$"):
        check_request("GET", b"/", "HTTP/1.1", {})
    with pytest.raises(Reject, match=r"^Multiple host headers not allowed: 'a,b'$"):
        check_request("GET", b"/", "HTTP/1.1", {"Host": ["a", "b"]})
    with pytest.raises(Reject, match=r"^Unsupported Transfer-Encoding gzip$"):
        check_request("POST", b"/", "HTTP/1.1", {"Host": ["a"], "Transfer-Encoding": ["gzip"]})
    # Read on HTTP/1.0 (the connection then closes: see wants_keep_alive).
    check_request("POST", b"/", "HTTP/1.0", {"Transfer-Encoding": ["chunked"]})


def test_http2_preface_is_505_in_our_words():
    import httptools

    parser = httptools.HttpRequestParser(object())
    with pytest.raises(httptools.HttpParserError) as info:
        parser.feed_data(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    reject = reject_for_parser_error(info.value, parser)
    assert (reject.status, reject.message) == (505, "HTTP/2 is not supported here")


# -- flow control ---------------------------------------------------------------------------------


class RecordingTransport(asyncio.Transport):
    """Stands in for a socket: records writes, pauses and closes."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False
        self.paused = False
        self.pauses = 0

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        assert not self.paused
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        assert self.paused
        self.paused = False


def test_flow_control_pauses_while_any_reason_holds():
    transport = RecordingTransport()
    flow = FlowControl()
    flow.attach(transport)
    flow.pause_reading(APPLICATION_BEHIND)
    flow.pause_writing()  # the peer is behind too
    assert transport.paused and flow.writing_paused and transport.pauses == 1
    flow.resume_reading(APPLICATION_BEHIND)
    assert transport.paused  # still: the peer is behind
    flow.resume_writing()
    assert not transport.paused and not flow.writing_paused
    flow.resume_reading(PEER_BEHIND)  # nothing to resume: no call
    assert not transport.paused


async def test_flow_control_drain_waits_for_resume_writing(io_loop):
    flow = FlowControl()
    flow.attach(RecordingTransport())
    flow.pause_writing()
    waiter = flow.drain(asyncio.get_running_loop())
    assert not waiter.done()
    flow.resume_writing()
    assert waiter.done()


# -- the server connection, bytes in and events out ------------------------------------------


class Recorder(HTTPMessageDelegate):
    def __init__(self, events: list[Any], connection: Any, answer: bool) -> None:
        self.events = events
        self.connection = connection
        self.answer = answer

    def headers_received(self, start_line, headers):
        self.events.append(("headers", start_line.method, start_line.path, dict(headers)))

    def data_received(self, chunk):
        self.events.append(("data", chunk))

    def finish(self):
        self.events.append(("end",))
        if self.answer:
            self.connection.write_headers(
                ResponseStartLine("HTTP/1.1", 200, "OK"),
                HTTPHeaders({"Content-Length": "2", "Date": "d", "Server": "s"}),
                b"ok",
            )
            self.connection.finish()

    def on_connection_close(self):
        self.events.append(("lost",))


class Server(HTTPServerConnectionDelegate):
    def __init__(self, answer: bool = True) -> None:
        self.events: list[Any] = []
        self.answer = answer

    def start_request(self, server_conn, request_conn):
        return Recorder(self.events, request_conn, self.answer)


def connect(server: Server, **params: Any) -> tuple[HTTP1ServerProtocol, RecordingTransport]:
    protocol = HTTP1ServerProtocol(server, HTTP1ConnectionParameters(**params), lambda t: None)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: d\r\nServer: s\r\n\r\nok"


async def test_pipelined_requests_in_one_packet(io_loop):
    server = Server()
    protocol, transport = connect(server)
    assert (protocol._message, protocol._life) == (Message.BETWEEN, Life.OPEN)
    protocol.data_received(
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
    )
    assert server.events == [
        ("headers", "GET", "/a", {"Host": "h"}),
        ("end",),
        ("headers", "POST", "/b", {"Host": "h", "Content-Length": "3"}),
        ("data", b"xyz"),
        ("end",),
    ]
    assert bytes(transport.data) == OK * 2
    assert (protocol._message, protocol._life) == (Message.BETWEEN, Life.OPEN)
    protocol.connection_lost(None)


async def test_states_through_a_request_cut_into_packets(io_loop):
    server = Server()
    protocol, _ = connect(server)
    seen = []
    for piece in [b"POST / HTTP/1.1\r\nHo", b"st: h\r\nContent-Length: 4\r\n\r\n", b"ab", b"cd"]:
        protocol.data_received(piece)
        seen.append(protocol._message)
    assert seen == [Message.HEAD, Message.BODY, Message.BODY, Message.BETWEEN]
    assert [e for e in server.events if e[0] == "data"] == [("data", b"ab"), ("data", b"cd")]
    protocol.connection_lost(None)


async def test_one_byte_chunks_become_one_event_per_packet(io_loop):
    server = Server()
    protocol, _ = connect(server)
    body = b"1\r\nx\r\n" * 1000 + b"0\r\n\r\n"
    protocol.data_received(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    )
    assert [e for e in server.events if e[0] == "data"] == [("data", b"x" * 1000)]
    protocol.connection_lost(None)


async def test_connection_close_stops_reading(io_loop):
    server = Server()
    protocol, transport = connect(server)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert protocol._life is Life.ANSWERING and transport.closed
    assert bytes(transport.data) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: d\r\nServer: s\r\nConnection: close\r\n\r\nok"
    )
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")  # dropped
    assert len([e for e in server.events if e[0] == "headers"]) == 1


async def test_half_close_answers_then_closes(io_loop):
    server = Server(answer=False)
    protocol, transport = connect(server)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert protocol.eof_received() is True  # keep the transport open to answer
    assert protocol._life is Life.ANSWERING and not transport.closed
    exchange = protocol._exchanges[0]
    exchange.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders({"Content-Length": "2"}), b"ok"
    )
    exchange.finish()
    assert transport.closed  # everything asked was answered
    protocol.connection_lost(None)


async def test_eof_while_idle_or_mid_request_closes(io_loop):
    for data in [b"", b"GET / HTTP/1.1\r\nHo"]:
        protocol, _ = connect(Server())
        if data:
            protocol.data_received(data)
        assert protocol.eof_received() is None
        protocol.connection_lost(None)


async def test_writes_backing_up_pause_reading(io_loop):
    server = Server()
    protocol, transport = connect(server)
    protocol.pause_writing()  # the transport's buffer is over its mark
    assert transport.paused
    protocol.resume_writing()
    assert not transport.paused
    protocol.connection_lost(None)


async def test_http2_preface_answered_505(io_loop):
    protocol, transport = connect(Server())
    with ExpectLog("squall.general", "Malformed HTTP message"):
        protocol.data_received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert bytes(transport.data) == b"HTTP/1.1 505 HTTP Version Not Supported\r\n\r\n"
    assert transport.closed and protocol._life is Life.ANSWERING
