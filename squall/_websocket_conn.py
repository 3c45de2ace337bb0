"""The asyncio side of a WebSocket connection, shared by server and client.

``WebSocketConnection`` owns an ``IOStream`` and a ``FrameCodec``: a read
loop feeds received bytes to the codec and hands each event to its
*endpoint* (the ``WebSocketHandler`` or the client connection), one message
at a time; writes go through the codec to the stream.

Memory stays bounded whatever the peer does: reads stop while our own
writes to a peer that does not read are backed up, pings that arrive
faster than we can answer are coalesced into one pong carrying the latest
payload, and a backlog of unsent messages past ``MAX_UNSENT_BYTES`` fails
the connection instead of growing.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Protocol

from squall._websocket_frames import (
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    MAX_CONTROL_PAYLOAD,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Close,
    FrameCodec,
    Message,
    Ping,
    Pong,
    ProtocolError,
    accept_key,
    close_payload,
)
from squall.iostream import IOStream, StreamClosedError
from squall.log import app_log, gen_log

__all__ = ["WebSocketClosedError", "WebSocketConnection", "WebSocketError"]


class WebSocketError(Exception):
    """Base of the WebSocket errors."""


class WebSocketClosedError(WebSocketError):
    """The connection is closed (or closing): nothing more can be sent."""


# Tornado's flag for RSV1 in ``_write_frame(..., flags)``: the per-message
# compression bit (RFC 7692 section 6).
RSV1_FLAG = 0x40

# Frames handled in a row before the read loop lets the event loop run other
# work: 256, the batch after which Tornado's read loop yields (observed).
FRAMES_PER_LOOP_TURN = 256

# How much one read asks the stream for. 64 KiB is the kernel's usual socket
# receive chunk; larger reads only add copying.
READ_CHUNK_SIZE = 65536

# After sending a close frame, how long to wait for the peer's before
# dropping the connection. 5 seconds is Tornado's wait.
CLOSE_TIMEOUT = 5.0

# Unsent bytes (written but not yet taken by the kernel) above which the
# read loop stops reading until they drain: a peer that floods pings or
# requests but does not read our answers cannot make us buffer more.
READ_PAUSE_UNSENT_BYTES = 1 << 20

# Unsent bytes above which pings are no longer answered one by one: only
# the latest ping's payload is kept, and answered once writes drain. Pongs
# are tiny, so 64 KiB of backlog means the peer is not reading.
PONG_COALESCE_UNSENT_BYTES = 65536

# A peer that stops reading while the application keeps writing without
# awaiting write_message: past this many unsent bytes the connection is
# dropped (close code 1008 is not even sendable then). 64 MiB leaves room
# for several maximum-size (10 MiB, Tornado's default) messages in flight.
MAX_UNSENT_BYTES = 64 << 20


class Endpoint(Protocol):
    """What the connection calls back: the handler or the client."""

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None: ...

    def _ws_ping(self, data: bytes) -> None: ...

    def _ws_pong(self, data: bytes) -> None: ...

    def _ws_closed(self) -> None: ...


class WebSocketConnection:
    @staticmethod
    def compute_accept_value(key: str) -> str:
        """The ``Sec-WebSocket-Accept`` value answering ``key`` (RFC 6455 4.2.2)."""
        return accept_key(key)

    @staticmethod
    def ping_sleep_time(*, last_ping_time: float, interval: float, now: float) -> float:
        """Seconds until the next ping is due (0 if it is due already)."""
        return max(0.0, last_ping_time + interval - now)

    def __init__(
        self,
        stream: IOStream,
        codec: FrameCodec,
        endpoint: Endpoint,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        log_name: str = "websocket",
    ) -> None:
        self.stream = stream
        self.codec = codec
        self.endpoint = endpoint
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.log_name = log_name
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._close_sent = False
        self._closed = False
        self._unsent = 0
        # Pongs (RFC 6455 section 5.5.3 lets a pong answer only the latest
        # ping): while one is still being written, a newer ping's payload
        # waits here and is answered once that write completes.
        self._pending_pong: bytes | None = None
        self._pong_in_flight = False
        # Resolved on the loop's next iteration: what write_message returns
        # for the writes the kernel took at once.
        self._next_turn: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_deadline: asyncio.TimerHandle | None = None
        self._reader: asyncio.Task[None] | None = None
        stream.set_close_callback(self._on_stream_closed)

    def start(self) -> None:
        """Start reading (after the endpoint's ``open`` has run)."""
        if self._closed:
            return
        self._reader = self._loop.create_task(self._read_loop())
        if self.ping_interval:
            self._ping_timer = self._loop.call_later(self.ping_interval, self._send_periodic_ping)

    def is_closing(self) -> bool:
        return self._closed or self._close_sent or self.stream.closed()

    # Traffic so far, under the names Tornado's protocol object uses.
    @property
    def _message_bytes_in(self) -> int:
        """Payload bytes of the data messages received (uncompressed)."""
        return self.codec.message_bytes_in

    @property
    def _message_bytes_out(self) -> int:
        """Payload bytes of the data messages sent (before compression)."""
        return self.codec.message_bytes_out

    @property
    def _wire_bytes_in(self) -> int:
        """Bytes of the whole frames received, headers and masks included."""
        return self.codec.wire_bytes_in

    @property
    def _wire_bytes_out(self) -> int:
        """Bytes of the frames sent, headers and masks included."""
        return self.codec.wire_bytes_out

    # -- sending -------------------------------------------------------------

    def _write(self, frame: bytes) -> asyncio.Future[None]:
        if self._unsent > MAX_UNSENT_BYTES:
            gen_log.info("%s: peer is not reading, dropping the connection", self.log_name)
            self.abort(hard=True)
            raise WebSocketClosedError()
        try:
            future = self.stream.write(frame)
        except StreamClosedError:
            raise WebSocketClosedError() from None
        if future.done():
            self._unsent = 0
        else:
            self._unsent += len(frame)
            future.add_done_callback(self._on_drained)
        return future

    def _on_drained(self, future: asyncio.Future[None]) -> None:
        # Any write resolving means the transport buffer went empty.
        if not future.cancelled() and future.exception() is None:
            self._unsent = 0

    def _write_frame(
        self, fin: bool, opcode: int, data: bytes, flags: int = 0
    ) -> asyncio.Future[None]:
        """Send one frame; ``flags`` may carry RSV1 (``0x40``).

        Control frames (pings, pongs, close) go through here, under the
        name and signature Tornado's protocol object has; data messages take
        ``write_message``'s shorter path.
        """
        frame = self.codec.frame(opcode, data, fin=fin, rsv1=bool(flags & RSV1_FLAG))
        return self._write(frame)

    def write_message(self, data: bytes, binary: bool) -> asyncio.Future[None]:
        if self._closed or self._close_sent or self.stream.closed():
            raise WebSocketClosedError()
        written = self._write(self.codec.message_frame(data, binary))
        if written.done():
            # Already with the kernel (the usual case). The answer still
            # comes one loop iteration later, as from Tornado (whose
            # write_message returns a task): a handler that loops on
            # ``await write_message(...)`` must let other work run. Writes
            # made in the same iteration share that one Future.
            turn = self._next_turn
            if turn is None or turn.done():
                turn = self._next_turn = self._loop.create_future()
                self._loop.call_soon(_resolve, turn)
            return turn
        result: asyncio.Future[None] = self._loop.create_future()
        written.add_done_callback(lambda f: _relay(f, result))
        return result

    def ping(self, data: bytes) -> None:
        if self.is_closing():
            raise WebSocketClosedError()
        if len(data) > MAX_CONTROL_PAYLOAD:
            raise ValueError("ping data is limited to 125 bytes")
        self._write_frame(True, OP_PING, data)

    # Tornado's name for sending a ping from the protocol object.
    write_ping = ping

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (RFC 6455 section 7.1.2)."""
        if self._closed:
            return
        if not self._close_sent:
            self._close_sent = True
            try:
                self._write_frame(True, OP_CLOSE, close_payload(code, reason))
            except WebSocketClosedError:
                pass
        if self.codec.close_received:
            self._finish_close()
        elif self._close_timer is None:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self.abort, True)

    def abort(self, hard: bool = False) -> None:
        """Drop the TCP connection now.

        Bytes still unsent are flushed first unless ``hard`` or the peer is
        not taking them: a graceful close would then wait forever.
        """
        self._shutdown()
        if hard or self._unsent:
            self.stream.close(exc_info=WebSocketClosedError("connection dropped"))
        else:
            self.stream.close()

    def _finish_close(self) -> None:
        # Both close frames are exchanged. The server closes the TCP
        # connection first (RFC 6455 section 7.1.1); a client waits for that,
        # but not forever.
        if not self.codec.is_client:
            self.abort()
        elif self._close_timer is None and not self._closed:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self.abort, True)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (section 7.1.7): send a close frame, hang up."""
        # Debug level, as Tornado: the peer's misbehaviour is not the
        # server's error, and the close code already tells the peer.
        gen_log.debug("%s: failing the connection (%d): %s", self.log_name, code, reason)
        if not self._close_sent:
            self._close_sent = True
            try:
                # The reason goes in the frame too (Tornado sends it), cut to
                # what a control frame can carry.
                payload = close_payload(code, _fits_close_frame(reason))
                self._write_frame(True, OP_CLOSE, payload)
            except WebSocketClosedError:
                pass
        self.abort()

    # -- pings ---------------------------------------------------------------

    def _send_periodic_ping(self) -> None:
        self._ping_timer = None
        if self.is_closing():
            return
        try:
            self._write_frame(True, OP_PING, b"")
        except WebSocketClosedError:
            return
        timeout = self.ping_timeout or self.ping_interval
        if timeout and self._pong_deadline is None:
            self._pong_deadline = self._loop.call_later(timeout, self._pong_timed_out)
        assert self.ping_interval is not None
        self._ping_timer = self._loop.call_later(self.ping_interval, self._send_periodic_ping)

    def _pong_timed_out(self) -> None:
        # The peer is gone or stuck: start a closing handshake (Tornado sends
        # 1000 "ping timed out", logging nothing); CLOSE_TIMEOUT bounds the
        # wait for an answer that may never come.
        self._pong_deadline = None
        self.close(CLOSE_NORMAL, "ping timed out")

    def _send_pong(self, data: bytes) -> None:
        if self._pong_in_flight or self._unsent > PONG_COALESCE_UNSENT_BYTES:
            # The peer is not taking our pongs as fast as it pings: keep
            # only the latest payload.
            self._pending_pong = data
            return
        self._write_pong(data)

    def _write_pong(self, data: bytes) -> None:
        if self._close_sent:
            return
        written = self._write_frame(True, OP_PONG, data)
        if not written.done():
            self._pong_in_flight = True
            written.add_done_callback(self._on_pong_sent)

    def _on_pong_sent(self, written: asyncio.Future[None]) -> None:
        self._pong_in_flight = False
        pending = self._pending_pong
        if pending is not None and not self.is_closing():
            self._pending_pong = None
            try:
                self._write_pong(pending)
            except WebSocketClosedError:
                pass

    # -- receiving -----------------------------------------------------------

    def _handle_message(self, opcode: int, data: bytes) -> Awaitable[None] | None:
        """Act on one received message or control frame, by opcode.

        Tornado's protocol object has this name and signature; the read
        loop sends control frames through it (so a wrapper installed on the
        instance sees them) and hands data messages to the endpoint
        directly. Returns what ``on_message`` returned, if anything.
        """
        if opcode == OP_PING:
            self._send_pong(data)
            self.endpoint._ws_ping(data)
        elif opcode == OP_PONG:
            if self._pong_deadline is not None:
                self._pong_deadline.cancel()
                self._pong_deadline = None
            self.endpoint._ws_pong(data)
        elif opcode == OP_CLOSE:
            self.codec.close_received = True
            self._on_close_frame(FrameCodec._close_event(data))
        elif opcode == OP_TEXT:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(1007, "invalid UTF-8 in text message") from None
            return self.endpoint._ws_message(text)
        elif opcode == OP_BINARY:
            return self.endpoint._ws_message(bytes(data))
        else:
            raise ProtocolError(1002, f"unknown opcode {opcode:#x}")
        return None

    async def _read_loop(self) -> None:
        stream = self.stream
        codec = self.codec
        endpoint = self.endpoint
        # Events handled since the loop last ran other work: a peer
        # flooding small frames (thousands parsed from one read) must not
        # starve the other tasks.
        handled = 0
        try:
            while not codec.close_received:
                data = await stream.read_bytes(READ_CHUNK_SIZE, partial=True)
                for event in codec.receive(data):
                    if isinstance(event, Message):
                        result = endpoint._ws_message(event.data)
                        if result is not None and inspect.isawaitable(result):
                            await result
                        if self._closed:
                            return
                    elif isinstance(event, Ping):
                        self._handle_message(OP_PING, event.data)
                    elif isinstance(event, Pong):
                        self._handle_message(OP_PONG, event.data)
                    else:
                        self._handle_message(OP_CLOSE, _close_payload_of(event))
                    handled += 1
                    if handled == FRAMES_PER_LOOP_TURN:
                        handled = 0
                        await asyncio.sleep(0)
                        if self._closed:
                            return  # dropped while other work ran
                if self._unsent > READ_PAUSE_UNSENT_BYTES:
                    await stream.write(b"")
                pending = self._pending_pong
                if pending is not None and not self._pong_in_flight and not self._close_sent:
                    # The batch of frames is done: answer the most recent of
                    # the pings it coalesced, once.
                    self._pending_pong = None
                    self._write_pong(pending)
        except (StreamClosedError, WebSocketClosedError):
            pass
        except ProtocolError as e:
            self._fail(e.code, e.reason)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            if cancelling is None or cancelling():
                raise  # this reader was cancelled: the connection is going away
            # Raised by on_message itself: an error like any other (Tornado).
            app_log.error("Uncaught exception in %s", self.log_name, exc_info=True)
            self._fail(1011, "internal error")
        except Exception:
            app_log.error("Uncaught exception in %s", self.log_name, exc_info=True)
            self._fail(1011, "internal error")

    def _on_close_frame(self, event: Close) -> None:
        if event.code != CLOSE_NO_STATUS:
            self.close_code = event.code
            self.close_reason = event.reason
        if self._close_sent:
            self._finish_close()
        else:
            # Echo the peer's code (section 5.5.1).
            self.close(None if event.code == CLOSE_NO_STATUS else event.code, None)

    # -- teardown ------------------------------------------------------------

    def _shutdown(self) -> None:
        for name in ("_close_timer", "_ping_timer", "_pong_deadline"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    def _on_stream_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shutdown()
        try:
            self.endpoint._ws_closed()
        except Exception:
            app_log.error("Uncaught exception in %s on_close", self.log_name, exc_info=True)


def _close_payload_of(event: Close) -> bytes:
    """The payload the close frame behind ``event`` carried."""
    if event.code == CLOSE_NO_STATUS:
        return b""
    return close_payload(event.code, event.reason)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _relay(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    if target.done():
        return
    if source.cancelled() or source.exception() is not None:
        target.set_exception(WebSocketClosedError())
        # Callers often fire and forget write_message: an unobserved
        # failure must not be logged as "exception was never retrieved".
        target.exception()
    else:
        target.set_result(None)


def _fits_close_frame(reason: str) -> str:
    """``reason``, shortened to fit a close frame (125 bytes with the code)."""
    encoded = reason.encode("utf-8")[:MAX_CLOSE_REASON_BYTES]
    return encoded.decode("utf-8", "ignore")


# RFC 6455 section 5.5: a control frame carries at most 125 bytes, two of
# them the close code.
MAX_CLOSE_REASON_BYTES = 123
