"""The chat in headless Chromium, driven over the WebDriver protocol.

Two browsers sign in; A posts, B sees the message within 2 s: by long
polling, and by WebSocket when the server offers ``/chatsocket``. A
screenshot of B is checked to be an image with content, not a blank page
(``CHAT_SCREENSHOT=docs/chat-screenshot.png`` also saves it there, for the
README).

Needs Debian's ``chromium`` and ``chromium-driver``; skipped without them.
ChromeDriver is spoken to directly (W3C WebDriver over HTTP, JSON bodies):
no Selenium. The browsers run with no network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver packages",
    ),
]

# The bound for a message to reach another page.
DELIVERY_DEADLINE = 2.0
# Generous bounds for starting processes on a busy 2-core CI machine.
STARTUP_DEADLINE = 30.0
# W3C WebDriver, "Elements": the web element identifier key.
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
# No network: no QUIC, no background fetches, no component or sync updates.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=900,640",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, f"{proc.args} exited early"
            assert time.monotonic() < deadline, f"{proc.args} did not start listening"
            time.sleep(0.05)


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class WebDriverError(Exception):
    pass


class ChromeDriver:
    """Just the WebDriver commands these tests need."""

    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            body = None if payload is None else json.dumps(payload)
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read() or b"{}")
        finally:
            conn.close()
        value = answer.get("value")
        if response.status != 200:
            raise WebDriverError(f"{method} {path}: {response.status} {value}")
        return value

    def new_session(self, profile: Path) -> Session:
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            },
        }
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        return Session(self, value["sessionId"])


class Session:
    def __init__(self, driver: ChromeDriver, session_id: str) -> None:
        self.driver = driver
        self.prefix = f"/session/{session_id}"

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        return self.driver.call(method, self.prefix + path, payload)

    def go(self, url: str) -> None:
        self.call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        found = self.call("POST", "/element", {"using": "css selector", "value": css})
        return str(found[ELEMENT_KEY])

    def type(self, css: str, text: str) -> None:
        self.call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self.call("POST", f"/element/{self.find(css)}/click", {})

    def run(self, script: str, *args: Any) -> Any:
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, deadline: float, *args: Any) -> Any:
        """Poll ``script`` until it returns something truthy or time is up."""
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true in time: {script}")
            time.sleep(0.02)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("GET", "/screenshot"))

    def close(self) -> None:
        self.call("DELETE", "")


@pytest.fixture
def chat_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "demos.chat", f"--port={port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        errors = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        assert "Traceback" not in errors, errors


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Any]:
    """``open_browser()`` gives a new Chromium with a fresh profile."""
    port = free_port()
    driver_proc = subprocess.Popen(
        [str(CHROMEDRIVER), f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sessions: list[Session] = []
    try:
        wait_for_port(port, driver_proc)
        driver = ChromeDriver(port)

        def open_browser() -> Session:
            profile = tmp_path / f"profile-{len(sessions)}"
            profile.mkdir()
            session = driver.new_session(profile)
            sessions.append(session)
            return session

        yield open_browser
    finally:
        for session in sessions:
            try:
                session.close()
            except (OSError, WebDriverError):
                pass
        stop(driver_proc)


def sign_in(browser: Session, base: str, nickname: str, page: str = "/") -> None:
    browser.go(base + page)
    # Redirected to the login form, then back to the room.
    browser.type("#nickname", nickname)
    browser.click("#signin")
    deadline = time.monotonic() + STARTUP_DEADLINE
    browser.wait_for("return window.chat && window.chat.transport", deadline)


def post(browser: Session, text: str) -> None:
    browser.type("#message", text)
    browser.click("#send")


def sees(browser: Session, text: str, deadline: float) -> None:
    browser.wait_for(
        "return [...document.querySelectorAll('#inbox .body')]"
        ".some(e => e.textContent === arguments[0])",
        deadline,
        text,
    )


def test_a_message_reaches_another_page_by_long_polling(
    chat_url: str, browsers: Any, tmp_path: Path
) -> None:
    a, b = browsers(), browsers()
    sign_in(a, chat_url, "ann")
    sign_in(b, chat_url, "bob", page="/?transport=longpoll")
    assert b.run("return window.chat.transport") == "longpoll"
    assert b.run("return document.getElementById('nickname').textContent") == "bob"

    post(a, "hello from page A")
    sees(b, "hello from page A", time.monotonic() + DELIVERY_DEADLINE)
    # HTML typed by a user stays text.
    post(a, "<b>not bold</b> & <script>window.owned = 1</script>")
    sees(b, "<b>not bold</b> & <script>window.owned = 1</script>", time.monotonic() + 5)
    assert (
        b.run("return document.querySelectorAll('#inbox b:not(.from), #inbox script').length") == 0
    )
    assert b.run("return window.owned === undefined")
    post(b, "hi ann, bob here")
    sees(a, "hi ann, bob here", time.monotonic() + DELIVERY_DEADLINE)
    # Each page shows each message once, in the same order.
    order = "return [...document.querySelectorAll('#inbox .body')].map(e => e.textContent)"
    assert a.run(order) == b.run(order)
    assert len(b.run(order)) == 3

    png = b.screenshot()
    width, height, distinct = png_summary(png)
    assert (width, height) > (100, 100)
    # A blank page has one colour; the room has text, borders, a header.
    assert distinct > 20, f"screenshot looks blank: {distinct} colours"
    (tmp_path / "chat.png").write_bytes(png)
    saved = os.environ.get("CHAT_SCREENSHOT")
    if saved:
        Path(saved).write_bytes(png)


def test_a_message_reaches_another_page_by_websocket_when_offered(
    chat_url: str, browsers: Any
) -> None:
    a, b = browsers(), browsers()
    sign_in(a, chat_url, "ann", page="/?transport=longpoll")
    sign_in(b, chat_url, "bob")
    offered = b.run("return document.getElementById('inbox').dataset.socketUrl")
    transport = b.run("return window.chat.transport")
    if not offered:
        # No squall.websocket in this checkout: the page fell back by itself.
        assert transport == "longpoll"
        pytest.skip("the server offers no /chatsocket (squall.websocket missing)")
    assert transport == "websocket"
    post(a, "over the socket")
    sees(b, "over the socket", time.monotonic() + DELIVERY_DEADLINE)


def png_summary(png: bytes) -> tuple[int, int, int]:
    """(width, height, number of distinct pixel values) of an 8-bit RGB(A) PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, [], b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat.append(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1)
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        unfilter(kind, line, previous, channels)
        # Every pixel of the row, compared as whole RGB(A) values.
        colours.update(bytes(line[i : i + channels]) for i in range(0, stride, channels))
        previous = line
    return width, height, len(colours)


def unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    """Undo one PNG scanline filter in place (PNG spec §9.2)."""
    if kind == 0:
        return
    if kind == 2:
        for i in range(len(line)):
            line[i] = (line[i] + previous[i]) & 0xFF
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            up = previous[i]
            upper_left = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - upper_left
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            if pa <= pb and pa <= pc:
                predictor = left
            elif pb <= pc:
                predictor = up
            else:
                predictor = upper_left
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
