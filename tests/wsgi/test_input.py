"""wsgi.input on its own (socket-free): flow control and the file API."""

from __future__ import annotations

import asyncio
import threading

import pytest

from squall.wsgi import BODY_BUFFER_LIMIT, ClientDisconnected
from squall.wsgi._input import WSGIInput


def test_complete_body_file_api() -> None:
    stream = WSGIInput.from_bytes(b"one\ntwo\nthree")
    assert stream.readline() == b"one\n"
    assert stream.readline(2) == b"tw"
    assert stream.readlines() == [b"o\n", b"three"]
    assert stream.read() == b"" and stream.read(5) == b"" and stream.readline() == b""
    hinted = WSGIInput.from_bytes(b"a\nb\nc\n")
    assert hinted.readlines(1) == [b"a\n"]
    assert list(hinted) == [b"b\n", b"c\n"]
    assert WSGIInput.from_bytes(b"xyz").read(None) == b"xyz"


async def test_feed_pauses_the_connection_until_the_reader_catches_up() -> None:
    loop = asyncio.get_running_loop()
    stream = WSGIInput(loop)
    assert stream.feed(b"a" * (BODY_BUFFER_LIMIT - 1)) is None
    paused = stream.feed(b"b" * 10)
    assert paused is not None and not paused.done()
    # The reader drains the buffer on its thread; the loop is told.
    got = await loop.run_in_executor(None, stream.read, BODY_BUFFER_LIMIT)
    assert len(got) == BODY_BUFFER_LIMIT
    await asyncio.wait_for(paused, 10)
    stream.finish()
    assert await loop.run_in_executor(None, stream.read) == b"b" * 9
    assert stream.complete and stream.bytes_received == BODY_BUFFER_LIMIT + 9


async def test_line_longer_than_the_buffer_is_handed_out_in_pieces() -> None:
    loop = asyncio.get_running_loop()
    stream = WSGIInput(loop)
    stream.feed(b"x" * (BODY_BUFFER_LIMIT + 5))
    piece = await loop.run_in_executor(None, stream.readline)
    assert 0 < len(piece) < BODY_BUFFER_LIMIT + 5 and b"\n" not in piece


async def test_abort_and_discard() -> None:
    loop = asyncio.get_running_loop()
    stream = WSGIInput(loop)
    stream.feed(b"partial")
    reader = loop.run_in_executor(None, stream.read)
    await asyncio.sleep(0)
    stream.abort()
    with pytest.raises(ClientDisconnected):
        await reader
    dropped = WSGIInput(loop)
    paused = dropped.feed(b"z" * BODY_BUFFER_LIMIT)
    assert paused is not None
    await loop.run_in_executor(None, dropped.discard)
    await asyncio.wait_for(paused, 10)
    assert dropped.feed(b"more") is None  # dropped from now on


def test_reader_gives_up_when_the_loop_is_gone() -> None:
    loop = asyncio.new_event_loop()
    stream = WSGIInput(loop)
    loop.close()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            stream.read(10)
        except ClientDisconnected as e:
            errors.append(e)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and "event loop stopped" in str(errors[0])
