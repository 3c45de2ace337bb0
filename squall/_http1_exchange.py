"""One request on a server connection and the response written to it:
``HTTP1Connection``, what a delegate calls (``write_headers``, ``write``,
``finish``). Heads and chunks are made by the HTTP/1 core (``_http1``).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from squall._http1 import _heads as heads
from squall._http1._inflate import BoundedInflater
from squall._http1._states import Life
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPOutputError,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import app_log

if TYPE_CHECKING:
    from squall._http1_server import HTTP1ServerProtocol

__all__ = ["ConnectionStream", "HTTP1Connection"]

_SERVER_HEADER = "SquallServer/" + __import__("squall").version
CLOSED = Life.CLOSED


class HTTP1Connection(HTTPConnection):
    """One request on a server connection, and the response written to it."""

    # One of these per request: slots make it smaller and quicker to set up.
    __slots__ = (
        "__weakref__",
        "_body_received",
        "_body_started",
        "_buffered_body",
        "_chunked",
        "_close_after",
        "_close_callback",
        "_delivered_end",
        "_events",
        "_expect_continue",
        "_expected_length",
        "_failed",
        "_head_request",
        "_inflater",
        "_protocol",
        "_request_complete",
        "_response_finished",
        "_response_started",
        "_waiting",
        "_written",
        "body_timeout",
        "context",
        "delegate",
        "headers",
        "max_body_size",
        "params",
        "start_line",
    )

    def __init__(
        self,
        protocol: HTTP1ServerProtocol,
        start_line: RequestStartLine,
        headers: HTTPHeaders,
        context: Any,
    ) -> None:
        self._protocol = protocol
        self.params = protocol.params
        self.context = context
        self.start_line = start_line
        self.headers = headers
        self.delegate: HTTPMessageDelegate | None = None
        self.max_body_size = self.params.max_body_size
        self.body_timeout = self.params.body_timeout
        # Request side.
        self._events: collections.deque[tuple[int, Any]] = collections.deque()
        self._buffered_body = 0
        self._body_received = 0
        self._request_complete = False
        self._waiting: Awaitable[Any] | None = None  # a delegate call not yet done
        self._delivered_end = False
        self._body_started = False
        self._expect_continue = False
        self._inflater: BoundedInflater | None = None
        # Response side.
        self._response_started = False
        self._response_finished = False
        self._chunked = False
        self._expected_length: int | None = None
        self._written = 0
        self._head_request = start_line.method == "HEAD"
        self._close_after = False
        self._close_callback: Callable[[], None] | None = None
        self._failed = False  # its delegate raised: deliver nothing more

    # -- HTTPConnection: what a delegate calls ---------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` if the connection closes before this response ends."""
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        self.max_body_size = max_body_size

    def get_ssl_certificate(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        """The client's TLS certificate (``request.get_ssl_certificate`` asks here)."""
        transport = self._protocol.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return None
        cert: dict[str, Any] | bytes | None = ssl_object.getpeercert(binary_form=binary_form)
        return cert

    def set_body_timeout(self, timeout: float) -> None:
        self.body_timeout = timeout
        self._protocol._body_timeout_changed(self, timeout)

    def write_headers(
        self,
        start_line: ResponseStartLine | RequestStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        """Send the response head, and ``chunk`` with it in the same write."""
        if self._response_started:
            raise HTTPOutputError("write_headers called twice")
        if not isinstance(start_line, ResponseStartLine):
            raise TypeError("a server writes a ResponseStartLine")
        request_version = self.start_line.version
        fields = headers._lists  # canonical names: see on_headers_complete
        length = fields.get("Content-Length")
        if length is not None and start_line.code == 304:
            # A 304's Content-Length describes the representation it
            # stands for (RFC 9110 section 8.6); the 304 has no body.
            pass
        elif length is not None:
            # RFC 9110 §8.6: 1*DIGIT; int() would also take "+5", "1_0" or
            # other scripts' digits. (One strip is the cheapest check.)
            value = length[-1]
            if not value or value.strip("0123456789"):
                raise HTTPOutputError(f"Only integer Content-Length is allowed: {value}")
            self._expected_length = int(value)
        elif "Transfer-Encoding" not in fields:
            code = start_line.code
            # RFC 9110 §6.4.1: 1xx, 204 and 304 responses (and any answer to
            # HEAD) carry no body; nor do they need framing.
            if not (code in (204, 304) or 100 <= code < 200 or self._head_request):
                if request_version == "HTTP/1.1":
                    self._chunked = True
                    fields["Transfer-Encoding"] = ["chunked"]
                else:
                    # An HTTP/1.0 response of unknown length ends when we close.
                    self._close_after = True
        if self._close_after:
            if request_version == "HTTP/1.1":
                headers["Connection"] = "close"
            elif "Connection" in fields:
                del headers["Connection"]
        elif request_version == "HTTP/1.0":
            headers["Connection"] = "Keep-Alive"
        if "Date" not in fields:
            fields["Date"] = [heads.http_date()]
        if "Server" not in fields:
            fields["Server"] = [_SERVER_HEADER]
        try:
            head = heads.format_response_head(start_line, fields)
        except heads.InvalidHead as e:  # header injection, caught before a byte is sent
            raise HTTPOutputError(str(e)) from None
        self._response_started = True
        if chunk and not self._head_request:
            head += self._frame(chunk)
        return self._protocol.write(head)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        """Send a piece of the response body (framed if chunked); before
        any ``write_headers``, raw bytes that include the head."""
        if not self._response_started:
            # Tornado's oldest interface: a callback writes the whole
            # response, head included, as bytes; they go out as they are.
            self._response_started = True
            return self._protocol.write(chunk)
        if self._response_finished:
            raise HTTPOutputError("write called after finish")
        if not chunk or self._head_request:
            return self._protocol.write(b"")
        return self._protocol.write(self._frame(chunk))

    def finish(self) -> None:
        """End the response; the next pipelined request may now be answered."""
        if self._response_finished:
            return
        if not self._response_started:
            raise HTTPOutputError("finish called before write_headers")
        if (
            self._expected_length is not None
            and self._written < self._expected_length
            and not self._head_request
        ):
            if self._protocol._life is CLOSED:
                # The client left mid-response: nothing to frame, nobody
                # to tell. Not an application error (the documented
                # pattern is to catch StreamClosedError and return, which
                # lands here).
                self._response_finished = True
                self._close_callback = None
                return
            self._protocol.abort()
            raise HTTPOutputError(
                f"Tried to write {self._expected_length - self._written} bytes less "
                "than Content-Length"
            )
        self._response_finished = True
        if self._chunked:
            self._protocol.write(heads.LAST_CHUNK)
        self._close_callback = None
        self._protocol.response_finished(self)

    async def sendfile(self, file: Any, offset: int, count: int) -> int | None:
        """Send ``count`` bytes of ``file`` from ``offset`` as response body,
        copied by the kernel (``os.sendfile``) instead of through Python.

        Returns the bytes sent, or None when this connection cannot do it
        (TLS, chunked framing, HEAD, no sendfile on this OS): the caller
        then writes the bytes itself. Waits for the head and any earlier
        body to leave first, so the bytes go out in order.
        """
        protocol = self._protocol
        transport = protocol.transport
        sendfile = getattr(os, "sendfile", None)
        if (
            sendfile is None
            or transport is None
            or transport.is_closing()
            or self._chunked
            or self._head_request
            or transport.get_extra_info("sslcontext") is not None
        ):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None or not self._response_started or self._response_finished:
            return None
        if self._expected_length is not None and self._written + count > self._expected_length:
            raise HTTPOutputError("Tried to write more data than Content-Length")
        self._written += count
        from squall.iostream import StreamClosedError

        loop = protocol._loop
        # Readiness is watched on a duplicate descriptor: the transport's own
        # is registered with the loop already (uvloop refuses a second
        # watcher on it), and both see the same socket.
        watch_fd = os.dup(sock.fileno())
        sock_fd = sock.fileno()

        def writable() -> asyncio.Future[None]:
            waiter: asyncio.Future[None] = loop.create_future()

            def ready() -> None:
                loop.remove_writer(watch_fd)
                if not waiter.done():
                    waiter.set_result(None)

            loop.add_writer(watch_fd, ready)
            return waiter

        sent = 0
        try:
            while transport.get_write_buffer_size():
                await writable()
            while sent < count:
                if transport.is_closing():
                    raise StreamClosedError()
                try:
                    n = sendfile(sock_fd, file.fileno(), offset + sent, count - sent)
                except BlockingIOError:
                    await writable()
                    continue
                except OSError as e:
                    protocol.abort()
                    raise StreamClosedError(real_error=e) from e
                if n == 0:  # the file is shorter than promised
                    protocol.abort()
                    raise HTTPOutputError("File ended before Content-Length was sent")
                sent += n
        finally:
            loop.remove_writer(watch_fd)
            os.close(watch_fd)
        return sent

    @property
    def stream(self) -> ConnectionStream:
        """The connection under this request, as far as a handler asks about
        it: ``closed()`` and ``set_close_callback()`` (Tornado programs reach
        them as ``request.connection.stream``)."""
        return ConnectionStream(self._protocol)

    def detach(self) -> Any:
        """Hand the raw connection to the caller as an IOStream.

        The HTTP protocol stops serving it; bytes already received beyond
        this request are given to the stream first.
        """
        return self._protocol.detach(self)

    # -- helpers ---------------------------------------------------------------

    def _frame(self, chunk: bytes) -> bytes:
        self._written += len(chunk)
        if self._expected_length is not None and self._written > self._expected_length:
            self._protocol.abort()
            raise HTTPOutputError("Tried to write more data than Content-Length")
        if self._chunked:
            return heads.frame_chunk(chunk)
        return chunk

    def _connection_lost(self) -> None:
        # One of the two hears of it, as in Tornado: the delegate while its
        # request is still arriving, the close callback once it has (a
        # handler registers it, and its delegate would tell it again).
        callback, self._close_callback = self._close_callback, None
        if not self._request_complete:
            if self.delegate is not None and not self._response_finished:
                try:
                    self.delegate.on_connection_close()
                except Exception:
                    app_log.error("Uncaught exception in on_connection_close", exc_info=True)
        elif callback is not None:
            try:
                callback()
            except Exception:
                app_log.error("Uncaught exception in close callback", exc_info=True)


class ConnectionStream:
    """What ``request.connection.stream`` offers on a server connection.

    Squall serves HTTP/1 from an asyncio protocol, not an IOStream; this
    view answers what handlers ask of the stream: has the client gone,
    tell me when it goes, close it, and write raw bytes to it.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: HTTP1ServerProtocol) -> None:
        self._protocol = protocol

    def closed(self) -> bool:
        """True once the connection is closed or closing (either side)."""
        protocol = self._protocol
        transport = protocol.transport
        return protocol._life is CLOSED or transport is None or transport.is_closing()

    def close(self) -> None:
        """Drop the connection now, unsent output included (what closing
        Tornado's stream does)."""
        self._protocol.abort()

    def write(self, data: bytes) -> asyncio.Future[None]:
        """Send raw bytes on the connection (an interim ``100 Continue`` a
        handler writes itself, say); resolves once they are handed to the
        transport's buffer, or later under backpressure."""
        return self._protocol.write(data)

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` (no arguments) when the connection closes; if it
        is already closed, soon. ``None`` removes the callback."""
        protocol = self._protocol
        if callback is not None and protocol._life is CLOSED:
            protocol._loop.call_soon(callback)
            return
        protocol._stream_close_callback = callback
