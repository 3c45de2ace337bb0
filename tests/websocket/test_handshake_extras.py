"""The WebSocket handshake details Tornado programs rely on: what a handler
set before the upgrade goes out with the 101, select_subprotocol is always
asked, HTTP response methods are refused once upgraded, and a client that
gets a page instead of a 101 raises WebSocketError."""

from __future__ import annotations

from typing import Any

import pytest

from squall import web
from squall.httpclient import HTTPClientError
from squall.websocket import WebSocketError, WebSocketHandler, websocket_connect


class Seen:
    def __init__(self) -> None:
        self.offers: list[list[str]] = []
        self.after_upgrade: dict[str, str] = {}


class Decorated(WebSocketHandler):
    def initialize(self, seen: Seen) -> None:
        self.seen = seen

    def set_default_headers(self) -> None:
        self.set_header("X-Default", "d")

    def prepare(self) -> None:
        self.set_header("X-Prepared", "p")
        self.set_cookie("flavour", "oat")

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        self.seen.offers.append(list(subprotocols))
        return "v2" if "v2" in subprotocols else None

    def open(self, *args: str, **kwargs: str) -> None:
        attempts: dict[str, Any] = {
            "set_status": lambda: self.set_status(201),
            "set_header": lambda: self.set_header("X-Late", "1"),
            "set_cookie": lambda: self.set_cookie("late", "1"),
            "clear_cookie": lambda: self.clear_cookie("flavour"),
            "write": lambda: self.write("body"),
            "flush": lambda: self.flush(),
            "finish": lambda: self.finish(),
            "redirect": lambda: self.redirect("/elsewhere"),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
            except RuntimeError as e:
                self.seen.after_upgrade[name] = str(e)
            else:
                self.seen.after_upgrade[name] = "allowed"

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


class Page(web.RequestHandler):
    def get(self) -> None:
        self.write("just a page")


class NoContent(web.RequestHandler):
    def get(self) -> None:
        self.set_status(204)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def port(serve: Any, seen: Seen) -> int:
    app = web.Application(
        [("/ws", Decorated, {"seen": seen}), ("/page", Page), ("/empty", NoContent)]
    )
    return int(serve(app))


@pytest.fixture
def serve(io_loop: Any) -> Any:
    from squall.httpserver import HTTPServer
    from squall.testing import bind_unused_port

    servers: list[HTTPServer] = []

    def start(app: web.Application) -> int:
        sock, number = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        servers.append(server)
        return number

    yield start
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=5)


async def test_headers_and_cookies_from_before_the_upgrade_are_in_the_101(
    port: int, seen: Seen
) -> None:
    conn = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
    try:
        assert conn.headers["X-Default"] == "d"
        assert conn.headers["X-Prepared"] == "p"
        assert conn.headers.get_list("Set-Cookie") == ["flavour=oat; Path=/"]
        await conn.write_message("still framed")
        assert await conn.read_message() == "still framed"
    finally:
        conn.close()


async def test_http_response_methods_are_refused_after_the_upgrade(port: int, seen: Seen) -> None:
    conn = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
    await conn.write_message("sync")
    assert await conn.read_message() == "sync"  # open() has run
    conn.close()
    assert set(seen.after_upgrade) == {
        "set_status",
        "set_header",
        "set_cookie",
        "clear_cookie",
        "write",
        "flush",
        "finish",
        "redirect",
    }
    assert set(seen.after_upgrade.values()) == {"Method not supported for Web Sockets"}


async def test_select_subprotocol_is_asked_even_without_an_offer(port: int, seen: Seen) -> None:
    plain = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
    offered = await websocket_connect(f"ws://127.0.0.1:{port}/ws", subprotocols=["v1", "v2"])
    try:
        assert seen.offers == [[], ["v1", "v2"]]
        assert plain.selected_subprotocol is None
        assert "Sec-WebSocket-Protocol" not in plain.headers
        assert offered.selected_subprotocol == "v2"
    finally:
        plain.close()
        offered.close()


@pytest.mark.parametrize("path", ["/page", "/empty"])
async def test_a_success_page_instead_of_101_is_a_websocket_error(port: int, path: str) -> None:
    with pytest.raises(WebSocketError, match="Non-websocket response"):
        await websocket_connect(f"ws://127.0.0.1:{port}{path}")


async def test_an_error_status_stays_an_http_client_error(port: int) -> None:
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(f"ws://127.0.0.1:{port}/nowhere")
    assert info.value.code == 404
    assert not isinstance(info.value, WebSocketError)
