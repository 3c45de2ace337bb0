"""to_asgi event by event, with asgiref's ApplicationCommunicator playing the
server: the order and content of the messages, and the edge cases a real
server only hits by chance (disconnect mid-body, send failing after the
client left, exceptions before and after the response starts)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

from squall import web, websocket
from squall.asgi import lifespan_state, to_asgi
from squall.httputil import (
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from squall.iostream import StreamClosedError
from squall.testing import ExpectLog

TIMEOUT = 5.0


def http_scope(path: str = "/", method: str = "GET", **extra: Any) -> dict[str, Any]:
    raw, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("10.1.2.3", 5555),
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.done = asyncio.Event()


class Hello(web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class Describe(web.RequestHandler):
    def get(self) -> None:
        self.write(
            {
                "path": self.request.path,
                "uri": self.request.uri,
                "remote_ip": self.request.remote_ip,
                "protocol": self.request.protocol,
            }
        )


@web.stream_request_body
class Upload(web.RequestHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    def data_received(self, chunk: bytes) -> None:
        self.rec.events.append(("chunk", chunk))

    def post(self) -> None:
        self.rec.events.append("post")
        self.write("ok")

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self.rec.events.append("closed")
        self.rec.done.set()


class Poll(web.RequestHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    async def get(self) -> None:
        await self.rec.done.wait()
        self.write("too late")
        try:
            await self.flush()
        except StreamClosedError:
            self.rec.events.append("flush failed")

    def on_connection_close(self) -> None:
        self.rec.events.append("closed")
        self.rec.done.set()


class Streamer(web.RequestHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    async def get(self) -> None:
        for i in range(3):
            self.write(f"part {i};")
            try:
                await self.flush()
            except StreamClosedError:
                self.rec.events.append(f"flush {i} failed")
                return
            self.rec.events.append(f"flushed {i}")


class FailsEarly(web.RequestHandler):
    def get(self) -> None:
        raise ValueError("before the response (expected)")


class FailsLate(web.RequestHandler):
    async def get(self) -> None:
        self.write("partial")
        await self.flush()
        raise ValueError("after the response started (expected)")


def make_app(rec: Recorder) -> web.Application:
    return web.Application(
        [
            (r"/", Hello),
            (r"/describe/.*", Describe),
            (r"/upload", Upload, {"rec": rec}),
            (r"/poll", Poll, {"rec": rec}),
            (r"/stream", Streamer, {"rec": rec}),
            (r"/early", FailsEarly),
            (r"/late", FailsLate),
        ]
    )


async def test_small_response_is_one_start_and_one_final_body() -> None:
    comm = ApplicationCommunicator(to_asgi(make_app(Recorder())), http_scope("/"))
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await comm.receive_output(TIMEOUT)
    assert start["type"] == "http.response.start" and start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-length"] == b"12"
    assert headers[b"content-type"] == b"text/html; charset=UTF-8"
    assert all(name == name.lower() for name, _ in start["headers"])
    # RequestHandler's default Server header is the ASGI server's to send.
    assert b"server" not in headers
    body = await comm.receive_output(TIMEOUT)
    assert body == {"type": "http.response.body", "body": b"Hello, world", "more_body": False}
    await comm.wait(TIMEOUT)
    assert await comm.receive_nothing()


async def test_scope_feeds_remote_ip_protocol_and_routing_below_root_path() -> None:
    scope = http_scope(
        "/api/describe/x%2Fy?q=1",
        root_path="/api",
        scheme="https",
        client=("203.0.113.9", 4444),
    )
    scope["raw_path"] = b"/api/describe/x%2Fy"
    comm = ApplicationCommunicator(to_asgi(make_app(Recorder())), scope)
    await comm.send_input({"type": "http.request", "body": b""})
    start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 200
    body = await comm.receive_output(TIMEOUT)
    import json

    assert json.loads(body["body"]) == {
        "path": "/describe/x%2Fy",
        "uri": "/describe/x%2Fy?q=1",
        "remote_ip": "203.0.113.9",
        "protocol": "https",
    }


async def test_streamed_body_arrives_chunk_by_chunk() -> None:
    rec = Recorder()
    comm = ApplicationCommunicator(to_asgi(make_app(rec)), http_scope("/upload", "POST"))
    for piece in (b"one", b"two"):
        await comm.send_input({"type": "http.request", "body": piece, "more_body": True})
    await comm.send_input({"type": "http.request", "body": b"three", "more_body": False})
    start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 200
    await comm.receive_output(TIMEOUT)
    assert rec.events == [("chunk", b"one"), ("chunk", b"two"), ("chunk", b"three"), "post"]


async def test_disconnect_mid_body_reaches_on_connection_close() -> None:
    rec = Recorder()
    comm = ApplicationCommunicator(to_asgi(make_app(rec)), http_scope("/upload", "POST"))
    await comm.send_input({"type": "http.request", "body": b"first", "more_body": True})
    # The handler's body wait fails with StreamClosedError: the client's
    # own disconnect, not logged as an error (conftest fails on one).
    await comm.send_input({"type": "http.disconnect"})
    await asyncio.wait_for(rec.done.wait(), TIMEOUT)
    await comm.wait(TIMEOUT)
    assert ("chunk", b"first") in rec.events and "closed" in rec.events
    assert "post" not in rec.events
    assert await comm.receive_nothing()  # no response for a client that left


async def test_disconnect_while_waiting_then_writes_go_nowhere() -> None:
    rec = Recorder()
    comm = ApplicationCommunicator(to_asgi(make_app(rec)), http_scope("/poll"))
    await comm.send_input({"type": "http.request", "body": b""})
    assert await comm.receive_nothing(0.05)
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(TIMEOUT)
    for _ in range(100):
        if "flush failed" in rec.events:
            break
        await asyncio.sleep(0.01)
    assert rec.events == ["closed", "flush failed"]
    assert await comm.receive_nothing()


async def test_send_failing_after_the_client_left() -> None:
    """ASGI 2.4: send() raises an OSError once the client is gone; the
    handler's flush fails and on_connection_close-style cleanup runs."""
    rec = Recorder()
    app = to_asgi(make_app(rec))
    sent: list[dict[str, Any]] = []
    received = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not received.is_set():
            received.set()
            return {"type": "http.request", "body": b""}
        await asyncio.Event().wait()  # the server has nothing more to say
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and sent:
            raise OSError("client went away")
        sent.append(message)

    await asyncio.wait_for(app(http_scope("/stream"), receive, send), TIMEOUT)
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert rec.events == ["flush 0 failed"]


async def test_flush_waits_for_the_server_to_take_the_data() -> None:
    rec = Recorder()
    app = to_asgi(make_app(rec))
    gate = asyncio.Event()
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b""}
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            await gate.wait()  # a client that is not reading
        sent.append(message)

    task = asyncio.ensure_future(app(http_scope("/stream"), receive, send))
    await asyncio.sleep(0.05)
    assert rec.events == []  # flush 0 is still waiting on send
    gate.set()
    await asyncio.wait_for(task, TIMEOUT)
    assert rec.events == ["flushed 0", "flushed 1", "flushed 2"]
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert b"".join(bodies) == b"part 0;part 1;part 2;"
    assert sent[-1]["more_body"] is False


async def test_handler_exception_before_start_is_a_500() -> None:
    comm = ApplicationCommunicator(to_asgi(make_app(Recorder())), http_scope("/early"))
    await comm.send_input({"type": "http.request", "body": b""})
    with ExpectLog("squall.application", "Uncaught exception"):
        start = await comm.receive_output(TIMEOUT)
        await comm.receive_output(TIMEOUT)
    assert start["status"] == 500


async def test_handler_exception_after_start_ends_the_response() -> None:
    comm = ApplicationCommunicator(to_asgi(make_app(Recorder())), http_scope("/late"))
    await comm.send_input({"type": "http.request", "body": b""})
    with (
        ExpectLog("squall.application", "Uncaught exception GET /late"),
        ExpectLog("squall.general", "Cannot send error response after headers written"),
    ):
        start = await comm.receive_output(TIMEOUT)
        assert start["status"] == 200
        bodies = []
        while True:
            message = await comm.receive_output(TIMEOUT)
            bodies.append(message["body"])
            if not message.get("more_body"):
                break
    assert b"".join(bodies) == b"partial"


class _Delegate(HTTPServerConnectionDelegate):
    """A bare delegate (no web.Application) that fails where told."""

    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        fail_in = self.fail_in

        class Message(HTTPMessageDelegate):
            def headers_received(self, start_line: Any, headers: Any) -> None:
                if fail_in == "headers":
                    raise RuntimeError("delegate failed (expected)")

            def finish(self) -> None:
                from squall.httputil import HTTPHeaders

                request_conn.write_headers(
                    ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders(), b"begun"
                )
                raise RuntimeError("delegate failed after starting (expected)")

        return Message()


async def test_delegate_exception_before_start_is_a_500() -> None:
    comm = ApplicationCommunicator(to_asgi(_Delegate("headers")), http_scope("/"))
    await comm.send_input({"type": "http.request", "body": b""})
    with ExpectLog("squall.application", "Uncaught exception handling request"):
        start = await comm.receive_output(TIMEOUT)
        body = await comm.receive_output(TIMEOUT)
    assert start["status"] == 500
    assert body["body"].startswith(b"500 Internal Server Error")


async def test_delegate_exception_after_start_aborts() -> None:
    """The response cannot be completed: the ASGI way is to raise, so that
    the server drops the connection instead of ending the body cleanly."""
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b""}
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = to_asgi(_Delegate("finish"))
    with ExpectLog("squall.application", "Uncaught exception handling request"):
        with pytest.raises(ConnectionAbortedError):
            await asyncio.wait_for(app(http_scope("/"), receive, send), TIMEOUT)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert [m.get("body") for m in sent[1:]] == [b"begun"]
    assert sent[-1]["more_body"] is True  # never said to be complete


async def test_body_over_the_limit_is_413() -> None:
    rec = Recorder()

    @web.stream_request_body
    class Small(Upload):
        def prepare(self) -> None:
            self.request.connection.set_max_body_size(4)  # type: ignore[union-attr]

    app = web.Application([(r"/small", Small, {"rec": rec})])
    comm = ApplicationCommunicator(to_asgi(app), http_scope("/small", "POST"))
    await comm.send_input({"type": "http.request", "body": b"12345678", "more_body": True})
    start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 413
    await comm.receive_output(TIMEOUT)
    await comm.wait(TIMEOUT)


async def test_missing_host_is_400() -> None:
    scope = http_scope("/", headers=[], server=None)
    comm = ApplicationCommunicator(to_asgi(make_app(Recorder())), scope)
    await comm.send_input({"type": "http.request", "body": b""})
    start = await comm.receive_output(TIMEOUT)
    body = await comm.receive_output(TIMEOUT)
    assert start["status"] == 400
    assert b"Missing Host header" in body["body"]


async def test_unknown_scope_type_and_non_delegates_are_refused() -> None:
    app = to_asgi(make_app(Recorder()))
    comm = ApplicationCommunicator(app, {"type": "carrier-pigeon"})
    with pytest.raises(ValueError, match="carrier-pigeon"):
        await comm.wait(TIMEOUT)
    with pytest.raises(TypeError, match="HTTPServerConnectionDelegate"):
        to_asgi(lambda request: None)  # type: ignore[arg-type]


# -- lifespan ----------------------------------------------------------------


async def test_lifespan_runs_hooks_in_order_with_state() -> None:
    calls: list[str] = []
    app = web.Application()

    async def open_pool() -> None:
        calls.append("open")
        lifespan_state()["pool"] = "the pool"

    app.on_startup.append(open_pool)
    app.on_startup.append(lambda: calls.append("second") and None)
    app.on_shutdown.append(lambda: calls.append("close") and None)
    state: dict[str, Any] = {}
    comm = ApplicationCommunicator(to_asgi(app), {"type": "lifespan", "state": state})
    await comm.send_input({"type": "lifespan.startup"})
    assert await comm.receive_output(TIMEOUT) == {"type": "lifespan.startup.complete"}
    assert calls == ["open", "second"] and state == {"pool": "the pool"}
    await comm.send_input({"type": "lifespan.shutdown"})
    assert await comm.receive_output(TIMEOUT) == {"type": "lifespan.shutdown.complete"}
    await comm.wait(TIMEOUT)
    assert calls == ["open", "second", "close"]
    with pytest.raises(LookupError):
        lifespan_state()


async def test_lifespan_startup_failure_is_reported() -> None:
    app = web.Application()

    def broken() -> None:
        raise RuntimeError("no database (expected)")

    app.on_startup.append(broken)
    comm = ApplicationCommunicator(to_asgi(app), {"type": "lifespan"})
    await comm.send_input({"type": "lifespan.startup"})
    with ExpectLog("squall.application", "Uncaught exception in a startup hook"):
        reply = await comm.receive_output(TIMEOUT)
    assert reply["type"] == "lifespan.startup.failed"
    assert "no database" in reply["message"]


async def test_lifespan_off_raises_for_the_server_to_skip_it() -> None:
    comm = ApplicationCommunicator(to_asgi(web.Application(), lifespan=False), {"type": "lifespan"})
    await comm.send_input({"type": "lifespan.startup"})
    with pytest.raises(ValueError, match="lifespan"):
        await comm.wait(TIMEOUT)


# -- WebSocket -----------------------------------------------------------------


class Echo(websocket.WebSocketHandler):
    def initialize(self, rec: Recorder) -> None:
        self.rec = rec

    def prepare(self) -> None:
        self.set_header("X-Seen", "1")

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[-1]

    async def on_message(self, message: str | bytes) -> None:
        await self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.rec.events.append(("closed", self.close_code, self.close_reason))
        self.rec.done.set()


class Refuse(websocket.WebSocketHandler):
    def prepare(self) -> None:
        raise web.HTTPError(401)


def ws_scope(path: str, *, denial: bool = True) -> dict[str, Any]:
    scope = http_scope(path)
    scope.pop("method")
    scope.update(
        type="websocket",
        scheme="ws",
        subprotocols=["a", "b"],
        headers=[
            (b"host", b"testserver"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-protocol", b"a, b"),
        ],
        extensions={"websocket.http.response": {}} if denial else {},
    )
    return scope


def ws_app(rec: Recorder) -> Any:
    return to_asgi(web.Application([(r"/ws", Echo, {"rec": rec}), (r"/refuse", Refuse)]))


async def test_websocket_accept_echo_and_client_close() -> None:
    rec = Recorder()
    comm = ApplicationCommunicator(ws_app(rec), ws_scope("/ws"))
    await comm.send_input({"type": "websocket.connect"})
    accept = await comm.receive_output(TIMEOUT)
    assert accept["type"] == "websocket.accept"
    assert accept["subprotocol"] == "b"
    names = [name for name, _ in accept["headers"]]
    assert b"x-seen" in names and b"upgrade" not in names
    await comm.send_input({"type": "websocket.receive", "text": "héllo"})
    assert await comm.receive_output(TIMEOUT) == {"type": "websocket.send", "text": "héllo"}
    await comm.send_input({"type": "websocket.receive", "bytes": b"\x00\x01"})
    assert await comm.receive_output(TIMEOUT) == {"type": "websocket.send", "bytes": b"\x00\x01"}
    await comm.send_input({"type": "websocket.disconnect", "code": 4100, "reason": "done"})
    await comm.wait(TIMEOUT)
    assert rec.events == [("closed", 4100, "done")]


async def test_websocket_refused_with_a_response_or_a_close() -> None:
    comm = ApplicationCommunicator(ws_app(Recorder()), ws_scope("/refuse"))
    await comm.send_input({"type": "websocket.connect"})
    start = await comm.receive_output(TIMEOUT)
    assert start["type"] == "websocket.http.response.start" and start["status"] == 401
    body = await comm.receive_output(TIMEOUT)
    assert body["type"] == "websocket.http.response.body" and b"401" in body["body"]
    await comm.wait(TIMEOUT)

    comm = ApplicationCommunicator(ws_app(Recorder()), ws_scope("/refuse", denial=False))
    await comm.send_input({"type": "websocket.connect"})
    closing = await comm.receive_output(TIMEOUT)
    assert closing["type"] == "websocket.close"
    await comm.wait(TIMEOUT)
    assert await comm.receive_nothing()


async def test_websocket_client_gone_before_connect() -> None:
    comm = ApplicationCommunicator(ws_app(Recorder()), ws_scope("/ws"))
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})
    await comm.wait(TIMEOUT)
    assert await comm.receive_nothing()


async def test_server_cancelling_the_app_fails_pending_flushes() -> None:
    """A server shutting down cancels its application tasks: a handler
    waiting on flush() hears StreamClosedError instead of hanging."""
    rec = Recorder()
    app = to_asgi(make_app(rec))
    first = True
    blocked = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b""}
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            blocked.set()
            await asyncio.Event().wait()  # never drains

    task = asyncio.ensure_future(app(http_scope("/stream"), receive, send))
    await asyncio.wait_for(blocked.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if rec.events:
            break
        await asyncio.sleep(0.01)
    assert rec.events == ["flush 0 failed"]


async def test_websocket_message_over_the_limit_closes_1009() -> None:
    rec = Recorder()
    app = to_asgi(web.Application([(r"/ws", Echo, {"rec": rec})], websocket_max_message_size=10))
    comm = ApplicationCommunicator(app, ws_scope("/ws"))
    await comm.send_input({"type": "websocket.connect"})
    assert (await comm.receive_output(TIMEOUT))["type"] == "websocket.accept"
    await comm.send_input({"type": "websocket.receive", "text": "short"})
    assert await comm.receive_output(TIMEOUT) == {"type": "websocket.send", "text": "short"}
    await comm.send_input({"type": "websocket.receive", "bytes": b"x" * 11})
    closing = await comm.receive_output(TIMEOUT)
    assert closing["type"] == "websocket.close" and closing["code"] == 1009
    await comm.send_input({"type": "websocket.disconnect", "code": 1009})
    await comm.wait(TIMEOUT)
    assert rec.events == [("closed", 1009, None)]


async def test_container_mounted_in_an_app_served_through_to_asgi() -> None:
    """Both directions at once: a squall Application under an ASGI server,
    with a Starlette app mounted in it. HTTP passes through; a WebSocket to
    the mounted app is refused (the outer server owns the socket)."""
    import starlette_app

    from squall.asgi import ASGIContainer

    app = to_asgi(
        web.Application([(r"/api/.*", ASGIContainer(starlette_app.app, root_path="/api"))])
    )
    comm = ApplicationCommunicator(app, http_scope("/api/items/3?q=deep"))
    await comm.send_input({"type": "http.request", "body": b""})
    start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 200
    body = b""
    while True:
        message = await comm.receive_output(TIMEOUT)
        body += message["body"]
        if not message.get("more_body"):
            break
    assert body == b'{"id":3,"q":"deep"}'
    await comm.wait(TIMEOUT)

    comm = ApplicationCommunicator(app, ws_scope("/api/ws"))
    await comm.send_input({"type": "websocket.connect"})
    with ExpectLog("squall.application", "Exception in ASGI application"):
        start = await comm.receive_output(TIMEOUT)
    assert start["type"] == "websocket.http.response.start" and start["status"] == 500


async def test_answered_before_the_body_is_in() -> None:
    """A streaming handler that refuses in prepare() gets no body after it."""
    rec = Recorder()

    @web.stream_request_body
    class Refusing(Upload):
        def prepare(self) -> None:
            raise web.HTTPError(403)

    app = to_asgi(web.Application([(r"/refuse", Refusing, {"rec": rec})]))
    comm = ApplicationCommunicator(app, http_scope("/refuse", "POST"))
    await comm.send_input({"type": "http.request", "body": b"part", "more_body": True})
    await comm.send_input({"type": "http.request", "body": b"rest", "more_body": False})
    start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 403
    body = await comm.receive_output(TIMEOUT)
    assert body["more_body"] is False
    await comm.wait(TIMEOUT)
    assert rec.events == []  # neither data_received nor post ran


async def test_repeated_request_headers_keep_every_value() -> None:
    class Dup(web.RequestHandler):
        def get(self) -> None:
            self.write({"dup": self.request.headers.get_list("X-Dup"), "host": self.request.host})

    scope = http_scope("/")
    scope["headers"] = [(b"host", b"h"), (b"x-dup", b"1"), (b"x-dup", b"2"), (b"X-Dup", b"3")]
    comm = ApplicationCommunicator(to_asgi(web.Application([(r"/", Dup)])), scope)
    await comm.send_input({"type": "http.request", "body": b""})
    assert (await comm.receive_output(TIMEOUT))["status"] == 200
    body = await comm.receive_output(TIMEOUT)
    assert body["body"] == b'{"dup": ["1", "2", "3"], "host": "h"}'


async def test_header_injection_is_refused() -> None:
    class Injecting(HTTPServerConnectionDelegate):
        def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
            class Message(HTTPMessageDelegate):
                def finish(self) -> None:
                    from squall.httputil import HTTPHeaders

                    headers = HTTPHeaders()
                    headers._lists["X-Evil"] = ["a\r\nSet-Cookie: injected=1"]
                    request_conn.write_headers(
                        ResponseStartLine("HTTP/1.1", 200, "OK"), headers, b"body"
                    )

            return Message()

    comm = ApplicationCommunicator(to_asgi(Injecting()), http_scope("/"))
    await comm.send_input({"type": "http.request", "body": b""})
    with ExpectLog("squall.application", "Uncaught exception handling request"):
        start = await comm.receive_output(TIMEOUT)
    assert start["status"] == 500
    assert all(b"injected" not in value for _, value in start["headers"])


async def test_mounted_container_lifespan_through_the_application_hooks() -> None:
    """The docs' recipe: the Application's hooks run the mounted app's
    lifespan, here on the ASGI server's lifespan events."""
    import starlette_app

    from squall.asgi import ASGIContainer

    starlette_app.EVENTS.clear()
    api = ASGIContainer(starlette_app.app, root_path="/api")
    application = web.Application([(r"/api/.*", api)])
    application.on_startup.append(api.startup)
    application.on_shutdown.append(api.shutdown)
    app = to_asgi(application)
    lifespan = ApplicationCommunicator(app, {"type": "lifespan", "state": {}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(TIMEOUT) == {"type": "lifespan.startup.complete"}
    assert starlette_app.EVENTS == ["startup"]

    comm = ApplicationCommunicator(app, http_scope("/api/"))
    await comm.send_input({"type": "http.request", "body": b""})
    assert (await comm.receive_output(TIMEOUT))["status"] == 200
    body = b""
    while True:
        message = await comm.receive_output(TIMEOUT)
        body += message["body"]
        if not message.get("more_body"):
            break
    assert b'"state":"hello from lifespan"' in body
    assert b'"root_path":"/api"' in body

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(TIMEOUT) == {"type": "lifespan.shutdown.complete"}
    assert starlette_app.EVENTS == ["startup", "shutdown"]
