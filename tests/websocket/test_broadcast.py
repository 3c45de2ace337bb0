"""The seeds' long-polling alternative: one broadcast to 1,000 WebSocket clients."""

from __future__ import annotations

import asyncio
import resource

import pytest

from squall.web import Application
from squall.websocket import WebSocketHandler, websocket_connect

CLIENTS = 1000


class Room(WebSocketHandler):
    def initialize(self, members: set[WebSocketHandler], joined: asyncio.Event) -> None:
        self.members = members
        self.joined = joined

    def open(self):
        self.members.add(self)
        if len(self.members) == CLIENTS:
            self.joined.set()

    def on_message(self, message):
        for member in list(self.members):
            member.write_message(message)

    def on_close(self):
        self.members.discard(self)


@pytest.fixture
def members():
    return set()


@pytest.fixture
def joined():
    return asyncio.Event()


@pytest.fixture
def app(members, joined):
    return Application([("/room", Room, {"members": members, "joined": joined})])


@pytest.mark.gen_test(timeout=120)
async def test_broadcast_to_a_thousand_clients(http_server, http_server_port, members, joined):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * CLIENTS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    url = f"ws://127.0.0.1:{http_server_port[1]}/room"
    clients = []
    for start in range(0, CLIENTS, 100):
        clients += await asyncio.gather(
            *(websocket_connect(url) for _ in range(start, start + 100))
        )
    await joined.wait()
    assert len(members) == CLIENTS
    await clients[0].write_message("news for everyone")
    received = await asyncio.gather(*(c.read_message() for c in clients))
    assert received == ["news for everyone"] * CLIENTS
    for client in clients:
        client.close()
    assert await asyncio.gather(*(c.read_message() for c in clients)) == [None] * CLIENTS
    while members:
        await asyncio.sleep(0.01)
