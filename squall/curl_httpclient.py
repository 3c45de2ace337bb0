"""``CurlAsyncHTTPClient``: ``AsyncHTTPClient`` on libcurl (pycurl).

Install the ``curl`` extra (``pip install squall[curl]``), then::

    AsyncHTTPClient.configure("squall.curl_httpclient.CurlAsyncHTTPClient")

One curl multi handle per client is driven by the IOLoop: curl tells the
client which sockets to watch (``IOLoop.add_handler``) and when to wake it
(``call_later``); no thread is involved. ``max_clients`` easy handles run
at once, the other requests wait in order, the wait counting in their
``request_timeout``. curl keeps connections alive itself.

Redirects are followed by this module, not by curl, with the simple
client's rules (303 and POST-on-301/302 become GET, credentials dropped
across origins, only http/https targets), so both backends behave alike;
so are the request checks (CR/LF in headers, methods and bodies, URLs),
``max_header_size`` and ``max_body_size`` (counted after decompression).

A ``streaming_callback`` gets the body through ``_CurlStreamingBuffer`` (the
name and the behaviour of Tornado's): chunks are handed over on the IOLoop,
not inside curl's callback, and curl is paused while more than
``max_buffer_size`` bytes wait, so a slow consumer holds back the download
rather than filling memory. As in Tornado, the callback must be a plain
function (a coroutine function is refused with ``TypeError``), and an
exception it raises is logged, not made the fetch's error.

Errors (all delivered as ``HTTPResponse.error``, code 599)::

    httpclient.HTTPClientError
        CurlError                   any other curl failure; ``errno`` is
                                    curl's code, ``curl_message`` its text
            CurlTimeoutError        also simple_httpclient.HTTPTimeoutError
            CurlStreamClosedError   also simple_httpclient.HTTPStreamClosedError
            CurlConnectionError     also httpclient.HTTPConnectionError (OSError)
"""

from __future__ import annotations

import asyncio
import collections
import functools
import io
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pycurl

from squall import version
from squall._client_auth import parse_digest_challenge
from squall._curl_request import _body_to_send, _check_request, _credential, _header_lines
from squall._curl_streaming import _CurlStreamingBuffer
from squall.httpclient import (
    NETWORK_ERROR_CODE,
    AsyncHTTPClient,
    HTTPClientError,
    HTTPConnectionError,
    HTTPRequest,
    HTTPResponse,
    _RequestProxy,
)
from squall.httputil import HTTPHeaders, HTTPInputError
from squall.ioloop import IOLoop
from squall.log import app_log
from squall.simple_httpclient import (
    _REDIRECT_CODES,
    DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_HEADER_SIZE,
    HTTPStreamClosedError,
    HTTPTimeoutError,
    _redirected_request,
)

__all__ = [
    "CurlAsyncHTTPClient",
    "CurlConnectionError",
    "CurlError",
    "CurlStreamClosedError",
    "CurlTimeoutError",
]

# A body held in memory is bounded like the simple client's buffer: 100 MiB
# (Tornado's max_buffer_size).
DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024
# Interim (1xx) answers tolerated before the final one: the simple client's 10.
MAX_INFORMATIONAL_RESPONSES = 10
# Content codings libcurl decodes when asked to (CURLOPT_ACCEPT_ENCODING);
# the header naming them moves to X-Consumed-Content-Encoding, as in the
# simple client.
_CURL_DECODED = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})

# curl's failures grouped by what they mean to the caller.
_CONNECT_ERRORS = frozenset(
    {
        pycurl.E_COULDNT_RESOLVE_PROXY,
        pycurl.E_COULDNT_RESOLVE_HOST,
        pycurl.E_COULDNT_CONNECT,
        pycurl.E_SSL_CONNECT_ERROR,
        pycurl.E_INTERFACE_FAILED,
        pycurl.E_SSL_CERTPROBLEM,
        pycurl.E_SSL_CIPHER,
        pycurl.E_PEER_FAILED_VERIFICATION,
        pycurl.E_SSL_CACERT_BADFILE,
        pycurl.E_SSL_CRL_BADFILE,
        pycurl.E_SSL_ISSUER_ERROR,
        pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
        pycurl.E_SSL_INVALIDCERTSTATUS,
    }
)
_CLOSED_ERRORS = frozenset(
    {pycurl.E_GOT_NOTHING, pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR, pycurl.E_PARTIAL_FILE}
)

# CURLE_WEIRD_SERVER_REPLY (pycurl has no name for it): an unparsable answer.
_E_WEIRD_SERVER_REPLY = 8
# RFC 9110 §9.2.2: only these may be retried automatically. libcurl resends
# a request whose reused connection died before any answer, whatever its
# method, so the others always get a fresh connection.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# curl's socket wishes as IOLoop events.
_POLL_EVENTS = {
    pycurl.POLL_NONE: IOLoop.NONE,
    pycurl.POLL_IN: IOLoop.READ,
    pycurl.POLL_OUT: IOLoop.WRITE,
    pycurl.POLL_INOUT: IOLoop.READ | IOLoop.WRITE,
}


class CurlError(HTTPClientError):
    """curl failed (599); ``errno`` is the CURLE_* code."""

    # Typed as OSError's, which CurlConnectionError also is.
    errno: int | None

    def __init__(self, errno: int, message: str) -> None:
        HTTPClientError.__init__(self, NETWORK_ERROR_CODE, message)
        self.errno = errno
        self.curl_message = message


class CurlTimeoutError(CurlError, HTTPTimeoutError):
    """A timeout (CURLE_OPERATION_TIMEDOUT or the request queue), worded as
    the simple client words it; curl's own text is in ``curl_message``."""

    def __init__(self, errno: int, message: str, curl_message: str = "") -> None:
        super().__init__(errno, message)
        self.curl_message = curl_message or message


class CurlStreamClosedError(CurlError, HTTPStreamClosedError):
    """The connection closed before the response was complete."""


class CurlConnectionError(CurlError, HTTPConnectionError):
    """Resolving, connecting or the TLS handshake failed (an OSError too)."""

    real_error: BaseException | None = None


class _Transfer:
    """One request on one curl handle: what curl reports as it goes."""

    def __init__(
        self,
        job: _Job,
        request: Any,
        max_header_size: int,
        max_body_size: int,
        streaming: _CurlStreamingBuffer | None = None,
    ) -> None:
        self.job = job
        self.request = request
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self.streaming = streaming
        self.buffer = io.BytesIO()
        self.headers = HTTPHeaders()
        self.header_lines: list[str] = []
        self.code = 0
        self.reason = ""
        self.head_size = 0
        self.interim = 0
        self.body_size = 0
        # The head being read is one this client answers itself (an interim,
        # a redirect to follow, a digest challenge): callbacks skip it.
        self.intermediate = False
        self.digest_challenged = False
        self.redirect_location: str | None = None
        self.error: BaseException | None = None

    def on_header(self, raw: bytes) -> int | None:
        try:
            self._header_line(raw.decode("latin-1"))
        except Exception as e:  # delivered as the fetch's error
            self.error = e
            return 0  # tells curl to abort
        return None

    def _header_line(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self._status_line(line)
            return
        self.head_size += len(line)
        if self.head_size > self.max_header_size:
            raise HTTPClientError(
                NETWORK_ERROR_CODE,
                f"response header block larger than max_header_size ({self.max_header_size})",
            )
        self.header_lines.append(line)
        if line not in ("\r\n", "\n"):
            try:
                self.headers.parse_line(line)
            except HTTPInputError as e:
                raise HTTPClientError(NETWORK_ERROR_CODE, f"malformed HTTP response: {e}") from None
            return
        self._head_complete()

    def _status_line(self, line: str) -> None:
        parts = line.rstrip("\r\n").split(" ", 2)
        try:
            self.code = int(parts[1])
        except (IndexError, ValueError):
            raise HTTPClientError(
                NETWORK_ERROR_CODE, f"malformed HTTP response: status line {line!r}"
            ) from None
        if self.code == 101:
            raise HTTPClientError(NETWORK_ERROR_CODE, "unexpected 101 Switching Protocols")
        if self.code < 200:
            self.interim += 1
            if self.interim > MAX_INFORMATIONAL_RESPONSES:
                raise HTTPClientError(
                    NETWORK_ERROR_CODE, f"more than {MAX_INFORMATIONAL_RESPONSES} 1xx responses"
                )
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = HTTPHeaders()
        self.header_lines = [line]
        self.head_size = len(line)
        self.redirect_location = None
        self.intermediate = True  # until the head is complete

    def _head_complete(self) -> None:
        request = self.request
        location = self.headers.get("Location")
        if self.code < 200:
            return
        if (
            self.code in _REDIRECT_CODES
            and location is not None
            and request.follow_redirects
            and self.job.redirects_left > 0
        ):
            self.redirect_location = location
            return
        if (
            self.code == 401
            and not self.digest_challenged
            and request.auth_username is not None
            and request.auth_mode == "digest"
            and "Authorization" not in request.headers
            and parse_digest_challenge(self.headers.get("WWW-Authenticate", "")) is not None
        ):
            self.digest_challenged = True  # curl answers this one itself
            return
        self.intermediate = False
        if request.decompress_response:
            coding = self.headers.get("Content-Encoding", "")
            if coding.lower() in _CURL_DECODED:
                self.headers["X-Consumed-Content-Encoding"] = coding
                del self.headers["Content-Encoding"]
        callback = request.header_callback
        if callback is not None:
            for header_line in self.header_lines:
                try:
                    callback(header_line)
                except Exception:
                    # As Tornado: the caller's error is logged, the fetch goes on.
                    line_callback = functools.partial(callback, header_line)
                    app_log.error("Exception in callback %r", line_callback, exc_info=True)

    def on_body(self, data: bytes) -> int | None:
        if self.intermediate:
            return None
        if self.streaming is not None:
            return self.streaming.write(data)
        self.body_size += len(data)
        if self.body_size > self.max_body_size:
            self.error = _body_too_large(self.max_body_size)
            return 0
        self.buffer.write(data)
        return None


class _Job:
    """A fetch across its hops (redirects)."""

    def __init__(
        self,
        request: Any,
        callback: Callable[[HTTPResponse], None],
        started: float,
        start_time: float,
    ) -> None:
        self.original: HTTPRequest = request.request
        self.current: HTTPRequest = request.request
        self.redirects_left: int = request.max_redirects
        self.callback = callback
        self.started = started  # loop clock, for timeouts
        self.start_time = start_time  # wall clock, for request_time
        self.hop_started = started
        self.queued_for = 0.0
        self.queue_timer: asyncio.TimerHandle | None = None


class CurlAsyncHTTPClient(AsyncHTTPClient):
    """``AsyncHTTPClient`` on libcurl: ``max_clients`` transfers at once.

    ``max_header_size`` (default 64 KiB) bounds a response head,
    ``max_body_size`` (default 100 MiB) a body after decompression: squall
    extensions shared with the simple client.
    """

    def initialize(  # type: ignore[override]
        self,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        defaults: dict[str, Any] | None = None,
        max_header_size: int | None = None,
        max_body_size: int | None = None,
    ) -> None:
        self.max_body_size = max_body_size or DEFAULT_MAX_BODY_SIZE
        self.max_header_size = max_header_size or DEFAULT_MAX_HEADER_SIZE
        self.max_clients = max_clients
        super().initialize(defaults=defaults)
        self._loop = self.io_loop.asyncio_loop
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._set_timer)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._watch_socket)
        self._handles = [pycurl.Curl() for _ in range(max_clients)]
        self._free = list(self._handles)
        self._running: dict[pycurl.Curl, _Transfer] = {}
        self._queue: collections.deque[_Job] = collections.deque()
        self._fds: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        """Stop watching curl's sockets and free the handles. Requests still
        queued or running fail with a 599 ("client closed")."""
        if self._closed:
            return
        super().close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        abandoned = list(self._queue)
        for job in self._queue:
            if job.queue_timer is not None:
                job.queue_timer.cancel()
        self._queue.clear()
        for curl, transfer in list(self._running.items()):
            self._multi.remove_handle(curl)
            abandoned.append(transfer.job)
        self._running.clear()
        for fd in list(self._fds):
            self.io_loop.remove_handler(fd)
        self._fds.clear()
        for curl in self._handles:
            curl.close()
        self._multi.close()
        for job in abandoned:
            self._fail(job, HTTPClientError(NETWORK_ERROR_CODE, "client closed"))

    # -- scheduling --------------------------------------------------------------

    def fetch_impl(self, request: HTTPRequest, callback: Callable[[HTTPResponse], None]) -> None:
        job = _Job(request, callback, self._loop.time(), time.time())
        self._start_hop(job)

    def _start_hop(self, job: _Job) -> None:
        request = _RequestProxy(job.current, self.defaults)
        try:
            _check_request(request)
        except Exception as e:
            self._fail(job, e)
            return
        if self._free and not self._queue:
            self._begin(job, self._free.pop())
            return
        timeout = _min_timeout(request.connect_timeout, request.request_timeout)
        if timeout is not None:
            job.queue_timer = self._loop.call_later(timeout, self._queue_timeout, job)
        self._queue.append(job)

    def _queue_timeout(self, job: _Job) -> None:
        job.queue_timer = None
        self._queue.remove(job)
        self._fail(job, CurlTimeoutError(pycurl.E_OPERATION_TIMEDOUT, "Timeout in request queue"))

    def _next_from_queue(self) -> None:
        while self._free and self._queue:
            job = self._queue.popleft()
            if job.queue_timer is not None:
                job.queue_timer.cancel()
                job.queue_timer = None
            job.queued_for += self._loop.time() - job.hop_started
            self._begin(job, self._free.pop())

    def _begin(self, job: _Job, curl: pycurl.Curl) -> None:
        request = _RequestProxy(job.current, self.defaults)
        callback = request.streaming_callback
        streaming = None if callback is None else _CurlStreamingBuffer(self, curl, callback)
        transfer = _Transfer(job, request, self.max_header_size, self.max_body_size, streaming)
        try:
            self._configure(curl, request, transfer, job)
        except Exception as e:
            self._free.append(curl)
            self._fail(job, e)
            return
        self._running[curl] = transfer
        self._multi.add_handle(curl)  # curl asks for a 0 ms timer: it starts there

    # -- curl's callbacks, driven by the IOLoop -----------------------------------

    def _watch_socket(self, event: int, fd: int, multi: Any, data: Any) -> None:
        if event == pycurl.POLL_REMOVE:
            if self._fds.pop(fd, None) is not None:
                self.io_loop.remove_handler(fd)
            return
        events = _POLL_EVENTS[event]
        if fd in self._fds:
            self.io_loop.update_handler(fd, events)
        else:
            self.io_loop.add_handler(fd, self._on_socket_ready, events)
        self._fds[fd] = events

    def _set_timeout(self, msecs: int) -> None:
        """Ask for curl's socket handling after ``msecs`` (Tornado's name:
        ``_CurlStreamingBuffer`` calls it after unpausing a transfer)."""
        self._set_timer(msecs)

    def _set_timer(self, msecs: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if msecs >= 0:
            self._timer = self._loop.call_later(msecs / 1000.0, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _on_socket_ready(self, fd: int, events: int) -> None:
        action = pycurl.CSELECT_IN if events & IOLoop.READ else pycurl.CSELECT_OUT
        self._act(fd, action)

    def _act(self, fd: int, action: int) -> None:
        if self._closed:
            return
        while True:
            result, _running = self._multi.socket_action(fd, action)
            if result != pycurl.E_CALL_MULTI_PERFORM:
                break
        self._collect_finished()

    def _collect_finished(self) -> None:
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for curl in succeeded:
                self._finish(curl, 0, "")
            for curl, errno, message in failed:
                self._finish(curl, errno, message)
            if queued == 0:
                break

    # -- results -------------------------------------------------------------------

    def _finish(self, curl: pycurl.Curl, errno: int, message: str) -> None:
        transfer = self._running.pop(curl)
        self._multi.remove_handle(curl)
        job = transfer.job
        request = transfer.request
        time_info = _time_info(curl, job.queued_for)
        connected = curl.getinfo(pycurl.CONNECT_TIME) > 0 and (
            not job.current.url.lower().startswith("https:")
            or curl.getinfo(pycurl.APPCONNECT_TIME) > 0
        )
        code = curl.getinfo(pycurl.RESPONSE_CODE)
        curl.reset()
        self._free.append(curl)
        self._next_from_queue()
        streaming = transfer.streaming
        if streaming is not None and streaming.body_too_large:
            self._fail(job, _body_too_large(self.max_body_size), time_info)
        elif transfer.error is not None:
            self._fail(job, transfer.error, time_info)
        elif errno:
            self._fail(job, _curl_error(errno, message, connected, request), time_info)
        elif transfer.redirect_location is not None:
            try:
                job.current = _redirected_request(
                    job.current, transfer.code, transfer.redirect_location
                )
            except ValueError:
                # A scheme other than http(s): refused as libcurl (and so
                # Tornado's curl client) refuses it.
                target = urllib.parse.urljoin(job.current.url, transfer.redirect_location)
                scheme = urllib.parse.urlsplit(target).scheme.lower()
                error = CurlError(
                    pycurl.E_UNSUPPORTED_PROTOCOL, f'Protocol "{scheme}" is disabled (in redirect)'
                )
                self._fail(job, error, time_info)
                return
            except Exception as e:
                self._fail(job, e, time_info)
                return
            job.redirects_left -= 1
            job.hop_started = self._loop.time()
            self._start_hop(job)
        else:
            if streaming is not None:
                try:
                    streaming.finish()
                except Exception:
                    # As Tornado: logged, and the response still delivered.
                    callback = streaming.callback
                    app_log.error("Exception in callback %r", callback, exc_info=True)
            transfer.buffer.seek(0)
            response = HTTPResponse(
                job.original,
                code or transfer.code,
                reason=transfer.reason.strip() or None,
                headers=transfer.headers,
                buffer=None if request.streaming_callback else transfer.buffer,
                effective_url=job.current.url,
                request_time=time.time() - job.start_time,
                start_time=job.start_time,
                time_info=time_info,
            )
            job.callback(response)

    def _fail(
        self, job: _Job, error: BaseException, time_info: dict[str, float] | None = None
    ) -> None:
        job.callback(
            HTTPResponse(
                job.original,
                NETWORK_ERROR_CODE,
                error=error,
                effective_url=job.current.url,
                request_time=time.time() - job.start_time,
                start_time=job.start_time,
                time_info=time_info,
            )
        )

    # -- options ---------------------------------------------------------------------

    def _configure(self, curl: pycurl.Curl, request: Any, transfer: _Transfer, job: _Job) -> None:
        curl.setopt(pycurl.URL, request.url)
        curl.setopt(pycurl.NOSIGNAL, 1)
        # Redirects are this module's (see the module docstring); only
        # http(s) is ever spoken.
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        # HTTP/1.1 like the simple client (libcurl would negotiate h2 by ALPN).
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        if request.method not in _IDEMPOTENT_METHODS:
            curl.setopt(pycurl.FRESH_CONNECT, 1)
        curl.setopt(pycurl.HEADERFUNCTION, transfer.on_header)
        curl.setopt(pycurl.WRITEFUNCTION, transfer.on_body)
        self._set_timeouts(curl, request, job)
        self._set_method_and_body(curl, request)
        curl.setopt(pycurl.HTTPHEADER, _header_lines(request))
        curl.setopt(pycurl.USERAGENT, request.user_agent or f"squall/{version}")
        if request.decompress_response:
            curl.setopt(pycurl.ACCEPT_ENCODING, "gzip")
        self._set_auth(curl, request)
        self._set_proxy(curl, request)
        self._set_tls(curl, request)
        if request.network_interface:
            curl.setopt(pycurl.INTERFACE, request.network_interface)
        if request.allow_ipv6 is False:
            curl.setopt(pycurl.IPRESOLVE, pycurl.IPRESOLVE_V4)
        if request.prepare_curl_callback is not None:
            request.prepare_curl_callback(curl)

    def _set_timeouts(self, curl: pycurl.Curl, request: Any, job: _Job) -> None:
        if request.connect_timeout:
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(1000 * request.connect_timeout)))
        if request.request_timeout:
            # The time spent queued counts (the simple client's rule).
            remaining = job.hop_started + request.request_timeout - self._loop.time()
            curl.setopt(pycurl.TIMEOUT_MS, max(1, int(1000 * remaining)))

    @staticmethod
    def _set_method_and_body(curl: pycurl.Curl, request: Any) -> None:
        method = request.method
        body: bytes | None = _body_to_send(request)
        if method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        elif method == "GET" and body is None:
            curl.setopt(pycurl.HTTPGET, 1)
        if method not in ("GET", "HEAD", "POST") or (method == "GET" and body is not None):
            curl.setopt(pycurl.CUSTOMREQUEST, method)
        if body is not None:
            curl.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
            curl.setopt(pycurl.COPYPOSTFIELDS, body)

    @staticmethod
    def _set_auth(curl: pycurl.Curl, request: Any) -> None:
        username = request.auth_username
        if username is None or "Authorization" in request.headers:
            return
        mode = request.auth_mode or "basic"
        if mode == "basic":
            curl.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_BASIC)
        elif mode == "digest":
            curl.setopt(pycurl.HTTPAUTH, pycurl.HTTPAUTH_DIGEST)
        else:
            raise ValueError(f"unsupported auth_mode {mode}")
        # pycurl takes str as ASCII only; credentials go as UTF-8 after NFC
        # normalization (RFC 7617 section 2.1), as the simple client sends them.
        curl.setopt(pycurl.USERNAME, _credential(username))
        curl.setopt(pycurl.PASSWORD, _credential(request.auth_password or ""))

    @staticmethod
    def _set_proxy(curl: pycurl.Curl, request: Any) -> None:
        if not request.proxy_host:
            # Not the environment's proxy either: only what the request says.
            curl.setopt(pycurl.PROXY, "")
            return
        curl.setopt(pycurl.PROXY, request.proxy_host)
        curl.setopt(pycurl.PROXYPORT, int(request.proxy_port))
        if request.proxy_username:
            curl.setopt(pycurl.PROXYAUTH, pycurl.HTTPAUTH_BASIC)
            curl.setopt(pycurl.PROXYUSERNAME, request.proxy_username)
            curl.setopt(pycurl.PROXYPASSWORD, request.proxy_password or "")

    @staticmethod
    def _set_tls(curl: pycurl.Curl, request: Any) -> None:
        if request.ssl_options is not None:
            raise ValueError(
                "ssl_options is not supported by CurlAsyncHTTPClient; "
                "use validate_cert, ca_certs, client_cert and client_key"
            )
        # libcurl wants VERIFYHOST=2 (name must match) when checking at all.
        checking = bool(request.validate_cert)
        curl.setopt(pycurl.SSL_VERIFYPEER, 1 if checking else 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 2 if checking else 0)
        # Files are only handed to libcurl when the request names them.
        for option, path in (
            (pycurl.CAINFO, request.ca_certs),
            (pycurl.SSLCERT, request.client_cert),
            (pycurl.SSLKEY, request.client_key),
        ):
            if path is not None:
                curl.setopt(option, path)


def _body_too_large(limit: int) -> CurlError:
    # Tornado's curl client's words; curl was told to stop (a write error).
    return CurlError(pycurl.E_WRITE_ERROR, f"body exceeded max_body_size of {limit} bytes")


def _curl_error(errno: int, message: str, connected: bool, request: Any) -> CurlError:
    if errno == pycurl.E_OPERATION_TIMEDOUT:
        connect_timeout = request.connect_timeout
        request_timeout = request.request_timeout
        if (
            not connected
            and connect_timeout
            and (not request_timeout or connect_timeout <= request_timeout)
        ):
            return CurlTimeoutError(errno, "Timeout while connecting", message)
        return CurlTimeoutError(errno, "Timeout during request", message)
    if errno in _CONNECT_ERRORS:
        return CurlConnectionError(errno, message)
    if errno == _E_WEIRD_SERVER_REPLY:
        return CurlError(errno, f"malformed HTTP response: {message}")
    if errno == pycurl.E_BAD_CONTENT_ENCODING:
        return CurlError(errno, f"invalid compressed body: {message}")
    if errno in _CLOSED_ERRORS:
        return CurlStreamClosedError(errno, f"Stream closed: {message}")
    return CurlError(errno, message)


def _time_info(curl: pycurl.Curl, queued_for: float) -> dict[str, float]:
    """curl's timings of the last hop (seconds from its start), and the
    time spent in this client's queue."""
    return {
        "queue": queued_for,
        "namelookup": curl.getinfo(pycurl.NAMELOOKUP_TIME),
        "connect": curl.getinfo(pycurl.CONNECT_TIME),
        "appconnect": curl.getinfo(pycurl.APPCONNECT_TIME),
        "pretransfer": curl.getinfo(pycurl.PRETRANSFER_TIME),
        "starttransfer": curl.getinfo(pycurl.STARTTRANSFER_TIME),
        "total": curl.getinfo(pycurl.TOTAL_TIME),
        "redirect": curl.getinfo(pycurl.REDIRECT_TIME),
    }


def _min_timeout(a: float | None, b: float | None) -> float | None:
    # 0 and None both mean "no limit", as in Tornado.
    values = [v for v in (a, b) if v]
    return min(values) if values else None
