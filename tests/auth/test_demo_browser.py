"""The sign-in demo clicked through in headless Chromium (W3C WebDriver,
spoken directly to chromedriver): the demo's provider answers as
``localhost`` and the site as ``127.0.0.1``, two different sites to the
browser, so the state cookie must survive a cross-site return (it is
``SameSite=Lax``) and the user cookie must be out of scripts' reach.

Needs Debian's ``chromium`` and ``chromium-driver``; skipped without them.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None, reason="needs chromium and chromium-driver"
    ),
]

# Starting Chromium and a Python process on a busy 2-core machine.
STARTUP_SECONDS = 30.0
# W3C WebDriver section 12: the key naming a web element in JSON.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def started(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, f"{proc.args} exited"
            assert time.monotonic() < deadline, f"{proc.args} is not listening"
            time.sleep(0.05)


def ended(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Browser:
    def __init__(self, driver_port: int, profile: Path) -> None:
        self.driver_port = driver_port
        options = {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
            ],
        }
        caps = {"browserName": "chrome", "goog:chromeOptions": options}
        session = self.command("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        self.prefix = f"/session/{session['sessionId']}"

    def command(self, method: str, path: str, payload: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.driver_port, timeout=60)
        try:
            body = None if payload is None else json.dumps(payload)
            conn.request(method, path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            value = json.loads(response.read() or b"{}").get("value")
        finally:
            conn.close()
        assert response.status == 200, f"{method} {path}: {value}"
        return value

    def __call__(self, method: str, path: str, payload: Any = None) -> Any:
        return self.command(method, self.prefix + path, payload)

    def element(self, css: str) -> str:
        return self("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self("POST", "/element/" + self.element(css) + "/click", {})

    def script(self, source: str) -> Any:
        return self("POST", "/execute/sync", {"script": source, "args": []})

    def until(self, source: str) -> Any:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (value := self.script(source)):
            assert time.monotonic() < deadline, source
            time.sleep(0.05)
        return value


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "demos.auth", f"--port={port}", "--provider-host=localhost"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        ended(proc)
        errors = proc.stderr.read()
        proc.stderr.close()
        assert "Traceback" not in errors, errors


@pytest.fixture
def browser(tmp_path):
    port = free_port()
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        started(port, driver)
        b = Browser(port, tmp_path / "profile")
        try:
            yield b
        finally:
            b("DELETE", "")
    finally:
        ended(driver)


def test_sign_in_across_sites(demo, browser):
    browser("POST", "/url", {"url": demo + "/"})
    assert "You are not signed in" in browser.script("return document.body.innerText")
    browser.click('a[href="/login"]')
    browser.until("return location.host.startsWith('localhost:') && !!document.forms.length")
    name = browser.element('input[name="name"]')
    browser("POST", f"/element/{name}/clear", {})
    browser("POST", f"/element/{name}/value", {"text": "Dormouse"})
    browser.click('button[value="yes"]')
    text = browser.until("return location.host.startsWith('127.0.0.1:') && document.body.innerText")
    assert "Signed in as Dormouse" in text, text
    # The sign-in cookie is HttpOnly; the state cookie is gone.
    assert "user=" not in browser.script("return document.cookie")
    cookies = {c["name"]: c for c in browser("GET", "/cookie")}
    assert cookies["user"]["httpOnly"] is True
    assert "_oauth2_state" not in cookies or cookies["_oauth2_state"]["value"] == ""
