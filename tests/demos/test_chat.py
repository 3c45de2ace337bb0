"""The chat demo over real sockets: login, XSRF, posting, long polling,
the message cache, and a thousand waiting clients woken by one message."""

from __future__ import annotations

import asyncio
import http.cookies
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import types
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squall import gen
from squall.httpserver import HTTPServer
from squall.testing import ExpectLog
from squall.web import RequestHandler, create_signed_value

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves it out
    sys.path.insert(0, str(ROOT))

from demos.chat import app as chat_app  # noqa: E402
from demos.chat import handlers  # noqa: E402
from demos.chat.buffer import MessageBuffer  # noqa: E402

SECRET = "test-secret-for-the-chat"


@pytest.fixture
def buffer() -> MessageBuffer:
    return MessageBuffer()


@pytest.fixture
def app(buffer: MessageBuffer) -> Any:
    return chat_app.make_app(cookie_secret=SECRET, buffer=buffer)


@pytest.fixture
def http_server(io_loop: Any, app: Any, http_server_port: tuple[Any, int]) -> Iterator[Any]:
    # As main() configures it: small bodies only.
    server = HTTPServer(app, max_body_size=chat_app.MAX_BODY_SIZE)
    server.add_sockets([http_server_port[0]])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=10)


def cookies_of(response: Any) -> dict[str, str]:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


class Browser:
    """What a browser keeps for the chat: its cookies, sent back each time."""

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch
        self.cookies: dict[str, str] = {}

    async def request(self, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if "body" in kwargs:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        kwargs.setdefault("follow_redirects", False)
        response = await self._fetch(path, headers=headers, **kwargs)
        self.cookies.update(cookies_of(response))
        return response

    @property
    def xsrf(self) -> str:
        return self.cookies["_xsrf"]

    async def login(self, nickname: str, next_url: str = "/") -> Any:
        if "_xsrf" not in self.cookies:
            await self.request("/auth/login")
        fields = {"nickname": nickname, "_xsrf": self.xsrf, "next": next_url}
        return await self.request("/auth/login", method="POST", body=urllib.parse.urlencode(fields))

    async def post(self, path: str, xsrf: bool = True, **fields: str) -> Any:
        headers = {"X-XSRFToken": self.xsrf} if xsrf else {}
        return await self.request(
            path,
            method="POST",
            body=urllib.parse.urlencode(fields),
            headers=headers,
            request_timeout=20,
        )

    def poll(self, cursor: str = "") -> Any:
        return asyncio.ensure_future(self.post("/a/message/updates", cursor=cursor))

    async def say(self, body: str) -> dict[str, Any]:
        response = await self.post("/a/message/new", body=body)
        assert response.code == 200, response.body
        return json.loads(response.body)  # type: ignore[no-any-return]


async def signed_in(fetch: Any, nickname: str = "ann") -> Browser:
    browser = Browser(fetch)
    response = await browser.login(nickname)
    assert response.code == 302, response.body
    return browser


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await gen.sleep(0.005)


# -- login, pages, static files --------------------------------------------


async def test_room_requires_login_and_shows_the_nickname_escaped(fetch: Any) -> None:
    anonymous = Browser(fetch)
    response = await anonymous.request("/")
    assert response.code == 302
    assert response.headers["Location"] == "/auth/login?next=%2F"

    browser = Browser(fetch)
    response = await browser.login("<b>ann</b>")
    assert response.code == 302
    assert response.headers["Location"] == "/"
    # Signed, readable by us only with the secret; not by the page's script.
    assert browser.cookies["chat_user"] != "<b>ann</b>"
    set_cookie = next(h for h in response.headers.get_list("Set-Cookie") if "chat_user" in h)
    assert "HttpOnly" in set_cookie
    page = await browser.request("/")
    assert page.code == 200
    text = page.body.decode()
    assert "&lt;b&gt;ann&lt;/b&gt;" in text and "<b>ann</b>" not in text
    css = re.search(r'href="(/static/chat\.css\?v=[0-9a-f]+)"', text)
    js = re.search(r'src="(/static/chat\.js\?v=[0-9a-f]+)"', text)
    assert css and js
    script = await browser.request(js.group(1))
    assert script.code == 200 and b"X-XSRFToken" in script.body
    assert (await browser.request(css.group(1))).code == 200
    # Two forms on the page (post, sign out), each with its token.
    assert text.count('name="_xsrf"') == 2


async def test_forged_or_foreign_cookies_are_not_a_login(fetch: Any) -> None:
    forged = Browser(fetch)
    forged.cookies["chat_user"] = "ann"
    assert (await forged.request("/")).code == 302
    other_secret = Browser(fetch)
    other_secret.cookies["chat_user"] = create_signed_value("another", "chat_user", "ann").decode()
    assert (await other_secret.request("/")).code == 302
    good = Browser(fetch)
    good.cookies["chat_user"] = create_signed_value(SECRET, "chat_user", "ann").decode()
    assert (await good.request("/")).code == 200


@pytest.mark.parametrize(
    ("nickname", "reason"),
    [("", "Nickname required"), ("   ", "Nickname required"), ("n" * 33, "Nickname too long")],
)
async def test_bad_nicknames_get_400_and_the_form_again(
    fetch: Any, nickname: str, reason: str
) -> None:
    browser = Browser(fetch)
    response = await browser.login(nickname)
    assert response.code == 400
    assert response.reason == reason
    assert b'id="loginform"' in response.body and b'class="error"' in response.body
    assert "chat_user" not in browser.cookies
    assert (await browser.login("n" * 32)).code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "http://evil.example/", "/\\evil.example"])
async def test_login_never_redirects_off_site(fetch: Any, target: str) -> None:
    response = await Browser(fetch).login("ann", next_url=target)
    assert response.code == 302
    assert response.headers["Location"] == "/"


async def test_logout_forgets_the_user(fetch: Any) -> None:
    browser = await signed_in(fetch)
    response = await browser.post("/auth/logout", xsrf=False, _xsrf=browser.xsrf)
    assert response.code == 302 and response.headers["Location"] == "/auth/login"
    assert browser.cookies["chat_user"] == ""
    assert (await browser.request("/")).code == 302


# -- XSRF and authentication on every POST ----------------------------------


@pytest.mark.parametrize(
    "path", ["/a/message/new", "/a/message/updates", "/auth/login", "/auth/logout"]
)
async def test_every_post_needs_the_xsrf_token(
    fetch: Any, buffer: MessageBuffer, path: str
) -> None:
    browser = await signed_in(fetch)
    with ExpectLog(logging.getLogger("squall"), ".*", required=False):
        missing = await browser.post(path, xsrf=False, body="hi", nickname="bob")
        wrong = await browser.request(
            path,
            method="POST",
            body="body=hi",
            headers={"X-XSRFToken": "2|00000000|" + "0" * 32 + "|1"},
        )
    for response in (missing, wrong):
        assert response.code == 403
        assert response.reason == "XSRF token missing or invalid"
    assert not buffer.cache and buffer.waiter_count == 0


async def test_anonymous_posts_are_refused(fetch: Any, buffer: MessageBuffer) -> None:
    anonymous = Browser(fetch)
    await anonymous.request("/auth/login")  # an XSRF cookie, but no user
    with ExpectLog(logging.getLogger("squall"), ".*", required=False):
        for path in ("/a/message/new", "/a/message/updates"):
            response = await anonymous.post(path, body="hi")
            assert response.code == 403
            assert json.loads(response.body) == {"error": "Forbidden", "status": 403}
    assert not buffer.cache


# -- posting ---------------------------------------------------------------


async def test_a_message_comes_back_as_json_with_escaped_html(
    fetch: Any, buffer: MessageBuffer
) -> None:
    browser = await signed_in(fetch, "<i>ann</i>")
    message = await browser.say('<script>alert("x")</script> & hi')
    assert message["from"] == "<i>ann</i>"
    assert message["body"] == '<script>alert("x")</script> & hi'
    assert re.fullmatch(r"[0-9a-f]{32}", message["id"])
    html = message["html"]
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; hi" in html
    assert "&lt;i&gt;ann&lt;/i&gt;" in html
    assert f'id="m{message["id"]}"' in html
    assert list(buffer.cache) == [message]
    # The room renders the cache with the same UI module.
    page = (await browser.request("/")).body.decode()
    assert html.strip() in page


async def test_a_form_post_without_script_redirects_back(fetch: Any, buffer: MessageBuffer) -> None:
    browser = await signed_in(fetch)
    response = await browser.post("/a/message/new", body="plain form", next="/")
    assert response.code == 302 and response.headers["Location"] == "/"
    response = await browser.post("/a/message/new", body="again", next="//evil.example")
    assert response.headers["Location"] == "/"
    assert [m["body"] for m in buffer.cache] == ["plain form", "again"]


async def test_message_length_limits(fetch: Any, buffer: MessageBuffer) -> None:
    browser = await signed_in(fetch)
    limit = handlers.MAX_MESSAGE_LENGTH
    with ExpectLog(logging.getLogger("squall"), ".*", required=False):
        too_long = await browser.post("/a/message/new", body="é" * (limit + 1))
        empty = await browser.post("/a/message/new", body="   ")
        missing = await browser.post("/a/message/new")
    assert too_long.code == 413
    assert json.loads(too_long.body) == {
        "error": f"Message longer than {limit} characters",
        "status": 413,
    }
    assert empty.code == 400 and json.loads(empty.body)["error"] == "Empty message"
    assert missing.code == 400
    assert not buffer.cache
    # Exactly the limit (in characters, not bytes) is fine.
    assert len((await browser.say("é" * limit))["body"]) == limit


async def test_a_huge_body_is_refused_by_the_server(
    fetch: Any, buffer: MessageBuffer, http_server_port: tuple[Any, int]
) -> None:
    browser = await signed_in(fetch)
    body = b"body=" + b"a" * chat_app.MAX_BODY_SIZE
    head = (
        "POST /a/message/new HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(body)}\r\nX-XSRFToken: {browser.xsrf}\r\n"
        f"Cookie: _xsrf={browser.xsrf}; chat_user={browser.cookies['chat_user']}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[1])
    try:
        with ExpectLog(logging.getLogger("squall"), ".*", required=False):
            # The server answers once the body passes its limit (it may close
            # before reading the rest: a broken pipe here is fine).
            writer.write(head.encode() + body)
            status = await reader.readline()
    finally:
        writer.close()
    assert status.startswith(b"HTTP/1.1 413 ")
    assert not buffer.cache


# -- long polling and the cache --------------------------------------------


async def test_a_long_poll_waits_for_the_next_message(fetch: Any, buffer: MessageBuffer) -> None:
    reader = await signed_in(fetch, "bob")
    writer = await signed_in(fetch, "ann")
    poll = reader.poll()
    await until(lambda: buffer.waiter_count == 1)
    assert not poll.done()
    message = await writer.say("hello bob")
    response = await poll
    assert response.code == 200
    assert json.loads(response.body) == {"messages": [message]}
    assert buffer.waiter_count == 0
    # Polling again from that message waits again.
    poll = reader.poll(cursor=message["id"])
    await until(lambda: buffer.waiter_count == 1)
    second = await writer.say("still there?")
    assert json.loads((await poll).body)["messages"] == [second]


async def test_cursors_known_stale_and_unknown(fetch: Any, buffer: MessageBuffer) -> None:
    browser = await signed_in(fetch)
    sent = [await browser.say(f"message {i}") for i in range(4)]

    async def messages_after(cursor: str) -> list[dict[str, Any]]:
        response = await browser.post("/a/message/updates", cursor=cursor)
        assert response.code == 200
        return json.loads(response.body)["messages"]  # type: ignore[no-any-return]

    assert await messages_after(sent[1]["id"]) == sent[2:]
    # A client that never saw anything, or whose cursor the server no
    # longer knows (evicted, or from before a restart) gets the whole cache.
    assert await messages_after("") == sent
    assert await messages_after("0" * 32) == sent
    assert await messages_after("x" * 5000) == sent
    assert buffer.waiter_count == 0


def test_the_cache_keeps_the_last_messages() -> None:
    buffer = MessageBuffer(cache_size=3)
    for i in range(5):
        buffer.add({"id": str(i)})
    assert [m["id"] for m in buffer.cache] == ["2", "3", "4"]
    assert [m["id"] for m in buffer.messages_since("3")] == ["4"]
    assert buffer.messages_since("4") == []
    # "0" was evicted: the client may have missed 1..4 and gets what is left.
    assert [m["id"] for m in buffer.messages_since("0")] == ["2", "3", "4"]
    with pytest.raises(ValueError, match="cache_size must be at least 1, not 0"):
        MessageBuffer(cache_size=0)


async def test_a_reconnecting_client_gets_what_it_missed(fetch: Any, buffer: MessageBuffer) -> None:
    browser = await signed_in(fetch)
    first = await browser.say("before the outage")
    missed = [await browser.say("during 1"), await browser.say("during 2")]
    response = await browser.post("/a/message/updates", cursor=first["id"])
    assert json.loads(response.body)["messages"] == missed


async def test_a_client_going_away_stops_waiting(
    fetch: Any, buffer: MessageBuffer, http_server_port: tuple[Any, int]
) -> None:
    browser = await signed_in(fetch)
    _, writer = await asyncio.open_connection("127.0.0.1", http_server_port[1])
    writer.write(updates_request(browser))
    await until(lambda: buffer.waiter_count == 1)
    writer.close()
    await writer.wait_closed()
    await until(lambda: buffer.waiter_count == 0)
    # The room goes on for the others.
    assert (await browser.say("anyone?"))["body"] == "anyone?"


async def test_an_idle_long_poll_ends_empty(
    fetch: Any, buffer: MessageBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handlers, "LONG_POLL_TIMEOUT", 0.05)
    browser = await signed_in(fetch)
    response = await browser.post("/a/message/updates", cursor="")
    assert response.code == 200
    assert json.loads(response.body) == {"messages": []}
    assert buffer.waiter_count == 0


def updates_request(browser: Browser, cursor: str = "") -> bytes:
    body = urllib.parse.urlencode({"cursor": cursor}).encode()
    return (
        "POST /a/message/updates HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\nX-XSRFToken: {browser.xsrf}\r\n"
        f"Cookie: _xsrf={browser.xsrf}; chat_user={browser.cookies['chat_user']}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode() + body


WAITING_CLIENTS = 1000


@pytest.mark.slow
@pytest.mark.gen_test(timeout=60)
async def test_one_message_wakes_a_thousand_waiting_clients(
    fetch: Any, buffer: MessageBuffer, http_server_port: tuple[Any, int]
) -> None:
    browser = await signed_in(fetch)
    request = updates_request(browser)
    connections = []
    try:
        for _ in range(WAITING_CLIENTS):
            reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[1])
            writer.write(request)
            connections.append((reader, writer))
        await until(lambda: buffer.waiter_count == WAITING_CLIENTS, timeout=30)
        message = await browser.say("wake up, everyone")
        answers = await asyncio.gather(*(reader.read() for reader, _ in connections))
    finally:
        for _, writer in connections:
            writer.close()
    assert len(answers) == WAITING_CLIENTS
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body) == {"messages": [message]}
    assert buffer.waiter_count == 0


# -- the buffer's push interface (for the WebSocket transport) -------------


def test_listeners_get_each_message_until_they_unsubscribe() -> None:
    buffer = MessageBuffer()
    got: list[list[dict[str, Any]]] = []
    unsubscribe = buffer.listen(got.append)
    assert buffer.listener_count == 1
    buffer.add({"id": "a"})
    unsubscribe()
    unsubscribe()  # twice is harmless
    buffer.add({"id": "b"})
    assert got == [[{"id": "a"}]]
    assert buffer.listener_count == 0


def test_a_failing_listener_does_not_starve_the_others() -> None:
    buffer = MessageBuffer()
    got: list[Any] = []

    def broken(messages: Any) -> None:
        raise RuntimeError("socket gone")

    buffer.listen(broken)
    buffer.listen(got.append)
    with ExpectLog(logging.getLogger("squall.application"), "chat listener .* failed"):
        buffer.add({"id": "a"})
    assert got == [[{"id": "a"}]]


async def test_cancel_wait_resolves_empty(io_loop: Any) -> None:
    buffer = MessageBuffer()
    future = buffer.wait_for_messages(None)
    assert buffer.waiter_count == 1
    buffer.cancel_wait(future)
    assert await future == [] and buffer.waiter_count == 0
    buffer.cancel_wait(future)  # already done: no error
    buffer.add({"id": "a"})
    assert await buffer.wait_for_messages(None) == [{"id": "a"}]


async def test_the_websocket_hook_adds_chatsocket_when_the_module_exists(
    fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = await signed_in(fetch)
    # Without the module (squall.websocket missing): no route, the page polls.
    monkeypatch.setitem(sys.modules, "demos.chat.socket", None)  # import fails
    without = chat_app.make_app(cookie_secret=SECRET)
    assert chat_app.socket_routes(MessageBuffer()) == []
    with pytest.raises(KeyError):
        without.reverse_url("socket")
    # A stand-in for demos/chat/socket.py: the route and the page follow it.
    received: list[MessageBuffer] = []

    class FakeSocketHandler(RequestHandler):
        def initialize(self, buffer: MessageBuffer) -> None:
            received.append(buffer)

        def get(self) -> None:
            self.write("socket here")

    fake = types.ModuleType("demos.chat.socket")
    fake.ChatSocketHandler = FakeSocketHandler  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "demos.chat.socket", fake)
    shared = MessageBuffer()
    app = chat_app.make_app(cookie_secret=SECRET, buffer=shared)
    assert app.reverse_url("socket") == "/chatsocket"
    server = HTTPServer(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    server.add_sockets([sock])
    try:
        other = Browser(fetch)
        other.cookies = dict(browser.cookies)
        page = (await other.request(f"http://127.0.0.1:{port}/")).body.decode()
        assert 'data-socket-url="/chatsocket"' in page
        answer = await other.request(f"http://127.0.0.1:{port}/chatsocket")
        assert answer.body == b"socket here" and received == [shared]
    finally:
        server.stop()
        await server.close_all_connections()


# -- the command line ------------------------------------------------------


def test_python_m_demos_chat_takes_its_options(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "demos.chat", f"--port={port}", "--cookie-secret=from-the-cli"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "chat did not start listening"
                time.sleep(0.05)
        import http.client

        cookie = create_signed_value("from-the-cli", "chat_user", "ann").decode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/", headers={"Cookie": f"chat_user={cookie}"})
        response = conn.getresponse()
        assert response.status == 200, "the cookie secret did not reach the app"
        assert b'id="inbox"' in response.read()
        conn.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err, err
    bad = subprocess.run(
        [sys.executable, "-m", "demos.chat", "--port=many"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode != 0 and "port" in bad.stderr


# -- the WebSocket transport -------------------------------------------------

websocket = pytest.importorskip("squall.websocket")


def socket_request(base_url: str, browser: Browser | None, cursor: str = "", **headers: str) -> Any:
    from squall.httpclient import HTTPRequest

    url = (
        base_url.replace("http://", "ws://")
        + "/chatsocket?"
        + urllib.parse.urlencode({"cursor": cursor})
    )
    if browser is not None:
        headers["Cookie"] = f"chat_user={browser.cookies['chat_user']}"
    # No request_timeout: squall.websocket (in progress) treats it as a deadline.
    return HTTPRequest(url, headers=headers)


async def test_the_socket_pushes_new_messages(
    fetch: Any, base_url: str, buffer: MessageBuffer
) -> None:
    browser = await signed_in(fetch)
    connection = await websocket.websocket_connect(socket_request(base_url, browser))
    try:
        await until(lambda: buffer.listener_count == 1)
        sent = await browser.say("pushed <now>")
        assert json.loads(await connection.read_message()) == {"messages": [sent]}
        later = await browser.say("and again")
        assert json.loads(await connection.read_message()) == {"messages": [later]}
    finally:
        connection.close()
    await until(lambda: buffer.listener_count == 0)


async def test_the_socket_first_sends_what_the_cursor_missed(
    fetch: Any, base_url: str, buffer: MessageBuffer
) -> None:
    browser = await signed_in(fetch)
    seen, *missed = [await browser.say(f"m{i}") for i in range(3)]
    connection = await websocket.websocket_connect(
        socket_request(base_url, browser, cursor=seen["id"])
    )
    try:
        assert json.loads(await connection.read_message()) == {"messages": missed}
        unknown = await websocket.websocket_connect(
            socket_request(base_url, browser, cursor="0" * 32)
        )
        assert json.loads(await unknown.read_message()) == {"messages": [seen, *missed]}
        unknown.close()
    finally:
        connection.close()
    await until(lambda: buffer.listener_count == 0)


async def test_the_socket_refuses_strangers_and_other_sites(
    fetch: Any, base_url: str, buffer: MessageBuffer
) -> None:
    from squall.httpclient import HTTPClientError

    browser = await signed_in(fetch)
    with ExpectLog(logging.getLogger("squall"), ".*", required=False):
        with pytest.raises(HTTPClientError) as anonymous:
            await websocket.websocket_connect(socket_request(base_url, None))
        with pytest.raises(HTTPClientError) as foreign:
            await websocket.websocket_connect(
                socket_request(base_url, browser, Origin="http://evil.example")
            )
    assert anonymous.value.code == 403 and foreign.value.code == 403
    assert buffer.listener_count == 0


async def test_the_socket_closes_when_the_page_talks(
    fetch: Any, base_url: str, buffer: MessageBuffer
) -> None:
    browser = await signed_in(fetch)
    connection = await websocket.websocket_connect(socket_request(base_url, browser))
    await until(lambda: buffer.listener_count == 1)
    await connection.write_message("hello?")
    assert await connection.read_message() is None
    assert connection.close_code == 1003
    await until(lambda: buffer.listener_count == 0)
