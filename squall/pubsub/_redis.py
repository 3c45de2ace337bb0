"""``redis://host:port/db``: many processes or machines through one Redis.

Two connections per hub, both redis-py asyncio ``Connection`` objects that
we drive ourselves (redis-py's own retries are off, so a reconnection can
never happen silently and hide lost messages):

- the *listener* holds the SUBSCRIBEs and reads publications. It owns the
  hub's connected state: when it breaks, every channel is marked lost, and
  it reconnects with capped exponential backoff and jitter, subscribes to
  every channel again, and the hub sends each subscriber a ``Gap`` as its
  channel is confirmed.
- the *command* connection sends PUBLISH (or the history script) and
  history reads, in the order they were asked for, pipelined in batches:
  per-channel order per publisher holds because one connection carries them
  all and Redis executes a connection's commands in order.

Publications travel in an envelope, ``sq1:<hub id>:<kind>:<history id>:``
followed by the payload, so that a hub can drop its own (already delivered
locally) and rebuild bytes, str or JSON as published. Anything else
published on the channel (``redis-cli PUBLISH``) arrives as bytes.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from squall.log import gen_log
from squall.pubsub._backend import Backend, HistoryRead, Record, Sink
from squall.pubsub._errors import BackendUnavailableError, HubClosedError, PubSubError
from squall.pubsub._events import KIND_BYTES, Message, decode, id_order

__all__ = [
    "COMMAND_TIMEOUT",
    "CONNECT_TIMEOUT",
    "HEALTH_CHECK_INTERVAL",
    "HISTORY_KEY_PREFIX",
    "MAX_BATCH",
    "MAX_RECONNECT_DELAY",
    "MIN_RECONNECT_DELAY",
    "TRIMMED_KEY_PREFIX",
    "RedisBackend",
]

# A Redis on the same network accepts in milliseconds; five seconds without
# an answer means it is down or unreachable.
CONNECT_TIMEOUT = 5.0
# A command the server has not answered in this long is treated as a lost
# connection; the same bound as the connect.
COMMAND_TIMEOUT = 5.0
# First wait after a failure, doubled per failure up to the cap: a restart
# of a local Redis is caught within a fraction of a second, and a long
# outage costs one attempt every 10 s per process, so a hundred processes
# knock ten times a second on a server that is coming back, not thousands.
# Each wait is jittered down to half so that they do not knock in lockstep.
MIN_RECONNECT_DELAY = 0.1
MAX_RECONNECT_DELAY = 10.0
# An idle listener PINGs after this long and counts the connection dead if
# nothing answers within the same time again. Redis's own tcp-keepalive
# (300 s) would notice a vanished peer far too late for a live room.
HEALTH_CHECK_INTERVAL = 15.0
# Commands per pipelined write: large enough to amortise round trips under
# load, small enough that a history read is not stuck behind a flood.
MAX_BATCH = 512
# History streams live under this prefix, apart from the application's keys.
HISTORY_KEY_PREFIX = "squall:history:"

ENVELOPE_MAGIC = b"sq1"

# Where the newest id the bound pushed out of a channel's history is kept:
# a reader "since" an older id missed something. (A stream's own
# max-deleted-entry-id counts XDEL only, not MAXLEN trimming.)
TRIMMED_KEY_PREFIX = "squall:history-trimmed:"

# XADD and PUBLISH in one step, so that the order in the stream and the
# order subscribers see are the same, and live messages carry their id.
# KEYS: the stream, its trimmed-id key; ARGV: maxlen, publisher, kind,
# payload, channel.
_PUBLISH_WITH_HISTORY = """
local maxlen = tonumber(ARGV[1])
local over = redis.call('XLEN', KEYS[1]) - maxlen + 1
if over > 0 then
    local dropped = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
    redis.call('SET', KEYS[2], dropped[#dropped][1])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', maxlen, '*',
                      'o', ARGV[2], 'k', ARGV[3], 'p', ARGV[4])
redis.call('PUBLISH', ARGV[5], 'sq1:' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. id .. ':' .. ARGV[4])
return id
"""

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def _envelope(publisher: str, kind: bytes, payload: bytes) -> bytes:
    return b"%s:%s:%s::%s" % (ENVELOPE_MAGIC, publisher.encode(), kind, payload)


def _open_envelope(channel: str, data: bytes) -> Message:
    parts = data.split(b":", 4)
    if len(parts) == 5 and parts[0] == ENVELOPE_MAGIC:
        _, publisher, kind, message_id, payload = parts
        return Message(
            channel,
            decode(kind, payload),
            message_id.decode("ascii") or None,
            publisher.decode("ascii"),
        )
    return Message(channel, decode(KIND_BYTES, data))


class RedisBackend(Backend):
    def __init__(
        self,
        url: str,
        *,
        min_reconnect_delay: float = MIN_RECONNECT_DELAY,
        max_reconnect_delay: float = MAX_RECONNECT_DELAY,
        health_check_interval: float = HEALTH_CHECK_INTERVAL,
    ) -> None:
        if not 0 < min_reconnect_delay <= max_reconnect_delay:
            raise ValueError("need 0 < min_reconnect_delay <= max_reconnect_delay")
        # The pool only parses the URL and picks the connection class (TCP,
        # TLS for rediss://, Unix socket); it never hands out connections.
        self._pool = ConnectionPool.from_url(
            url,
            protocol=2,  # RESP2: pub/sub replies are plain arrays
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
        )
        self._where = url
        self._min_delay = min_reconnect_delay
        self._max_delay = max_reconnect_delay
        self._health_interval = health_check_interval
        self._sink: Sink | None = None
        self._listener: AbstractConnection | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._subscribe_queue: list[tuple[str, str]] = []
        self._subscribe_task: asyncio.Task[None] | None = None
        self._commands: AbstractConnection | None = None
        self._outbox: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._attempted = asyncio.Event()
        self._closing = False

    def _connection(self) -> AbstractConnection:
        return self._pool.connection_class(**self._pool.connection_kwargs)

    # -- the listener ------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self._listener_task = asyncio.get_running_loop().create_task(self._listen())

    async def wait_attempted(self) -> None:
        await self._attempted.wait()

    async def _listen(self) -> None:
        assert self._sink is not None
        delay = self._min_delay
        failing = False
        while not self._closing:
            connection = self._connection()
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
                # The channels wanted now, and from here on add/remove_channel
                # write to this connection (no await in between: none missed).
                channels = list(self._sink.wanted_channels())
                self._listener = connection
                self._subscribe_queue.clear()
                if channels:
                    await connection.send_command("SUBSCRIBE", *channels, check_health=False)
                self.connected = True
                self.attempted = True
                self._attempted.set()
                if failing:
                    gen_log.warning("pubsub: %s is reachable again", self._where)
                    failing = False
                delay = self._min_delay
                self._sink.backend_connected()
                await self._read(connection)
            except _FAILURES as e:
                if not failing and not self._closing:
                    gen_log.warning(
                        "pubsub: %s unreachable (%s); reconnecting with backoff", self._where, e
                    )
                failing = True
            finally:
                was_connected = self.connected
                self.connected = False
                self._listener = None
                await connection.disconnect()
                if was_connected:
                    # The command connection went down with the server (or
                    # soon will): the next command opens a fresh one.
                    stale, self._commands = self._commands, None
                    if stale is not None:
                        await stale.disconnect()
                    self._sink.backend_disconnected()
            self.attempted = True
            self._attempted.set()
            if self._closing:
                return
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._max_delay)

    async def _read(self, connection: AbstractConnection) -> None:
        assert self._sink is not None
        pinged = False
        while True:
            reply = await connection.read_response(
                disable_decoding=True, timeout=self._health_interval
            )
            if reply is None:
                if pinged:
                    raise ConnectionError(f"no answer to PING in {self._health_interval}s")
                await connection.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            if not isinstance(reply, list) or len(reply) < 3:
                continue  # PONG outside subscribed mode
            what = reply[0]
            if what == b"message":
                channel = reply[1].decode("utf-8", "surrogateescape")
                try:
                    message = _open_envelope(channel, reply[2])
                except ValueError as e:
                    gen_log.warning("pubsub: dropped an unreadable message on %r: %s", channel, e)
                    continue
                self._sink.backend_message(message)
            elif what == b"subscribe":
                self._sink.backend_subscribed(reply[1].decode("utf-8", "surrogateescape"))

    def add_channel(self, channel: str) -> None:
        self._queue_subscription("SUBSCRIBE", channel)

    def remove_channel(self, channel: str) -> None:
        self._queue_subscription("UNSUBSCRIBE", channel)

    def _queue_subscription(self, command: str, channel: str) -> None:
        # Without a live listener there is nothing to do: the next
        # connection subscribes to whatever the hub wants at that moment.
        if self._listener is None:
            return
        self._subscribe_queue.append((command, channel))
        if self._subscribe_task is None:
            self._subscribe_task = asyncio.get_running_loop().create_task(
                self._send_subscriptions(self._listener)
            )

    async def _send_subscriptions(self, connection: AbstractConnection) -> None:
        try:
            while self._subscribe_queue and connection is self._listener:
                batch, self._subscribe_queue = self._subscribe_queue, []
                packed = connection.pack_commands(
                    [(command, channel) for command, channel in batch]
                )
                await connection.send_packed_command(packed, check_health=False)
        except _FAILURES:
            pass  # the listener's read fails too and reconnects
        finally:
            self._subscribe_task = None

    # -- the command connection --------------------------------------------------

    async def _command(self, *args: Any) -> Any:
        if self._closing:
            raise HubClosedError(f"the hub for {self._where} is closed")
        if not self.connected:
            raise BackendUnavailableError(f"{self._where} is unreachable")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outbox.append((args, future))
        if self._writer_task is None:
            self._writer_task = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._outbox:
                batch = self._outbox[:MAX_BATCH]
                del self._outbox[:MAX_BATCH]
                try:
                    await self._run_batch(batch)
                except _FAILURES as e:
                    connection, self._commands = self._commands, None
                    if connection is not None:
                        await connection.disconnect()
                    _fail(batch, BackendUnavailableError(f"{self._where}: {e}"))
                except asyncio.CancelledError:
                    # close() while this batch was on the wire.
                    _fail(batch, HubClosedError(f"the hub for {self._where} is closed"))
                    raise
        finally:
            self._writer_task = None

    async def _run_batch(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        if self._commands is None:
            connection = self._connection()
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
            except BaseException:
                await connection.disconnect()
                raise
            self._commands = connection
        connection = self._commands
        await connection.send_packed_command(
            connection.pack_commands([args for args, _ in batch]), check_health=False
        )
        for _, future in batch:
            try:
                reply = await connection.read_response(disable_decoding=True)
            except ResponseError as e:
                if not future.done():
                    future.set_exception(PubSubError(f"{self._where} refused: {e}"))
                continue
            if not future.done():
                future.set_result(reply)

    async def publish(
        self, channel: str, publisher: str, kind: bytes, payload: bytes, history: int
    ) -> str | None:
        if history <= 0:
            await self._command("PUBLISH", channel, _envelope(publisher, kind, payload))
            return None
        reply = await self._command(
            "EVAL",
            _PUBLISH_WITH_HISTORY,
            2,
            HISTORY_KEY_PREFIX + channel,
            TRIMMED_KEY_PREFIX + channel,
            history,
            publisher,
            kind,
            payload,
            channel,
        )
        return bytes(reply).decode("ascii")

    async def read_history(self, channel: str, since: str | None) -> HistoryRead:
        key = HISTORY_KEY_PREFIX + channel
        start = "-" if since is None else "(" + since
        reads = [self._command("XRANGE", key, start, "+")]
        if since is not None:
            reads.append(self._command("GET", TRIMMED_KEY_PREFIX + channel))
        replies = await asyncio.gather(*reads)
        records = []
        for raw_id, fields in replies[0]:
            values = dict(zip(fields[::2], fields[1::2], strict=False))
            records.append(
                Record(
                    raw_id.decode("ascii"),
                    values.get(b"o", b"").decode("ascii"),
                    values.get(b"k", KIND_BYTES),
                    values.get(b"p", b""),
                )
            )
        trimmed = False
        if since is not None and replies[1] is not None:
            trimmed = id_order(replies[1].decode("ascii")) > id_order(since)
        return HistoryRead(records, trimmed)

    async def close(self) -> None:
        self._closing = True
        for task in (self._listener_task, self._subscribe_task):
            if task is not None:
                task.cancel()
        for task in (self._listener_task, self._subscribe_task):
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        outbox, self._outbox = self._outbox, []
        _fail(outbox, HubClosedError(f"the hub for {self._where} is closed"))
        if self._writer_task is not None:
            self._writer_task.cancel()
            try:
                await self._writer_task
            except asyncio.CancelledError:
                pass
        if self._commands is not None:
            await self._commands.disconnect()
            self._commands = None
        self.connected = False
        await self._pool.disconnect()


def _fail(batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
