"""The blog in headless Chromium: ``python -m demos.blog`` started as a user
would (SQLite in a temporary directory), the first author's account made
through the form, an entry written in Markdown and read back as HTML.

The WebDriver client and the browser fixture are the chat test's
(tests/demos/test_chat_browser.py); skipped without Debian's chromium and
chromium-driver.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_chat_browser import (  # the chat test's WebDriver helpers
    CHROMEDRIVER,
    CHROMIUM,
    STARTUP_DEADLINE,
    browsers,
    free_port,
    png_summary,
    stop,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver packages",
    ),
]

__all__ = ["browsers"]  # a fixture, used by name below


@pytest.fixture
def blog_url(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("markdown")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "demos.blog", f"--port={port}"],
        cwd=tmp_path,  # the default sqlite:///blog.db lands here
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
    assert (tmp_path / "blog.db").exists()


def test_author_writes_an_entry_and_a_reader_sees_it(
    blog_url: str, browsers: Any, tmp_path: Path
) -> None:
    author = browsers()
    deadline = time.monotonic() + STARTUP_DEADLINE
    # An empty blog sends its first visitor to the account form.
    author.go(blog_url + "/")
    author.wait_for("return location.pathname === '/auth/create'", deadline)
    author.type("#email", "ann@example.com")
    author.type("#name", "Ann Author")
    author.type("#password", "correct horse")
    author.click("#create")
    author.wait_for("return location.pathname === '/compose'", deadline)
    author.type("#title", "Hello from Chromium")
    author.type("#markdown", "Some **bold** words.\n\n<b id=injected>raw html</b>")
    author.click("#publish")
    author.wait_for("return location.pathname === '/entry/hello-from-chromium'", deadline)
    assert author.run("return document.querySelector('.entry .body strong').textContent") == "bold"
    # Raw HTML in an entry is text, not markup.
    assert author.run("return document.getElementById('injected')") is None
    assert "<b id=injected>" in author.run(
        "return document.querySelector('.entry .body').textContent"
    )
    assert author.run("return document.getElementById('author').textContent") == "Ann Author"

    reader = browsers()
    reader.go(blog_url + "/")
    reader.wait_for("return document.querySelectorAll('article.entry').length === 1", deadline)
    assert reader.run("return document.querySelector('article.entry h2').textContent") == (
        "Hello from Chromium"
    )
    assert reader.run("return document.getElementById('sign-in') !== null")
    # The stylesheet came through static_url and applied.
    assert reader.run("return getComputedStyle(document.body).maxWidth") != "none"
    reader.click("nav a[href='/archive']")
    reader.wait_for("return location.pathname === '/archive'", deadline)
    assert reader.run("return document.querySelectorAll('#archive li').length") == 1

    png = author.screenshot()
    width, height, distinct = png_summary(png)
    assert (width, height) > (100, 100)
    assert distinct > 20, f"screenshot looks blank: {distinct} colours"
    (tmp_path / "blog.png").write_bytes(png)
    saved = os.environ.get("BLOG_SCREENSHOT")
    if saved:
        Path(saved).write_bytes(png)
