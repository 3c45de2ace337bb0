"""squall.iostream's _StreamBuffer, and what write() does with the caller's buffer."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from typing import Any

import pytest
from net_loops import LOOPS, each_loop

from squall.iostream import IOStream, PipeIOStream, StreamClosedError, _StreamBuffer

pytestmark = pytest.mark.usefixtures("io_loop")


@pytest.fixture(params=LOOPS)
def io_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test here runs once on each loop squall can make."""
    yield from each_loop(request.param, monkeypatch)


def small_threshold(threshold: int) -> _StreamBuffer:
    buf = _StreamBuffer()
    buf._large_buf_threshold = threshold
    return buf


def drain(buf: _StreamBuffer) -> bytes:
    out = bytearray()
    while buf:
        with buf.peek(len(buf)) as view:
            out += view
            taken = len(view)
        buf.advance(taken)
    return bytes(out)


# -- _StreamBuffer ------------------------------------------------------------


def test_empty_buffer() -> None:
    buf = _StreamBuffer()
    assert len(buf) == 0 and not buf
    assert bytes(buf.peek(10)) == b""


def test_small_pieces_are_gathered() -> None:
    buf = small_threshold(10)
    for piece in (b"abc", bytearray(b"def"), memoryview(b"ghi")):
        buf.append(piece)
    assert len(buf) == 9
    # One piece so far: a peek sees all of it.
    with buf.peek(100) as view:
        assert bytes(view) == b"abcdefghi"
    with buf.peek(4) as view:
        assert bytes(view) == b"abcd"
    buf.advance(4)
    assert len(buf) == 5
    with buf.peek(100) as view:
        assert bytes(view) == b"efghi"


def test_peek_stops_at_the_end_of_the_first_piece() -> None:
    buf = small_threshold(4)
    buf.append(b"abc")
    buf.append(b"defgh")  # large: a piece of its own
    buf.append(b"ij")
    with buf.peek(100) as view:
        assert bytes(view) == b"abc"
    buf.advance(5)  # across the first piece into the large one
    with buf.peek(100) as view:
        assert bytes(view) == b"fgh"
    assert drain(buf) == b"fghij"


def test_large_pieces_are_not_copied_and_are_released() -> None:
    buf = small_threshold(8)
    big = bytearray(b"0123456789abcdef")
    buf.append(big)
    big[0:1] = b"Z"  # same length: allowed while exported
    with buf.peek(3) as view:
        assert bytes(view) == b"Z12"
    with pytest.raises(BufferError):
        big.extend(b"!")  # still held by the buffer
    buf.advance(10)
    with pytest.raises(BufferError):
        big.extend(b"!")  # partly consumed: still held
    buf.advance(6)
    big.extend(b"!")  # fully consumed: let go
    assert len(buf) == 0


def test_clear_releases_large_pieces() -> None:
    buf = small_threshold(4)
    big = bytearray(100)
    buf.append(b"ab")
    buf.append(big)
    buf.clear()
    assert len(buf) == 0 and bytes(buf.peek(1)) == b""
    del big[:]
    buf.append(b"again")
    assert drain(buf) == b"again"


def test_empty_append_is_ignored() -> None:
    buf = _StreamBuffer()
    buf.append(b"")
    buf.append(bytearray())
    assert len(buf) == 0


@pytest.mark.parametrize("size", [0, -1, 4])
def test_advance_out_of_range(size: int) -> None:
    buf = _StreamBuffer()
    buf.append(b"abc")
    with pytest.raises(ValueError, match="cannot advance"):
        buf.advance(size)
    assert len(buf) == 3


def test_peek_needs_a_positive_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        _StreamBuffer().peek(0)


@pytest.mark.parametrize("threshold", [1, 16, 2048])
def test_random_interleaving_keeps_the_byte_order(threshold: int) -> None:
    rng = random.Random(threshold)
    buf = small_threshold(threshold)
    expected = bytearray()
    counter = 0
    for _ in range(500):
        if rng.random() < 0.6:
            size = rng.choice([1, 3, threshold, threshold + 1, 5000])
            piece = bytes((counter + i) % 251 for i in range(size))
            counter += size
            buf.append(piece)
            expected += piece
        elif buf:
            want = rng.randint(1, len(buf))
            with buf.peek(want) as view:
                got = bytes(view)
            assert 0 < len(got) <= want
            assert got == expected[: len(got)]
            buf.advance(len(got))
            del expected[: len(got)]
        assert len(buf) == len(expected)
    assert drain(buf) == bytes(expected)


# -- write() and the caller's buffer ----------------------------------------------


async def connected_to_socket() -> tuple[IOStream, socket.socket]:
    """A connected client stream, and the server's end as a plain socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = IOStream(socket.socket())
    await client.connect(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    return client, accepted


async def connected_pair() -> tuple[IOStream, IOStream]:
    client, accepted = await connected_to_socket()
    return client, IOStream(accepted)


async def test_bytearray_resizable_while_the_write_is_pending() -> None:
    client, server = await connected_pair()
    data = bytearray(b"x" * (8 * 1024 * 1024))  # more than the kernel takes at once
    pending = client.write(data)
    assert client.writing()
    data.extend(b"more")  # the stream holds no view of it
    del data[:]
    client.close()
    with pytest.raises(StreamClosedError):
        await pending
    server.close()


async def test_writable_memoryview_is_copied_too() -> None:
    client, server = await connected_pair()
    backing = bytearray(b"y" * (4 * 1024 * 1024))
    view = memoryview(backing)
    pending = client.write(view)
    view.release()
    backing.extend(b"z")
    received = await server.read_bytes(4 * 1024 * 1024)
    await pending
    assert received == b"y" * (4 * 1024 * 1024)
    client.close()
    server.close()


async def test_writes_before_connecting_go_out_in_order() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = IOStream(socket.socket())
    connecting = client.connect(listener.getsockname())
    early = bytearray(b"b" * 5000)  # above the buffer's copy threshold
    writes = [client.write(b"a" * 10), client.write(early), client.write(b"c")]
    assert client.writing()
    early[:] = b""  # copied at write(): resizing is fine, and changes nothing
    await connecting
    accepted, _ = listener.accept()
    listener.close()
    server = IOStream(accepted)
    await asyncio.gather(*writes)
    assert await server.read_bytes(5011) == b"a" * 10 + b"b" * 5000 + b"c"
    client.close()
    server.close()


async def test_write_to_a_pipe_whose_reader_left_fails() -> None:
    read_fd, write_fd = os.pipe()
    reader, writer = PipeIOStream(read_fd), PipeIOStream(write_fd)
    await asyncio.sleep(0.01)  # both transports in place
    pending = writer.write(b"x" * (1024 * 1024))  # more than a pipe holds
    assert writer.writing()
    reader.close()
    # Dropped with the pipe, not delivered: the Future must not succeed.
    with pytest.raises(StreamClosedError):
        await asyncio.wait_for(pending, 5)
    assert writer.closed()


async def test_write_after_failed_pipe_write_raises() -> None:
    read_fd, write_fd = os.pipe()
    reader, writer = PipeIOStream(read_fd), PipeIOStream(write_fd)
    await asyncio.sleep(0.01)
    reader.close()
    first: Any = None
    try:
        first = writer.write(b"x" * (1024 * 1024))
    except StreamClosedError:
        pass  # the loop already noticed the reader left
    if first is not None:
        with pytest.raises(StreamClosedError):
            await asyncio.wait_for(first, 5)
    with pytest.raises(StreamClosedError):
        writer.write(b"more")


# -- reads that start with nothing buffered -------------------------------------


async def test_read_of_data_already_in_the_kernel_completes_at_once() -> None:
    client, peer = await connected_to_socket()
    await asyncio.sleep(0.01)
    peer.sendall(b"hello world")  # on loopback, in the client's kernel buffer now
    first = client.read_bytes(5)
    # No loop iteration has passed: read from the socket inline.
    assert first.done() and first.result() == b"hello"
    assert (await client.read_bytes(6)) == b" world"
    peer.sendall(b"tail")
    peer.close()
    assert (await client.read_until_close()) == b"tail"
    assert client.closed()


async def test_read_on_a_broken_descriptor_raises_and_closes() -> None:
    client, peer = await connected_to_socket()
    closed: list[bool] = []
    client.set_close_callback(lambda: closed.append(True))
    # The descriptor now names something that is not a socket (and stays
    # ours, so closing the stream closes nothing else's).
    with open(os.devnull, "rb") as devnull:
        os.dup2(devnull.fileno(), client.socket.fileno())
    with pytest.raises(OSError) as info:
        client.read_bytes(1)
    assert not isinstance(info.value, StreamClosedError)
    assert client.closed() and client.error is info.value
    await asyncio.sleep(0)
    assert closed == [True]
    peer.close()


# -- close right after writing, before the transport exists ------------------------


async def test_writes_to_an_adopted_socket_go_out_when_closed_at_once() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    raw = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    stream = IOStream(accepted)  # connected: the transport is attached later
    pending = stream.write(b"goodbye")
    stream.close()  # before the loop ever ran: Tornado would have sent it already
    with pytest.raises(StreamClosedError):
        await pending  # not confirmed, as a write cut by close() never is
    raw.settimeout(5)
    received = b""
    while chunk := await asyncio.get_running_loop().run_in_executor(None, raw.recv, 100):
        received += chunk
    raw.close()
    assert received == b"goodbye"


async def test_an_unconnected_stream_closed_with_writes_sends_nothing() -> None:
    stream = IOStream(socket.socket())
    connecting = stream.connect(("127.0.0.1", 9))  # never reached: closed first
    pending = stream.write(b"lost")
    stream.close()
    for future in (pending, connecting):
        with pytest.raises(StreamClosedError):
            await future
