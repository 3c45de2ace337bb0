"""``TCPServer``: accept connections and hand each one over as an IOStream.

Subclass it and override ``handle_stream``::

    class EchoServer(TCPServer):
        async def handle_stream(self, stream, address):
            while True:
                data = await stream.read_bytes(65536, partial=True)
                await stream.write(data)

    server = EchoServer()
    server.listen(8888)
    IOLoop.current().start()

Accepting (and, with ``ssl_options``, the TLS handshake) is done by the
event loop's own server (``loop.create_server`` on the listening socket), in
C under uvloop; each connection's protocol is the stream's, so
``handle_stream`` is called with a ready stream and nothing in between.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Iterable
from os.path import exists as _path_exists
from typing import Any

from squall import gen
from squall._iostream_protocol import _StreamProtocol
from squall.ioloop import IOLoop, track_server
from squall.iostream import IOStream, SSLIOStream
from squall.log import app_log
from squall.netutil import _DEFAULT_BACKLOG, bind_sockets, ssl_options_to_context

__all__ = ["TCPServer"]


class _Listener:
    """A listening socket and, once the loop made it, the server serving it."""

    __slots__ = ("server", "sock", "task")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.server: asyncio.AbstractServer | None = None
        self.task: asyncio.Task[None] | None = None


def _check_ssl_files(options: dict[str, Any]) -> None:
    """Fail at construction, not on the first connection, over a missing file."""
    if "certfile" not in options:
        raise KeyError('missing key "certfile" in ssl_options')
    certfile = options["certfile"]
    if not _path_exists(certfile):
        raise ValueError(f'certfile "{certfile}" does not exist')
    keyfile = options.get("keyfile")
    if keyfile and not _path_exists(keyfile):
        raise ValueError(f'keyfile "{keyfile}" does not exist')


class TCPServer:
    """Accepts TCP connections on the IOLoop and hands each to ``handle_stream``.

    Subclasses override ``handle_stream``. Most programs just call
    ``listen(port)``. To spread the work over several processes sharing one
    set of listening sockets, call ``bind(port)`` and then ``start(n)``
    before any IOLoop exists (``n`` None or 0 means one per CPU); or make the
    sockets yourself with ``netutil.bind_sockets``, fork with
    ``process.fork_processes``, and pass them to ``add_sockets``.

    With ``ssl_options`` (an ``ssl.SSLContext``, or a dict of
    ``ssl.wrap_socket`` arguments naming at least ``certfile``) connections
    are TLS and ``handle_stream`` gets an ``SSLIOStream`` already past its
    handshake. Each stream is made with ``max_buffer_size`` and
    ``read_chunk_size``.
    """

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        # Stream settings handed to every accepted connection, as given.
        self.max_buffer_size, self.read_chunk_size = max_buffer_size, read_chunk_size
        self.ssl_options = ssl_options
        self._ssl_context = self._server_context(ssl_options)
        # fileno -> listening socket, as Tornado keeps them; and each
        # socket with the loop server that serves it.
        self._sockets: dict[int, socket.socket] = {}
        self._listeners: list[_Listener] = []
        self._pending_sockets: list[tuple[socket.socket, int]] = []
        self._started = False
        self._stopped = False

    @staticmethod
    def _server_context(
        ssl_options: dict[str, Any] | ssl.SSLContext | None,
    ) -> ssl.SSLContext | None:
        """The TLS context for accepted connections; None serves plain TCP."""
        if ssl_options is None:
            return None
        if isinstance(ssl_options, dict):
            # Fail at construction, not at the first handshake.
            _check_ssl_files(ssl_options)
        return ssl_options_to_context(ssl_options, server_side=True)

    # -- starting ------------------------------------------------------------

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Listen on ``port`` (every interface unless ``address``) and serve.

        Serving begins once the IOLoop runs; connections made meanwhile wait
        in the kernel's backlog.
        """
        # bind_sockets takes the same parameters in the same order.
        for listening in bind_sockets(port, address, family, backlog, flags, reuse_port):
            self._serve(listening, backlog)

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Make the listening sockets now; serve them once ``start`` is called.

        May be called several times, for several ports or addresses.
        """
        made = bind_sockets(port, address, family, backlog, flags, reuse_port)
        queued = [(listening, backlog) for listening in made]
        if not self._started:
            # Held until start(), which may fork first.
            self._pending_sockets += queued
            return
        for listening, depth in queued:
            self._serve(listening, depth)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Serve the sockets made by ``bind``, in ``num_processes`` processes.

        With a value other than 1 the process forks first
        (``process.fork_processes``: None or 0 means one per CPU, and
        children that die abnormally are restarted up to ``max_restarts``
        times); each child then serves the sockets.
        """
        if self._started:
            raise RuntimeError("TCPServer.start() was already called")
        self._started = True
        if num_processes != 1:
            from squall import process

            process.fork_processes(num_processes, max_restarts)
        pending, self._pending_sockets = self._pending_sockets, []
        for sock, backlog in pending:
            self._serve(sock, backlog)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Serve connections arriving on these listening sockets."""
        for sock in sockets:
            self._serve(sock, _DEFAULT_BACKLOG)

    def add_socket(self, socket: socket.socket) -> None:
        """Serve connections arriving on this listening socket."""
        self.add_sockets([socket])

    def _serve(self, sock: socket.socket, backlog: int) -> None:
        io_loop = IOLoop.current()
        assert io_loop is not None
        loop = io_loop.asyncio_loop
        listener = _Listener(sock)
        self._sockets[sock.fileno()] = sock
        self._listeners.append(listener)
        listener.task = loop.create_task(self._start_serving(loop, listener, backlog))

    async def _start_serving(
        self, loop: asyncio.AbstractEventLoop, listener: _Listener, backlog: int
    ) -> None:
        sock = listener.sock
        # The loop calls listen() again with this backlog: pass the one the
        # socket was made with so that it is not silently changed. Made
        # without serving first, so that stop() has a server to close from
        # the moment the loop owns the socket.
        try:
            if sock.family == socket.AF_UNIX:
                server = await loop.create_unix_server(
                    self._make_protocol,
                    sock=sock,
                    ssl=self._ssl_context,
                    backlog=backlog,
                    start_serving=False,
                )
            else:
                server = await loop.create_server(
                    self._make_protocol,
                    sock=sock,
                    ssl=self._ssl_context,
                    backlog=backlog,
                    start_serving=False,
                )
        except Exception:
            app_log.error("Could not serve on %s", sock, exc_info=True)
            sock.close()
            return
        listener.server = server
        track_server(server)
        await server.start_serving()

    def stop(self) -> None:
        """Stop accepting connections; those already accepted carry on.

        The listening sockets are closed at once (the port is free again).
        """
        if not self._stopped:
            self._stopped = True
            self._release_listening_sockets()

    def _release_listening_sockets(self) -> None:
        for listener in self._listeners:
            server = listener.server
            if server is None:
                # Serving has not begun: the loop never took the socket.
                if listener.task is not None:
                    listener.task.cancel()
                listener.sock.close()
            else:
                server.close()  # the listening socket goes with it
        for pending, _backlog in self._pending_sockets:
            pending.close()
        self._pending_sockets.clear()
        self._listeners.clear()
        self._sockets.clear()

    # -- connections ---------------------------------------------------------

    def _make_protocol(self) -> _StreamProtocol:
        stream_class = IOStream if self._ssl_context is None else SSLIOStream
        stream = stream_class._unattached(self.max_buffer_size, self.read_chunk_size)
        if isinstance(stream, SSLIOStream):
            stream._ssl_options = self.ssl_options
            stream._ssl_context = self._ssl_context
        stream._on_attach = self._handle_connection
        return stream._protocol

    def _handle_connection(self, stream: Any) -> None:
        address = stream._transport.get_extra_info("peername")
        try:
            result = self.handle_stream(stream, address)
        except Exception:
            app_log.error("Error in connection callback", exc_info=True)
            stream.close()
            return
        if result is not None:
            future = gen.convert_yielded(result)
            future.add_done_callback(lambda f: self._on_handler_done(f, stream))

    @staticmethod
    def _on_handler_done(future: asyncio.Future[Any], stream: IOStream) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            # Tornado's wording for a failed coroutine handle_stream (its
            # IOLoop reports the future's callback); sync failures above keep
            # "Error in connection callback".
            app_log.error("Exception in callback %r", future, exc_info=exc)
            # Nobody else will close a stream whose handler died.
            stream.close()

    def handle_stream(self, stream: IOStream, address: Any) -> Awaitable[None] | None:
        """Called for each new connection, with its stream and peer address.

        Override it; it may be a coroutine. What it raises is logged to
        ``squall.application`` and the connection is closed.
        """
        raise NotImplementedError()
