"""websocket_connect honours an HTTPRequest's request_timeout as seconds."""

from __future__ import annotations

import pytest

from squall.httpclient import HTTPRequest
from squall.web import Application
from squall.websocket import WebSocketHandler, websocket_connect


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


@pytest.fixture
def app():
    return Application([("/ws", Echo)])


async def test_request_timeout_in_seconds_allows_a_normal_handshake(http_server, base_url):
    url = base_url.replace("http://", "ws://") + "/ws"
    conn = await websocket_connect(HTTPRequest(url, request_timeout=10))
    await conn.write_message("hi")
    assert await conn.read_message() == "hi"
    conn.close()
