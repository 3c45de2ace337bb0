"""The chat room across processes: every process's MessageBuffer attached
to a squall.pubsub hub on one real redis-server (the session fixture in
tests/_servers/redis.py), so that a message posted to one process reaches
the long polls and WebSockets of the others."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squall import pubsub
from squall.httpclient import HTTPRequest
from squall.testing import ExpectLog
from squall.web import create_signed_value

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves it out
    sys.path.insert(0, str(ROOT))

from demos.chat import buffer as chat_buffer  # noqa: E402
from demos.chat.buffer import MessageBuffer  # noqa: E402
from tests._servers import free_port  # noqa: E402
from tests._servers.redis import RedisServer  # noqa: E402
from tests._servers.redis import redis_server as redis_server  # noqa: E402

SECRET = "one-secret-for-every-process"
# The bound: a message posted to one process reaches the clients of
# another within this long.
DELIVERY_BOUND = 2.0
FAST = {"min_reconnect_delay": 0.05, "max_reconnect_delay": 0.5}


async def until(condition: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


# -- the buffer on a hub, in one process ---------------------------------------


async def test_a_buffer_on_a_memory_hub_is_the_room(io_loop: Any) -> None:
    async with pubsub.connect("memory://", history=3) as hub:
        buffer = MessageBuffer(cache_size=3)
        await buffer.attach(hub)
        with pytest.raises(RuntimeError, match="already attached"):
            await buffer.attach(hub)
        pushed: list[list[dict[str, Any]]] = []
        buffer.listen(pushed.append)
        waiting = buffer.wait_for_messages(None)
        await buffer.post({"id": "a", "body": "first"})
        assert await waiting == [{"id": "a", "body": "first"}]
        assert pushed == [[{"id": "a", "body": "first"}]]
        # Something else on the channel that is not a chat message.
        with ExpectLog(logging.getLogger("squall.application"), "chat: ignored a message"):
            await hub.publish(chat_buffer.CHANNEL, "not a message")
        assert [m["id"] for m in buffer.cache] == ["a"]
        # A second buffer attached later starts from the history.
        late = MessageBuffer()
        await late.attach(hub)
        assert [m["id"] for m in late.cache] == ["a"]
        buffer.detach()
        late.detach()
        await buffer.post({"id": "b"})  # detached: local only
        assert [m["id"] for m in buffer.cache] == ["a", "b"]
        assert [m["id"] for m in late.cache] == ["a"]


async def test_a_gap_reloads_the_history_and_wakes_the_waiting_clients(
    redis_server: RedisServer, io_loop: Any
) -> None:
    url = redis_server.url(14)
    redis_server.command("FLUSHDB", db=14)
    hubs = [pubsub.connect(url, history=10, **FAST) for _ in range(2)]
    try:
        here, there = MessageBuffer(hub=None), MessageBuffer(hub=None)
        await here.attach(hubs[0])
        await there.attach(hubs[1])
        await here.post({"id": "m1", "body": "hello"})
        await until(lambda: [m["id"] for m in there.cache] == ["m1"])
        waiting = there.wait_for_messages("m1")
        # A message the listener never saw (stored while it was away), then
        # the listener's connection is cut: the hub reconnects, reports a
        # Gap, and the buffer reloads from the history.
        payload = json.dumps({"id": "m2", "body": "while you were away"})
        stream = "squall:history:" + chat_buffer.CHANNEL
        assert redis_server.command(
            "XADD", stream, "*", "o", "elsewhere", "k", "j", "p", payload, db=14
        ).startswith(b"$")
        with ExpectLog(logging.getLogger("squall.application"), "chat: the room's hub reports"):
            with ExpectLog(logging.getLogger("squall.general"), "pubsub: .*", required=False):
                redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
                missed = await asyncio.wait_for(waiting, 20)
        assert missed == [{"id": "m2", "body": "while you were away"}]
        assert [m["id"] for m in there.cache] == ["m1", "m2"]
        await until(lambda: [m["id"] for m in here.cache] == ["m1", "m2"])
        # And the room goes on live.
        await there.post({"id": "m3"})
        await until(lambda: [m["id"] for m in here.cache] == ["m1", "m2", "m3"])
    finally:
        for hub in hubs:
            await hub.close()


@pytest.fixture
def buffer() -> MessageBuffer:
    return MessageBuffer()


@pytest.fixture
def app(buffer: MessageBuffer) -> Any:
    from demos.chat.app import make_app

    return make_app(cookie_secret=SECRET, buffer=buffer)


async def test_posting_while_the_rooms_redis_is_down_answers_503(
    fetch: Any, buffer: MessageBuffer
) -> None:
    hub = pubsub.connect(f"redis://127.0.0.1:{free_port()}/0", history=10, **FAST)
    try:
        with ExpectLog(logging.getLogger("squall"), ".*", required=False):
            await buffer.attach(hub)  # returns: the backend is known to be down
            login = await fetch("/auth/login")
            xsrf = next(
                h.split(";", 1)[0].split("=", 1)[1]
                for h in login.headers.get_list("Set-Cookie")
                if h.startswith("_xsrf=")
            )
            user = create_signed_value(SECRET, "chat_user", "ann").decode()
            response = await fetch(
                "/a/message/new",
                method="POST",
                body="body=hello",
                headers={
                    "Cookie": f"_xsrf={xsrf}; chat_user={user}",
                    "X-XSRFToken": xsrf,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
        assert response.code == 503
        assert json.loads(response.body) == {
            "error": "Chat room unavailable, try again",
            "status": 503,
        }
        assert not buffer.cache
    finally:
        buffer.detach()
        await hub.close()


# -- two server processes on one Redis -------------------------------------------


def start_chat(port: int, url: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demos.chat",
            f"--port={port}",
            f"--pubsub={url}",
            f"--cookie-secret={SECRET}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "chat did not start listening"
            time.sleep(0.05)


def stop_chat(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


@pytest.fixture
def two_chat_servers(redis_server: RedisServer) -> Iterator[tuple[int, int]]:
    url = redis_server.url(15)
    redis_server.command("FLUSHDB", db=15)
    ports = free_port(), free_port()
    procs = [start_chat(port, url) for port in ports]
    try:
        yield ports
    finally:
        errors = [stop_chat(proc) for proc in procs]
    for err in errors:
        assert "Traceback" not in err, err


class Client:
    """A signed-in browser talking to one chat server."""

    def __init__(self, client: Any, port: int, cookies: dict[str, str]) -> None:
        self.client = client
        self.base = f"http://127.0.0.1:{port}"
        self.cookies = cookies

    def _headers(self) -> dict[str, str]:
        return {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "X-XSRFToken": self.cookies["_xsrf"],
            "Content-Type": "application/x-www-form-urlencoded",
        }

    async def post(self, path: str, **fields: str) -> Any:
        response = await self.client.fetch(
            self.base + path,
            method="POST",
            body=urllib.parse.urlencode(fields),
            headers=self._headers(),
            request_timeout=30,
        )
        return json.loads(response.body)

    async def socket(self, cursor: str) -> Any:
        from squall.websocket import websocket_connect

        url = (
            self.base.replace("http://", "ws://")
            + "/chatsocket?"
            + urllib.parse.urlencode({"cursor": cursor})
        )
        cookie = f"chat_user={self.cookies['chat_user']}"
        return await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}))


async def signed_in(client: Any, port: int) -> Client:
    response = await client.fetch(f"http://127.0.0.1:{port}/auth/login")
    xsrf = next(
        header.split(";", 1)[0].split("=", 1)[1]
        for header in response.headers.get_list("Set-Cookie")
        if header.startswith("_xsrf=")
    )
    user = create_signed_value(SECRET, "chat_user", "ann").decode()
    return Client(client, port, {"_xsrf": xsrf, "chat_user": user})


@pytest.mark.gen_test(timeout=90)
async def test_a_message_posted_to_one_process_reaches_the_clients_of_another(
    two_chat_servers: tuple[int, int], http_client: Any
) -> None:
    pytest.importorskip("squall.websocket")
    first, second = [await signed_in(http_client, port) for port in two_chat_servers]
    # Until the second process has attached to the hub, its room may not
    # hear the first: post until the second one knows a message.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        warmup = await first.post("/a/message/new", body="is anyone there?")
        known = await second.post("/a/message/updates", cursor="")
        if warmup["id"] in [m["id"] for m in known["messages"]]:
            break
        assert asyncio.get_running_loop().time() < deadline, "the processes never shared a room"
        await asyncio.sleep(0.1)
    # A long poll and a WebSocket on the second process, both up to date.
    poll = asyncio.ensure_future(second.post("/a/message/updates", cursor=warmup["id"]))
    connection = await second.socket(cursor=warmup["id"])
    try:
        await asyncio.sleep(0.2)  # let the poll reach its handler
        assert not poll.done()
        sent = await first.post("/a/message/new", body="across <processes>")
        answers = await asyncio.wait_for(
            asyncio.gather(poll, connection.read_message()), DELIVERY_BOUND
        )
    finally:
        connection.close()
    assert answers[0] == {"messages": [sent]}
    assert json.loads(answers[1]) == {"messages": [sent]}
    assert "&lt;processes&gt;" in sent["html"]
    # And the other way round, into the first process's long poll.
    poll = asyncio.ensure_future(first.post("/a/message/updates", cursor=sent["id"]))
    await asyncio.sleep(0.2)
    reply = await second.post("/a/message/new", body="and back")
    assert await asyncio.wait_for(poll, DELIVERY_BOUND) == {"messages": [reply]}


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        # argparse's usage error
        (["demos", "--port", "0", "--pubsub", "amqp://127.0.0.1/"], 2),
        # sys.exit(message)
        (["demos.chat", "--port=0", "--pubsub=amqp://127.0.0.1/"], 1),
    ],
)
def test_a_pubsub_url_no_backend_serves_is_a_usage_error(argv: list[str], exit_code: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == exit_code
    assert "--pubsub: no pub/sub backend for 'amqp://127.0.0.1/'" in out.stderr
    assert "Traceback" not in out.stderr
