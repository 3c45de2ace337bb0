"""The application's side of a hosted WSGI call (PEP 3333's server role).

``run_application`` runs on a worker thread: it calls the application,
implements ``start_response`` (with its ``exc_info`` rules) and the
``write()`` callable, and passes the response to the event loop through
a ``ResponseSink`` as it is produced. It waits for the loop only when more
than ``WRITE_WINDOW`` bytes are still on their way to the socket, which is
the back-pressure a slow client puts on a fast producer.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import stat
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from squall.httputil import HTTPHeaders, ResponseStartLine
from squall.log import app_log
from squall.wsgi._errors import ClientDisconnected
from squall.wsgi._input import LOOP_CHECK_INTERVAL

__all__ = ["WRITE_WINDOW", "FileWrapper", "ResponseSink", "run_application"]

# Response bytes handed to the loop but not yet to the socket before the
# application's thread waits: a few of the 64 KiB chunks a socket takes
# in one send, enough to keep it busy while the application produces more.
WRITE_WINDOW = 256 * 1024

# PEP 3333's suggested block size for wsgi.file_wrapper reads.
FILE_BLOCK_SIZE = 8192

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class ResponseSink(Protocol):
    """Where a worker sends the response (the loop side of the exchange)."""

    method: str

    def send(
        self,
        head: tuple[ResponseStartLine, HTTPHeaders] | None,
        chunk: bytes,
        finish: bool,
    ) -> concurrent.futures.Future[None]: ...

    def send_file(
        self, head: tuple[ResponseStartLine, HTTPHeaders], file: Any, offset: int, count: int
    ) -> concurrent.futures.Future[int | None] | None: ...

    def abort(self) -> None: ...

    def loop_closed(self) -> bool: ...


def _wait_for(future: concurrent.futures.Future[Any], sink: ResponseSink) -> Any:
    """The future's result, or ClientDisconnected if the loop that was to
    resolve it has closed (a server torn down under the application)."""
    while True:
        try:
            return future.result(timeout=LOOP_CHECK_INTERVAL)
        except concurrent.futures.TimeoutError:
            if sink.loop_closed():
                raise ClientDisconnected("the server's event loop stopped") from None


class FileWrapper:
    """``wsgi.file_wrapper``: a file the server may send without copying.

    Iterating reads ``blksize`` blocks; the container sends a regular file
    with ``sendfile`` instead when the connection allows it. ``close()``
    closes the file, as PEP 3333 asks.
    """

    def __init__(self, filelike: Any, blksize: int = FILE_BLOCK_SIZE) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> FileWrapper:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if data:
            return bytes(data)
        raise StopIteration

    def close(self) -> None:
        """Close the file (PEP 3333: the server calls this when done)."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


def _check_status(status: Any) -> tuple[int, str]:
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be a str, not {type(status).__name__}")
    code, _, reason = status.partition(" ")
    if len(code) != 3 or not code.isdigit() or not reason or "\r" in status or "\n" in status:
        raise ValueError(f"malformed WSGI status {status!r}: expected e.g. '200 OK'")
    return int(code), reason


# Connection-level headers are the server's business (PEP 3333 forbids
# applications to send them; RFC 9110 §7.6.1): an application's
# "Transfer-Encoding: chunked" would otherwise break our framing. Dropped,
# as gunicorn does.
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)


def _check_headers(headers: Any) -> HTTPHeaders:
    if not isinstance(headers, list):
        raise TypeError(f"WSGI response headers must be a list, not {type(headers).__name__}")
    result = HTTPHeaders()
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"WSGI response header {item!r} is not a (name, value) tuple")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"WSGI response header {item!r} must be two strs")
        # A CR or LF would start a new header line on the wire (injection).
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise ValueError(f"invalid character in WSGI response header {item!r}")
        if name.lower() not in _HOP_BY_HOP:
            result.add(name, value)
    return result


def _has_body(code: int, method: str) -> bool:
    # RFC 9110 §6.4.1: no content in 1xx, 204 and 304 responses or for HEAD.
    return not (code < 200 or code in (204, 304) or method == "HEAD")


class _Response:
    """State of one response as the application builds it."""

    def __init__(self, sink: ResponseSink) -> None:
        self.sink = sink
        self.status: tuple[int, str] | None = None
        self.headers: HTTPHeaders | None = None
        self.head_sent = False
        self.finished = False
        self.known_length: int | None = None
        self._pending: collections.deque[tuple[concurrent.futures.Future[None], int]] = (
            collections.deque()
        )
        self._pending_bytes = 0

    @property
    def code(self) -> int:
        return self.status[0] if self.status else 0

    # -- PEP 3333 callables ----------------------------------------------------

    def start_response(
        self, status: str, response_headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    # Too late to change the response: PEP 3333 says re-raise.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise RuntimeError("start_response called a second time without exc_info")
        parsed_status = _check_status(status)
        self.headers = _check_headers(response_headers)
        self.status = parsed_status
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()`` callable: sends ``data`` before returning."""
        if self.status is None:
            raise RuntimeError("write() called before start_response")
        self.write_body(data)

    # -- sending ---------------------------------------------------------------

    def _head(self) -> tuple[ResponseStartLine, HTTPHeaders]:
        if self.status is None or self.headers is None:
            raise RuntimeError("the WSGI application did not call start_response")
        code, reason = self.status
        headers = self.headers
        if _has_body(code, "GET"):
            if "Content-Type" not in headers:
                # Tornado's WSGIContainer default, kept for compatibility.
                headers["Content-Type"] = "text/html; charset=UTF-8"
            if self.known_length is not None and "Content-Length" not in headers:
                headers["Content-Length"] = str(self.known_length)
        self.head_sent = True
        return ResponseStartLine("HTTP/1.1", code, reason), headers

    def write_body(self, data: bytes, finish: bool = False) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"WSGI response data must be bytes, not {type(data).__name__}")
        if not data and not finish:
            return  # PEP 3333: no head before the first non-empty chunk
        head = None if self.head_sent else self._head()
        future = self.sink.send(head, bytes(data), finish)
        self.finished = finish
        self._pending.append((future, len(data)))
        self._pending_bytes += len(data)
        self._drain(WRITE_WINDOW)

    def _drain(self, window: int) -> None:
        """Wait for the oldest writes until at most ``window`` bytes are pending."""
        pending = self._pending
        while pending and (self._pending_bytes > window or pending[0][0].done()):
            future, size = pending.popleft()
            self._pending_bytes -= size
            _wait_for(future, self.sink)  # raises ClientDisconnected if the client left

    def finish(self) -> None:
        if not self.finished:
            self.write_body(b"", finish=True)

    def send_file(self, wrapper: FileWrapper) -> bool:
        """Send a wrapped regular file with sendfile; False to iterate it instead."""
        fileno = getattr(wrapper.filelike, "fileno", None)
        tell = getattr(wrapper.filelike, "tell", None)
        if fileno is None or tell is None or self.head_sent or self.status is None:
            return False
        try:
            fd = fileno()
            info = os.fstat(fd)
            offset = tell()
        except (OSError, ValueError):
            return False
        if not stat.S_ISREG(info.st_mode) or not _has_body(self.code, "GET"):
            return False
        count = max(0, info.st_size - offset)
        assert self.headers is not None
        declared = self.headers.get("Content-Length")
        if declared is not None:
            try:
                count = min(count, int(declared))
            except ValueError:
                return False
        self.known_length = count
        if self.sink.method == "HEAD":
            self.write_body(b"", finish=True)  # the head, with the file's length
            return True
        head = self._head()
        future = self.sink.send_file(head, wrapper.filelike, offset, count)
        if future is None:
            self.head_sent = False
            return False
        sent = _wait_for(future, self.sink)
        if sent is None:
            # The connection cannot sendfile (TLS...): the head went out
            # alone; the caller streams the body.
            return False
        self.finished = True
        return True


def run_application(
    application: Callable[..., Iterable[bytes]], environ: dict[str, Any], sink: ResponseSink
) -> int:
    """Run one WSGI call and send its response; returns the status code."""
    response = _Response(sink)
    try:
        result = application(environ, response.start_response)
        try:
            if isinstance(result, FileWrapper) and response.send_file(result):
                return response.code
            if isinstance(result, (list, tuple)):
                response.known_length = sum(len(chunk) for chunk in result)
                if response.status is not None and not response.head_sent:
                    response.write_body(b"".join(result), finish=True)
                    return response.code
            for chunk in result:
                response.write_body(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not response.head_sent and response.known_length is None:
            response.known_length = 0
        # Not waiting for the last bytes to reach the socket frees the
        # thread sooner; a client gone by then has nobody left to tell.
        response.finish()
        return response.code
    except ClientDisconnected:
        sink.abort()
        return response.code
    except Exception:
        app_log.error("Uncaught exception in WSGI application %r", application, exc_info=True)
        if response.head_sent:
            # Part of the response is out: cut the connection so the client
            # sees it incomplete rather than trusting a truncated body.
            sink.abort()
            return response.code
        response.status = None
        body = (
            b"<html><title>500: Internal Server Error</title>"
            b"<body>500: Internal Server Error</body></html>"
        )
        response.start_response("500 Internal Server Error", [])
        response.known_length = len(body)
        try:
            response.write_body(body, finish=True)
            response._drain(0)
        except ClientDisconnected:
            pass
        return 500
