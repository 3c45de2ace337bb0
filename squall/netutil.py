"""Listening sockets, TLS contexts and name resolution.

The pieces a server or client needs below the stream layer:

- ``bind_sockets`` / ``bind_unix_socket``: listening, non-blocking sockets,
  ready to hand to ``TCPServer.add_sockets`` (or to share across processes
  made by ``squall.process.fork_processes``).
- ``add_accept_handler``: call a function for every connection a listening
  socket accepts, on the current IOLoop.
- ``ssl_options_to_context`` / ``ssl_wrap_socket``: turn Tornado-style
  ``ssl_options`` dicts into ``ssl.SSLContext`` objects.
- ``Resolver`` and its implementations: asynchronous ``getaddrinfo``.
- ``is_valid_ip``: is a string an IP literal (never a DNS lookup).

Errors:

- ``OSError`` from the socket calls themselves (``EADDRINUSE``...), with
  ``socket.gaierror`` (a subclass) for names that do not resolve.
- ``ValueError`` for arguments that cannot work: unknown ``ssl_options``
  keys, a keyfile without a certfile, ``reuse_port`` where the platform has
  no ``SO_REUSEPORT``, a unix socket path held by a file that is not a socket.
- ``TypeError`` for arguments of the wrong type.
- ``ssl.SSLError`` for certificates, keys or cipher strings OpenSSL rejects.
- ``RuntimeError`` from ``resolve`` on an executor resolver after ``close()``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from errno import EAFNOSUPPORT
from stat import S_ISSOCK
from sys import platform as _sys_platform
from typing import Any
from warnings import catch_warnings, simplefilter

from squall.concurrent import chain_future, dummy_executor
from squall.ioloop import IOLoop
from squall.util import Configurable

__all__ = [
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ThreadedResolver",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
    "ssl_options_to_context",
    "ssl_wrap_socket",
]

# Queue length passed to listen(), Tornado's default. 128 was the kernel's
# SOMAXCONN for decades (Linux raised it to 4096 in 5.4); the kernel caps the
# value at its own limit anyway. add_accept_handler also accepts at most this
# many connections per readiness event, so that one busy listener cannot
# keep the loop from everything else.
_DEFAULT_BACKLOG = 128

# The keys an ssl_options dict may carry: the arguments of the long-gone
# ssl.wrap_socket() function, which is what Tornado's dicts were made for.
_SSL_OPTIONS_KEYS = frozenset(
    ["ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"]
)

# Default size of ThreadedResolver's pool, Tornado's default.
_DEFAULT_RESOLVER_THREADS = 10

AddressList = list[tuple[int, Any]]


# -- listening sockets ---------------------------------------------------------


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = _DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Listening, non-blocking TCP sockets for ``address`` and ``port``.

    ``address`` is a host name or IP literal; ``None`` or ``""`` means every
    interface. A name can resolve to several addresses (IPv4 and IPv6 ones,
    typically), and each gets a socket of its own; IPv6 sockets are made
    IPv6-only so that they do not also claim the IPv4 port. With ``port`` 0
    the OS picks a free port for the first socket and the others reuse it,
    so that every socket returned listens on the same port.

    ``family`` restricts the address family (``socket.AF_INET`` for IPv4
    only...); ``flags`` are ``getaddrinfo`` flags (``socket.AI_PASSIVE`` by
    default); ``reuse_port`` sets ``SO_REUSEPORT`` so that several processes
    can bind the same port and the kernel spreads connections among them.

    If any socket fails to bind, those already made are closed and the
    ``OSError`` propagates.
    """
    platform_has_reuseport = hasattr(socket, "SO_REUSEPORT")
    if reuse_port and not platform_has_reuseport:
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    host = address or None  # "" and None both mean every interface
    # An interpreter built without IPv6 cannot use the v6 results.
    wanted_family = socket.AF_INET if family == socket.AF_UNSPEC and not socket.has_ipv6 else family
    lookup_flags = socket.AI_PASSIVE if flags is None else flags
    candidates = _bindable_addresses(
        socket.getaddrinfo(host, port, wanted_family, socket.SOCK_STREAM, 0, lookup_flags),
        host,
    )
    sockets: list[socket.socket] = []
    bound_port: int | None = None
    last_unsupported: OSError | None = None
    try:
        for af, socktype, proto, sockaddr in candidates:
            opened = _socket_unless_family_disabled(af, socktype, proto)
            if isinstance(opened, OSError):
                # The kernel has this family switched off (IPv6 disabled at
                # boot, say): serve on the families it has.
                last_unsupported = opened
                continue
            sock = opened
            sockets.append(sock)
            if os.name != "nt":
                # Rebinding a port with connections in TIME_WAIT is what a
                # restarted server does; POSIX needs this to allow it.
                # (On Windows the option means stealing a bound port.)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and bound_port is not None:
                sockaddr = (sockaddr[0], bound_port, *sockaddr[2:])
            sock.setblocking(False)
            sock.bind(sockaddr)
            bound_port = sock.getsockname()[1]
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets and last_unsupported is not None:
        raise last_unsupported
    return sockets


def _socket_unless_family_disabled(af: int, socktype: int, proto: int) -> socket.socket | OSError:
    """A new socket, or the EAFNOSUPPORT error itself; other errors propagate."""
    try:
        made = socket.socket(af, socktype, proto)
    except OSError as failure:
        if failure.errno == EAFNOSUPPORT:
            return failure
        raise
    return made


def _bindable_addresses(
    infos: list[tuple[Any, ...]], host: str | None
) -> Iterator[tuple[Any, Any, int, Any]]:
    """The ``getaddrinfo`` results worth a socket each: (family, type, proto, sockaddr)."""
    already: set[tuple[int, Any]] = set()
    for af, socktype, proto, _canonname, sockaddr in infos:
        # /etc/hosts can list one address twice; a second bind of it would
        # only fail with EADDRINUSE.
        identity = (af, sockaddr[:2])
        if identity in already:
            continue
        already.add(identity)
        # macOS lists the link-local fe80::1%lo0 for localhost, which its
        # firewall then asks the user about; ::1 is enough.
        macos_link_local = (
            _sys_platform == "darwin"
            and host == "localhost"
            and af == socket.AF_INET6
            and sockaddr[3] != 0
        )
        if not macos_link_local:
            yield af, socktype, proto, sockaddr


def bind_unix_socket(
    file: str, mode: int = 0o600, backlog: int = _DEFAULT_BACKLOG
) -> socket.socket:
    """A listening, non-blocking unix-domain stream socket at path ``file``.

    A socket file left at that path (by a server that exited) is replaced;
    any other kind of file is refused with ``ValueError``. The socket file
    gets permissions ``mode``. A ``file`` starting with a NUL byte names a
    Linux abstract socket: there is no file, hence nothing to replace or
    chmod.
    """
    abstract = file.startswith("\0")
    sock = socket.socket(family=socket.AF_UNIX, type=socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if abstract:
            sock.bind(file)
        else:
            _remove_stale_socket_file(file)
            sock.bind(file)
            os.chmod(file, mode)
        sock.listen(backlog)
    except BaseException:
        # Whatever failed (bind, chmod, a KeyboardInterrupt), leak no socket.
        sock.close()
        raise
    return sock


def _remove_stale_socket_file(file: str) -> None:
    try:
        existing_mode = os.stat(file).st_mode
    except FileNotFoundError:
        return  # nothing left behind
    if not S_ISSOCK(existing_mode):
        raise ValueError(f"File {file} exists and is not a socket")
    # Like Tornado, any socket file is replaced, even one a live server
    # listens on: that is how a new server process takes over from an old
    # one that is still finishing its requests.
    os.unlink(file)


def add_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], None]
) -> Callable[[], None]:
    """Call ``callback(connection, address)`` for each connection ``sock`` accepts.

    ``sock`` is a listening, non-blocking socket (``bind_sockets`` makes
    them); the handler runs on the current IOLoop. Returns a function that
    stops accepting; it may be called from within ``callback``. The
    accepted sockets are left as ``accept()`` returns them (blocking): the
    stream that adopts one sets its own mode.
    """
    io_loop = IOLoop.current()
    assert io_loop is not None
    removed = False

    def on_readable(fd: Any, events: int) -> None:
        # A readiness event can stand for many queued connections; take as
        # many as a full backlog, then let the loop run other work before
        # coming back for the rest.
        budget = _DEFAULT_BACKLOG
        while budget > 0 and not removed:
            budget -= 1
            try:
                accepted = sock.accept()
            except ConnectionAbortedError:
                # The client reset the connection before we got to it
                # (ECONNABORTED); there may be others behind it.
                continue
            except BlockingIOError:
                break  # the queue is empty
            callback(*accepted)

    def remove_handler() -> None:
        nonlocal removed
        # Flag first: a callback that stops accepting ends the batch above.
        removed = True
        io_loop.remove_handler(sock)

    io_loop.add_handler(sock, on_readable, IOLoop.READ)
    return remove_handler


def is_valid_ip(ip: str) -> bool:
    """Whether ``ip`` is an IPv4 or IPv6 address literal.

    Never looks anything up. Accepts what the C library's numeric parser
    accepts (``"127.1"`` and ``"fe80::1%eth0"`` included); rejects the empty
    string, ``None``, strings with NUL bytes and anything non-ASCII (which
    the parser would otherwise read after IDNA mapping: "1.2.3.4" followed
    by a zero-width space would pass).
    """
    if ip is None:
        return False
    if not isinstance(ip, str):
        raise TypeError(f"is_valid_ip expects a str, not {type(ip).__name__}")
    if not ip or "\0" in ip or not ip.isascii():
        return False
    try:
        infos = socket.getaddrinfo(
            ip, 0, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except UnicodeError:
        return False  # an over-long label, say: not an address either
    except socket.gaierror as lookup_error:
        # EAI_NONAME is the numeric parser's "not a literal"; anything else
        # is a failure of the C library itself.
        if lookup_error.errno != socket.EAI_NONAME:
            raise  # pragma: no cover
        return False
    return len(infos) > 0


# -- TLS -----------------------------------------------------------------------


def ssl_options_to_context(
    ssl_options: dict[str, Any] | ssl.SSLContext, server_side: bool | None = None
) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for a Tornado-style ``ssl_options`` dict.

    The dict may hold ``ssl_version``, ``certfile``, ``keyfile``,
    ``cert_reqs``, ``ca_certs`` and ``ciphers`` (the old ``ssl.wrap_socket``
    arguments); any other key is a ``ValueError``. An ``SSLContext`` is
    returned as it is. ``server_side`` picks the protocol when the dict has
    no ``ssl_version``: a server context (no client certificates asked for)
    or a client one (the peer's certificate and host name checked, against
    ``ca_certs`` or else the system's trusted CAs). ``None`` makes a context
    usable for either side, with no verification unless ``cert_reqs`` asks.
    """
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    if not isinstance(ssl_options, dict):
        raise TypeError(
            f"ssl_options must be a dict or an ssl.SSLContext, not {type(ssl_options).__name__}"
        )
    unknown = set(ssl_options) - _SSL_OPTIONS_KEYS
    if unknown:
        raise ValueError(f"unknown ssl_options keys: {', '.join(sorted(unknown))}")
    if "keyfile" in ssl_options and "certfile" not in ssl_options:
        raise ValueError("ssl_options has a keyfile but no certfile")

    if "ssl_version" in ssl_options:
        context = _new_context(ssl_options["ssl_version"])
    elif server_side is None:
        context = _new_context(ssl.PROTOCOL_TLS)
    elif server_side:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    if "certfile" in ssl_options:
        context.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if "cert_reqs" in ssl_options:
        cert_reqs = ssl_options["cert_reqs"]
        if cert_reqs == ssl.CERT_NONE:
            # Host-name checking needs a verified certificate; asking for no
            # verification must switch it off first (ssl insists on the order).
            context.check_hostname = False
        context.verify_mode = cert_reqs
    if "ca_certs" in ssl_options:
        context.load_verify_locations(ssl_options["ca_certs"])
    elif server_side is False and context.verify_mode != ssl.CERT_NONE:
        # A client that verifies but was given no CA file would reject every
        # server; trust what the system trusts instead.
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if "ciphers" in ssl_options:
        context.set_ciphers(ssl_options["ciphers"])
    # TLS compression (the CRIME attack) needs no switching off here:
    # Python's SSLContext always sets OP_NO_COMPRESSION; the tests pin it.
    return context


def _new_context(protocol: int) -> ssl.SSLContext:
    # Python deprecates the protocol constants that are not one-sided
    # (PROTOCOL_TLS, the TLSv1_x ones) in favour of PROTOCOL_TLS_CLIENT and
    # _SERVER. A context that must serve either side (server_side=None, as
    # in Tornado) or a protocol the caller asked for by name still needs
    # them, and the warning would only reach the user as noise.
    with catch_warnings():
        simplefilter("ignore", DeprecationWarning)
        return ssl.SSLContext(protocol)


def ssl_wrap_socket(
    socket: socket.socket,
    ssl_options: dict[str, Any] | ssl.SSLContext,
    server_hostname: str | None = None,
    server_side: bool | None = None,
    **kwargs: Any,
) -> ssl.SSLSocket:
    """Wrap ``socket`` in TLS as ``ssl_options`` (a dict or a context) says.

    ``server_hostname`` is sent as SNI and checked against the certificate
    when the context checks host names; ``server_side`` defaults to the
    client side. Other keyword arguments go to ``SSLContext.wrap_socket``
    (``do_handshake_on_connect=False``, say).
    """
    context = ssl_options_to_context(ssl_options, server_side=server_side)
    return context.wrap_socket(
        socket, server_hostname=server_hostname, server_side=bool(server_side), **kwargs
    )


# -- name resolution -------------------------------------------------------------


def _resolve_addr(
    host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
) -> AddressList:
    """Blocking ``getaddrinfo`` reduced to ``(family, address)`` pairs."""
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return _unique_addresses(infos)


def _unique_addresses(infos: list[tuple[Any, ...]]) -> AddressList:
    results: AddressList = []
    for af, _socktype, _proto, _canonname, address in infos:
        if (af, address) not in results:
            results.append((af, address))
    return results


class Resolver(Configurable):
    """Asynchronous name resolution; ``Resolver()`` builds the configured kind.

    ``DefaultLoopResolver`` (the event loop's own ``getaddrinfo``) unless
    ``Resolver.configure`` chose another. Implementations: the loop one,
    ``DefaultExecutorResolver`` (the loop's default thread pool),
    ``ThreadedResolver`` (a pool of its own), ``BlockingResolver`` (on the
    loop's thread, for tests) and ``OverrideResolver`` (a fixed mapping in
    front of another resolver).
    """

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        return Resolver

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        return DefaultLoopResolver

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[AddressList]:
        """Resolve ``host`` to a list of ``(family, address)`` pairs.

        ``address`` is what ``socket.connect`` takes for that family
        (``(host, port)`` for IPv4, ``(host, port, flowinfo, scope_id)`` for
        IPv6). ``family`` restricts the results; an unresolvable name raises
        ``socket.gaierror`` (an ``OSError``) when awaited.
        """
        raise NotImplementedError()

    def close(self) -> None:
        """Release what the resolver holds (threads, say)."""


class DefaultLoopResolver(Resolver):
    """Resolves with the event loop's ``getaddrinfo`` (libuv's or asyncio's pool)."""

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> AddressList:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        return _unique_addresses(infos)


class DefaultExecutorResolver(Resolver):
    """Resolves with blocking ``getaddrinfo`` on the IOLoop's default executor."""

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> AddressList:
        io_loop = IOLoop.current()
        assert io_loop is not None
        return await io_loop.run_in_executor(None, _resolve_addr, host, port, family)


class ExecutorResolver(Resolver):
    """Resolves with blocking ``getaddrinfo`` on a ``concurrent.futures`` executor.

    With no ``executor`` the lookups run on the calling thread, blocking the
    loop. ``close()`` shuts the executor down when ``close_executor`` (and
    the executor was ours to close).
    """

    executor: Executor | None
    close_executor: bool

    def initialize(
        self,
        executor: Executor | None = None,
        close_executor: bool = True,
    ) -> None:
        # Without an executor of the caller's, lookups run inline on the
        # shared dummy executor, which is never ours to shut down.
        owned = executor is not None and close_executor
        self.executor = dummy_executor if executor is None else executor
        self.close_executor = owned

    def close(self) -> None:
        pool, self.executor = self.executor, None
        if pool is not None and self.close_executor:
            pool.shutdown()

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> asyncio.Future[AddressList]:
        if self.executor is None:
            raise RuntimeError(f"{type(self).__name__}.resolve() called after close()")
        io_loop = IOLoop.current()
        assert io_loop is not None
        future: asyncio.Future[AddressList] = io_loop.asyncio_loop.create_future()
        chain_future(self.executor.submit(_resolve_addr, host, port, family), future)
        return future


class BlockingResolver(ExecutorResolver):
    """``getaddrinfo`` called inline: the IOLoop stalls until each answer.

    Fine for a test or a script; a server should pick another resolver.
    """

    def initialize(self) -> None:  # type: ignore[override]
        # No executor of ours: the parent then runs lookups inline.
        super().initialize(executor=None)


class ThreadedResolver(ExecutorResolver):
    """``getaddrinfo`` on worker threads, one pool per process for all instances.

    Whichever instance comes first sizes the pool (``num_threads``); it
    lives as long as the process and ``close()`` leaves it running. After a
    ``fork`` the child notices the pid change and builds its own, since the
    parent's worker threads were not copied.
    """

    # Owner pid alongside the pool, to spot a forked child.
    _threadpool_pid: int | None = None
    _threadpool: ThreadPoolExecutor | None = None

    def initialize(self, num_threads: int = _DEFAULT_RESOLVER_THREADS) -> None:  # type: ignore[override]
        super().initialize(
            executor=ThreadedResolver._shared_pool(num_threads), close_executor=False
        )

    @classmethod
    def _shared_pool(cls, num_threads: int) -> ThreadPoolExecutor:
        me = os.getpid()
        pool = cls._threadpool if cls._threadpool_pid == me else None
        if pool is None:
            pool = ThreadPoolExecutor(num_threads, thread_name_prefix="squall-resolver")
            cls._threadpool, cls._threadpool_pid = pool, me
        return pool


class OverrideResolver(Resolver):
    """Answers some names from a fixed ``mapping``; asks ``resolver`` the rest.

    Keys are tried most specific first: ``(host, port, family)`` maps to a
    ``(host, port)`` pair, ``(host, port)`` to a ``(host, port)`` pair, and a
    plain ``host`` to another host name. The replacement is then resolved by
    ``resolver`` (so it may be an IP literal or a name). Useful in tests,
    to point a real hostname at a local server.
    """

    def initialize(self, resolver: Resolver, mapping: dict[Any, Any]) -> None:
        self.mapping = mapping
        self.resolver = resolver

    def close(self) -> None:
        # The wrapped resolver is ours from initialize() on.
        self.resolver.close()

    def _redirect(self, host: str, port: int, family: socket.AddressFamily) -> tuple[str, int]:
        table = self.mapping
        for key in ((host, port, family), (host, port)):
            target = table.get(key)
            if target is not None:
                new_host, new_port = target
                return new_host, new_port
        return table.get(host, host), port

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[AddressList]:
        target_host, target_port = self._redirect(host, port, family)
        return self.resolver.resolve(target_host, target_port, family)
