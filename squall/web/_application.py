"""``Application``: settings, routes, and the delegate that runs a handler."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from inspect import isclass
from typing import TYPE_CHECKING, Any

from squall import netutil
from squall.concurrent import future_set_result_unless_cancelled
from squall.httpserver import HTTPServer
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import access_log
from squall.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    PathMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    Rule,
)
from squall.util import ObjectDict
from squall.web._handler import RequestHandler
from squall.web._static import StaticFileHandler
from squall.web._transforms import GZipContentEncoding, OutputTransform
from squall.web._uimodules import DEFAULT_UI_MODULES, ModuleNamespace

if TYPE_CHECKING:
    from squall.web._handlers import ErrorHandler  # noqa: F401


# find_handler's marker for "this table needs the general router".
_NOT_SIMPLE: Any = object()


class _ApplicationRouter(ReversibleRuleRouter):
    """Routes to RequestHandler classes; nested lists become sub-routers."""

    def __init__(self, application: Application, rules: Any = None) -> None:
        # Must be set before the base class processes ``rules``: nested
        # tables build sub-routers for the same application.
        self.application = application
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        processed = super().process_rule(rule)
        nested = processed.target
        if isinstance(nested, (list, tuple)):
            processed.target = type(self)(self.application, nested)
        return processed

    def get_target_delegate(
        self, target: Any, request: HTTPServerRequest, **target_params: Any
    ) -> HTTPMessageDelegate | None:
        if isclass(target) and issubclass(target, RequestHandler):
            return self.application.get_handler_delegate(request, target, **target_params)
        return super().get_target_delegate(target, request, **target_params)


class Application(ReversibleRouter):
    """A collection of routes and settings: the ``request_callback`` of an
    HTTPServer, as in ``HTTPServer(Application([(r"/", MainHandler)]))``.

    Routes are ``(pattern, Handler)``, ``(pattern, Handler, kwargs)``,
    ``(pattern, Handler, kwargs, name)``, ``url(...)`` objects or routing
    ``Rule`` objects. ``**settings`` are free-form: handlers read them as
    ``self.settings``, and some are squall's own (``debug``, ``cookie_secret``,
    ``template_path``, ``static_path``, ``compress_response``, ...).

    ``on_startup`` and ``on_shutdown`` are lists of hooks (no arguments,
    sync or async) for whatever serves the application to run when it
    starts and after it stops, e.g. ``app.on_startup.append(open_pool)``.
    """

    def __init__(
        self,
        handlers: Sequence[Any] | None = None,
        default_host: str | None = None,
        transforms: list[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        self.settings = settings
        self.default_host = default_host
        self.transforms: list[type[OutputTransform]] = (
            _transforms_for(settings) if transforms is None else transforms
        )
        # The routing table as _path_route last saw it (built on first use).
        self._path_table: _PathTable | None = None
        self.ui_methods: dict[str, Callable[..., Any]] = {}
        self.ui_modules: dict[str, Any] = {}
        self._load_ui_modules(settings.get("ui_modules", {}))
        self._load_ui_methods(settings.get("ui_methods", {}))
        if settings.get("debug"):
            settings.setdefault("autoreload", True)
            settings.setdefault("compiled_template_cache", False)
            settings.setdefault("static_hash_cache", False)
            settings.setdefault("serve_traceback", True)
        # Lifespan hooks: callables taking no arguments, returning None or an
        # awaitable, run in order when the server starts serving this
        # application and after it stops (squall.asgi runs them on the ASGI
        # lifespan events; a server or runner of squall's own may too).
        self.on_startup: list[Callable[[], Awaitable[None] | None]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None] | None]] = []
        handlers = list(handlers or [])
        static_routes = self._static_routes()
        self.wildcard_router = _ApplicationRouter(self, static_routes + handlers)
        self.default_router = _ApplicationRouter(self, [Rule(AnyMatches(), self.wildcard_router)])
        if settings.get("autoreload"):
            from squall import autoreload

            autoreload.start()

    # -- extension points filled by other parts of squall.web ------------------

    def _static_routes(self) -> list[Any]:
        """The automatic routes of the ``static_path`` setting.

        ``static_url_prefix`` (default ``/static/``) plus ``/robots.txt``
        and ``/favicon.ico``, served by ``static_handler_class`` with
        ``static_handler_args``.
        """
        settings = self.settings
        settings.setdefault("static_handler_class", StaticFileHandler)
        path = settings.get("static_path")
        if not path:
            return []
        prefix = re.escape(settings.get("static_url_prefix", "/static/"))
        handler_class = settings["static_handler_class"]
        args = dict(settings.get("static_handler_args", {}))
        args["path"] = path
        return [
            (pattern, handler_class, args)
            for pattern in (prefix + r"(.*)", r"/(favicon\.ico)", r"/(robots\.txt)")
        ]

    def _load_ui_modules(self, modules: Any) -> None:
        if not self.ui_modules:  # first call: the modules every app has
            self.ui_modules.update(DEFAULT_UI_MODULES)
        if isinstance(modules, dict):
            self.ui_modules.update(modules)
        elif isinstance(modules, (list, tuple)):
            for m in modules:
                self._load_ui_modules(m)
        else:  # a module object: its public names
            for name in dir(modules):
                value = getattr(modules, name)
                if isclass(value) and not name.startswith("_"):
                    self.ui_modules[name] = value

    def _load_ui_methods(self, methods: Any) -> None:
        if isinstance(methods, dict):
            self.ui_methods.update(methods)
        elif isinstance(methods, (list, tuple)):
            for m in methods:
                self._load_ui_methods(m)
        else:
            for name in dir(methods):
                value = getattr(methods, name)
                if callable(value) and not name.startswith("_") and name.islower():
                    self.ui_methods[name] = value

    def ui_for(self, handler: RequestHandler) -> ObjectDict:
        """The ``ui`` namespace of one handler (UI methods bound to it)."""
        ui = ObjectDict()
        for name, method in self.ui_methods.items():
            ui[name] = _bind_ui_method(handler, method)
        ui["_tt_modules"] = ui["modules"] = ModuleNamespace(handler, self.ui_modules)
        return ui

    # -- serving ---------------------------------------------------------------

    def listen(
        self,
        port: int,
        address: str | None = None,
        *,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = netutil._DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
        **kwargs: Any,
    ) -> HTTPServer:
        """Start an HTTPServer for this application on ``port``.

        Keyword arguments go to ``HTTPServer`` (``xheaders=True``,
        ``ssl_options=...``, ``max_body_size=...``). Returns the server.
        """
        http_server = HTTPServer(self, **kwargs)
        http_server.listen(
            port, address, reuse_port=reuse_port, flags=flags, backlog=backlog, family=family
        )
        return http_server

    def add_handlers(self, host_pattern: str, host_handlers: Sequence[Any]) -> None:
        """Add routes for requests whose Host matches ``host_pattern``.

        Host rules are tried in the order added, before the catch-all rules
        given to the constructor.
        """
        matcher = HostMatches(host_pattern)
        top_rules = self.default_router.rules
        # The last top-level rule is the catch-all; host rules go before it.
        top_rules.insert(len(top_rules) - 1, Rule(matcher, _ApplicationRouter(self, host_handlers)))
        if self.default_host is None:
            return
        # Requests for ``default_host`` (or with no usable Host) reach these
        # routes through the catch-all table too.
        default_rule = (DefaultHostMatches(self, matcher.host_pattern), host_handlers)
        self.wildcard_router.add_rules([default_rule])

    def add_transform(self, transform_class: type[OutputTransform]) -> None:
        self.transforms.append(transform_class)

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        # One delegate per request that routes and then runs the handler
        # itself (the general Router pairs a routing delegate with the one
        # find_handler returns: two objects and a forwarding call per event).
        return _RequestDelegate(self, server_conn, request_conn)

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> _HandlerDelegate:
        route = (
            self._path_route(request.path) if len(self.default_router.rules) == 1 else _NOT_SIMPLE
        )
        if type(route) is tuple:
            return _HandlerDelegate(self, request, *route)
        return self._routed_delegate(request, route)

    def _routed_delegate(self, request: HTTPServerRequest, route: Any) -> _HandlerDelegate:
        """The delegate for a request ``_path_route`` could not settle:
        the general routers decide (``_NOT_SIMPLE``), or nothing matched."""
        delegate = None
        if route is _NOT_SIMPLE:
            if len(self.default_router.rules) == 1:
                # No host-specific handlers: skip the catch-all host level.
                delegate = self.wildcard_router.find_handler(request)
            else:
                delegate = self.default_router.find_handler(request)
        if delegate is not None:
            return delegate  # type: ignore[return-value]
        return self._unrouted_delegate(request)

    def _unrouted_delegate(self, request: HTTPServerRequest) -> _HandlerDelegate:
        """No route matched: ``default_handler_class`` if set, else a 404."""
        settings = self.settings
        fallback = settings.get("default_handler_class")
        if not fallback:
            from squall.web._handlers import ErrorHandler

            return self.get_handler_delegate(request, ErrorHandler, {"status_code": 404})
        return self.get_handler_delegate(
            request, fallback, settings.get("default_handler_args", {})
        )

    def _path_route(self, path: str) -> Any:
        """Route the common table shape, path patterns for handler classes,
        without the general machinery: ``(handler_class, kwargs, path_args,
        path_kwargs)`` for the first match, None if no rule matches, or
        ``_NOT_SIMPLE`` if a rule has another shape."""
        rules = self.wildcard_router.rules
        table = self._path_table
        if table is None or table.rules is not rules or table.size != len(rules):
            table = self._path_table = _PathTable(rules)
        if not table.simple:
            return _NOT_SIMPLE
        candidates = table.others
        if table.by_segment:
            # Only the rules that can match a path with this first segment.
            end = path.find("/", 1)
            candidates = table.by_segment.get(path[1:end] if end > 0 else path[1:], candidates)
        for index, rule, matcher, target in candidates:
            if rules[index] is not rule or rule.matcher is not matcher or rule.target is not target:
                # A rule was replaced or changed in place since the table
                # was built.
                self._path_table = None
                return self._path_route(path)
            m = matcher.regex.match(path)
            if m is None:
                continue
            if not matcher._has_groups:
                return (target, rule.target_kwargs, None, None)
            params = matcher._params(m)
            return (target, rule.target_kwargs, params["path_args"], params["path_kwargs"])
        return None

    def get_handler_delegate(
        self,
        request: HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes] | None = None,
        path_kwargs: dict[str, bytes] | None = None,
    ) -> _HandlerDelegate:
        """The delegate that runs ``target_class`` for ``request``."""
        return _HandlerDelegate(self, request, target_class, target_kwargs, path_args, path_kwargs)

    def __call__(self, request: HTTPServerRequest) -> Awaitable[None] | None:
        """Run ``request`` (Tornado's legacy plain-callable interface)."""
        dispatcher = self.find_handler(request)
        return dispatcher.execute()

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of the route named ``name``, with ``args`` in its groups."""
        reversed_url = self.default_router.reverse_url(name, *args)
        if reversed_url is not None:
            return reversed_url
        raise KeyError(f"{name} not found in named urls")

    def log_request(self, handler: RequestHandler) -> None:
        """Write the access-log line for a finished request.

        Set ``log_function`` to replace it. Nothing is formatted unless the
        ``squall.access`` logger would emit the line.
        """
        log_function = self.settings.get("log_function")
        if log_function is not None:
            log_function(handler)
            return
        status = handler.get_status()
        if status < 400:
            level = logging.INFO
        elif status < 500:
            level = logging.WARNING
        else:
            level = logging.ERROR
        if access_log.isEnabledFor(level):
            request_time = 1000.0 * handler.request.request_time()
            access_log.log(level, "%d %s %.2fms", status, handler._request_summary(), request_time)


# A pattern whose first path segment is plain text: "/about$", "/user/(\d+)$"
# (and not "/a/*b", where the slash is optional).
_LITERAL_FIRST_SEGMENT = re.compile(r"/([A-Za-z0-9_~-]*)(?:/(?![*+?{])|\$\Z)")


def _first_segment(regex: re.Pattern[str]) -> str | None:
    """The plain-text first path segment every match of ``regex`` has, or
    None if it may match paths with any first segment."""
    pattern = regex.pattern
    # Flags (a case-insensitive pattern) or an alternation anywhere could
    # make a match start differently than the pattern's text does.
    if regex.flags != re.UNICODE or "|" in pattern:
        return None
    literal = _LITERAL_FIRST_SEGMENT.match(pattern)
    return None if literal is None else literal.group(1)


# Tables this short are tried rule by rule: finding a path's first segment
# costs about what matching a pattern or two does.
_UNINDEXED_RULES = 2


class _PathTable:
    """An Application's path rules, indexed by their first path segment.

    A rule whose pattern starts with a plain-text segment (``/users/...``)
    can only match paths with that first segment; any other pattern may
    match anything. ``by_segment`` maps a segment to the rules, in table
    order, that may match paths starting with it; ``others`` lists the
    rules that may match paths whose first segment no pattern names. Each
    entry keeps the rule's position, matcher and target as they were when
    the table was built, so that a rule changed since is noticed on use.
    """

    Entry = tuple[int, Rule, PathMatches, Any]

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.size = len(rules)
        self.by_segment: dict[str, list[_PathTable.Entry]] = {}
        self.others: list[_PathTable.Entry] = []
        self.simple = True
        entries = []
        for index, rule in enumerate(rules):
            matcher = rule.matcher
            target = rule.target
            if (
                type(matcher) is not PathMatches
                or not isinstance(target, type)
                or not issubclass(target, RequestHandler)
            ):
                self.simple = False
                return
            entries.append(((index, rule, matcher, target), _first_segment(matcher.regex)))
        if len(entries) <= _UNINDEXED_RULES:
            self.others = [entry for entry, _ in entries]
            return
        segments = {segment for _, segment in entries if segment is not None}
        for segment in segments:
            self.by_segment[segment] = [
                entry for entry, named in entries if named is None or named == segment
            ]
        self.others = [entry for entry, named in entries if named is None]


def _transforms_for(settings: dict[str, Any]) -> list[type[OutputTransform]]:
    """The output transforms used when the constructor is given none."""
    wants_gzip = settings.get("compress_response") or settings.get("gzip")
    return [GZipContentEncoding] if wants_gzip else []


def _bind_ui_method(handler: RequestHandler, method: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args, **kwargs: method(handler, *args, **kwargs)


class _HandlerDelegate(HTTPMessageDelegate):
    """Collects (or streams) one request's body, then runs its handler."""

    __slots__ = (
        "_task",
        "application",
        "chunks",
        "connection",
        "handler",
        "handler_class",
        "handler_kwargs",
        "path_args",
        "path_kwargs",
        "request",
        "stream_request_body",
    )

    def __init__(
        self,
        application: Application,
        request: HTTPServerRequest,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any] | None,
        path_args: list[bytes] | None,
        path_kwargs: dict[str, bytes] | None,
    ) -> None:
        self._begin(application, request.connection)
        self.request = request
        self._route_to(handler_class, handler_kwargs, path_args, path_kwargs)

    def _begin(self, application: Application, connection: Any) -> None:
        """The state every delegate starts with, routed or not yet."""
        self.application = application
        self.connection = connection
        self.handler: RequestHandler | None = None
        self.chunks: list[bytes] | None = []  # None once the body is complete
        self._task: asyncio.Future[None] | None = None

    def _route_to(
        self,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any] | None,
        path_args: list[bytes] | None,
        path_kwargs: dict[str, bytes] | None,
    ) -> None:
        self.handler_class = handler_class
        self.stream_request_body = handler_class._stream_request_body
        # Missing route pieces become empty ones, so execute() can always
        # unpack them (the shared empties are only ever unpacked).
        self.handler_kwargs = handler_kwargs or _NO_KWARGS
        self.path_args = path_args or _NO_ARGS
        self.path_kwargs = path_kwargs or _NO_KWARGS

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if self.stream_request_body:
            self.request._body_future = asyncio.get_running_loop().create_future()  # type: ignore[attr-defined]
            return self.execute()
        return None

    def data_received(self, data: bytes) -> Awaitable[None] | None:
        if self.stream_request_body:
            assert self.handler is not None
            return self.handler.data_received(data)
        assert self.chunks is not None
        self.chunks.append(data)
        return None

    def finish(self) -> Awaitable[None] | None:  # type: ignore[override]
        if self.stream_request_body:
            future_set_result_unless_cancelled(self.request._body_future, None)  # type: ignore[attr-defined]
            return None
        chunks = self.chunks
        assert chunks is not None
        request = self.request
        if chunks:
            request.body = b"".join(chunks)
        if request.body:
            request._parse_body()
        self.chunks = None
        return self.execute()

    def on_connection_close(self) -> None:
        if self.stream_request_body and self.handler is not None:
            self.handler.on_connection_close()
        else:
            self.chunks = None

    def on_server_shutdown(self) -> bool:
        # A handler that overrides on_connection_close and has written
        # nothing is waiting for an event (a long poll): end it, so its
        # client polls again elsewhere instead of holding the shutdown up.
        handler = self.handler
        return (
            handler is not None
            and not handler._headers_written
            and type(handler).on_connection_close is not RequestHandler.on_connection_close
        )

    def execute(self) -> Awaitable[None] | None:
        application = self.application
        settings = application.settings
        if not settings.get("compiled_template_cache", True):
            _reset_template_loaders()
        if not settings.get("static_hash_cache", True):
            static_class = settings.get("static_handler_class")
            if static_class is not None:
                static_class.reset()
        request = self.request
        handler = self.handler = self.handler_class(application, request, **self.handler_kwargs)
        transform_classes = application.transforms
        transforms = [t(request) for t in transform_classes] if transform_classes else []
        if self.stream_request_body:
            handler._prepared_future = asyncio.get_running_loop().create_future()
        result = handler._execute(transforms, *self.path_args, **self.path_kwargs)
        if self.stream_request_body:
            if result is not None:
                # The handler goes on (awaiting its body) while we return to
                # the connection, which must hear when prepare() is done.
                self._task = asyncio.ensure_future(result)
            return handler._prepared_future
        return result


_NO_ARGS: list[bytes] = []
_NO_KWARGS: dict[str, Any] = {}


class _RequestDelegate(_HandlerDelegate):
    """What an Application hands the server for each request.

    It builds the request when the headers arrive and routes it; for a
    handler class it then plays the handler delegate itself. Any other
    target's delegate (a nested router, a callable...) gets the rest of the
    message passed through.
    """

    __slots__ = ("forward", "server_conn")

    def __init__(self, application: Application, server_conn: object, connection: Any) -> None:
        self._begin(application, connection)
        self.server_conn = server_conn
        self.forward: HTTPMessageDelegate | None = None
        # handler_class & co. are filled in by _route_to once routed.
        self.stream_request_body = False

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        request = self.request = HTTPServerRequest(
            connection=self.connection,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        application = self.application
        if len(application.default_router.rules) == 1:
            route = application._path_route(request.path)
        else:
            route = _NOT_SIMPLE
        if type(route) is tuple:
            self._route_to(*route)
            if self.stream_request_body:
                return _HandlerDelegate.headers_received(self, start_line, headers)
            return None
        delegate = self.forward = application._routed_delegate(request, route)
        return delegate.headers_received(start_line, headers)

    def data_received(self, data: bytes) -> Awaitable[None] | None:
        if self.forward is not None:
            return self.forward.data_received(data)
        return _HandlerDelegate.data_received(self, data)

    def finish(self) -> Any:
        if self.forward is not None:
            # A delegate's finish() may return an awaitable (a coroutine
            # handler); the connection waits for it, so pass it through.
            forward: Any = self.forward
            return forward.finish()
        return _HandlerDelegate.finish(self)

    def on_connection_close(self) -> None:
        if self.forward is not None:
            self.forward.on_connection_close()
        else:  # routed to a handler, or not routed yet (nothing to tell)
            _HandlerDelegate.on_connection_close(self)

    def on_server_shutdown(self) -> bool:
        if self.forward is not None:
            return self.forward.on_server_shutdown()
        return _HandlerDelegate.on_server_shutdown(self)


def _reset_template_loaders() -> None:
    loaders = getattr(RequestHandler, "_template_loaders", None)
    if loaders:
        for loader in loaders.values():
            loader.reset()
