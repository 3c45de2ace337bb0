"""Routing: which delegate handles a request.

A ``Router`` is an ``httputil.HTTPServerConnectionDelegate``: hand one to
``HTTPServer`` and every request is given to whatever its ``find_handler``
returns. ``RuleRouter`` walks an ordered list of ``Rule`` objects, each a
``Matcher`` (``PathMatches``, ``HostMatches``, ``AnyMatches``,
``DefaultHostMatches`` or your own) paired with a target::

    router = RuleRouter([
        (HostMatches("api\\.example\\.com"), RuleRouter([
            ("/v1/items/([0-9]+)", items_callable),
        ])),
        ("/static/(.*)", static_delegate),
        Rule(AnyMatches(), fallback_router),
    ])
    HTTPServer(router).listen(8888)

A target may be another ``Router`` (nested routing), any
``HTTPServerConnectionDelegate`` (a ``web.Application`` is both), or a plain
``callable(request, **params)`` answering through ``request.connection``.
``web.Application`` builds on ``ReversibleRuleRouter`` and adds
``RequestHandler`` classes as targets. When nothing matches, the router
answers ``404 Not Found`` with an empty body, as Tornado's does.

Names and behaviour follow Tornado 6's ``tornado.routing``. Path groups are
passed on percent-decoded but not text-decoded (``bytes``, ``+`` kept): the
web layer decodes them, so a handler may override ``decode_argument``.

Errors raised by this module::

    ValueError
     +-- RoutePatternError (also re.error)
     |     a route regex that does not compile or mixes named and
     |     positional groups; raised when the rule is built
     +-- (plain ValueError) a malformed rule tuple, ``reverse()`` of a
           pattern that cannot be reversed or with the wrong number of
           arguments, a delegate or callable target for a request that
           has no connection
    TypeError
          a pattern that is not text (``str`` or a ``str`` re.Pattern), a
          matcher that is not a ``Matcher`` or a pattern, a rule that is not
          a ``Rule``, tuple or list
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Sequence
from typing import Any, Union

from squall.escape import url_escape, url_unescape, utf8
from squall.httpserver import _CallableAdapter
from squall.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    RequestStartLine,
    ResponseStartLine,
)
from squall.log import app_log
from squall.util import import_object, re_unescape

__all__ = [
    "AnyMatches",
    "DefaultHostMatches",
    "HostMatches",
    "Matcher",
    "PathMatches",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "RoutePatternError",
    "Router",
    "Rule",
    "RuleRouter",
    "URLSpec",
]


class RoutePatternError(re.error, ValueError):
    """A route's regular expression is unusable; the message names it.

    Also a ``re.error``, which is what code written for Tornado catches.
    """

    def __init__(self, message: str, pattern: str | None = None, pos: int | None = None) -> None:
        re.error.__init__(self, message, pattern, pos)


# What the rules argument of RuleRouter and web.Application may hold.
_RuleList = Sequence[
    Union[
        "Rule",
        list[Any],
        tuple[Union[str, "Matcher"], Any],
        tuple[Union[str, "Matcher"], Any, dict[str, Any]],
        tuple[Union[str, "Matcher"], Any, dict[str, Any], str],
    ]
]


# ---------------------------------------------------------------------------
# Routers


class Router(HTTPServerConnectionDelegate):
    """Finds the ``HTTPMessageDelegate`` for each request.

    Subclasses implement ``find_handler``; ``start_request`` (what
    ``HTTPServer`` calls) builds the request from its start line and headers,
    asks ``find_handler`` and hands the rest of the message to the result.
    """

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        """The delegate for ``request``, or None if this router has none.

        ``kwargs`` carry what an outer router's rule matched (``path_args``,
        ``path_kwargs``, ``target_kwargs``).
        """
        raise NotImplementedError()

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _RoutingDelegate(self, server_conn, request_conn)


class ReversibleRouter(Router):
    """A router that can also build the URL of a named route."""

    def reverse_url(self, name: str, *args: Any) -> str | None:
        """The URL of the route called ``name`` with ``args`` in its groups,
        or None if this router has no route of that name."""
        raise NotImplementedError()


class _RoutingDelegate(HTTPMessageDelegate):
    """Builds the request when its headers arrive, finds the delegate for it,
    then passes it every further event of the message."""

    __slots__ = ("delegate", "request_conn", "router", "server_conn")

    def __init__(self, router: Router, server_conn: object, request_conn: HTTPConnection) -> None:
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.router = router
        self.delegate: HTTPMessageDelegate | None = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        request = HTTPServerRequest(
            connection=self.request_conn,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        delegate = self.router.find_handler(request)
        if delegate is None:
            app_log.debug("Delegate for %s %s request not found", start_line.method, request.path)
            delegate = _NotFoundDelegate(self.request_conn)
        self.delegate = delegate
        return delegate.headers_received(start_line, headers)

    def _chosen(self) -> HTTPMessageDelegate:
        # Body events only arrive after headers_received() picked a delegate.
        target = self.delegate
        assert target is not None
        return target

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._chosen().data_received(chunk)

    def finish(self) -> None:
        # A delegate's finish() may return an awaitable (a coroutine
        # handler); the connection waits for it, so pass it through.
        return self._chosen().finish()

    def on_connection_close(self) -> None:
        # The request may have been rejected while it was being built (a bad
        # Host header): then there is no delegate to tell.
        if self.delegate is not None:
            self.delegate.on_connection_close()

    def on_server_shutdown(self) -> bool:
        return self.delegate is not None and self.delegate.on_server_shutdown()


class _NotFoundDelegate(HTTPMessageDelegate):
    """Answers 404 once the request (and any body) has been read."""

    __slots__ = ("connection",)

    def __init__(self, connection: HTTPConnection) -> None:
        self.connection = connection

    def finish(self) -> None:
        self.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 404, "Not Found"),
            HTTPHeaders({"Content-Length": "0"}),
        )
        self.connection.finish()


class RuleRouter(Router):
    """Tries its rules in order; the first whose matcher matches and whose
    target yields a delegate wins.

    ``rules`` is a list of ``Rule`` objects or tuples ``(matcher, target)``,
    ``(matcher, target, target_kwargs)``, ``(matcher, target, target_kwargs,
    name)``, where a ``str`` matcher is a path pattern (``PathMatches``).
    """

    def __init__(self, rules: _RuleList | None = None) -> None:
        self.rules: list[Rule] = []
        if rules:
            self.add_rules(rules)

    def add_rules(self, rules: _RuleList) -> None:
        """Append ``rules`` (same forms as the constructor's)."""
        for rule in rules:
            if isinstance(rule, (tuple, list)):
                if not 2 <= len(rule) <= 4:
                    raise ValueError(
                        "a rule is (matcher, target[, target_kwargs[, name]]), "
                        f"got {len(rule)} items: {rule!r}"
                    )
                rule = Rule(*rule)
            elif not isinstance(rule, Rule):
                raise TypeError(f"a rule must be a Rule, tuple or list, got {rule!r}")
            self.rules.append(self.process_rule(rule))

    def add_rule(
        self,
        matcher: Matcher | str,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Rule:
        """Append one rule, built from these arguments; returns it."""
        rule = self.process_rule(Rule(matcher, target, target_kwargs, name))
        self.rules.append(rule)
        return rule

    def process_rule(self, rule: Rule) -> Rule:
        """Hook for subclasses: inspect or replace each rule as it is added."""
        return rule

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        for rule in self.rules:
            target_params = rule.matcher.match(request)
            if target_params is None:
                continue
            if rule.target_kwargs:
                target_params["target_kwargs"] = rule.target_kwargs
            delegate = self.get_target_delegate(rule.target, request, **target_params)
            if delegate is not None:
                return delegate
        return None

    def get_target_delegate(
        self, target: Any, request: HTTPServerRequest, **target_params: Any
    ) -> HTTPMessageDelegate | None:
        """The delegate ``target`` offers for ``request``, or None.

        A ``Router`` is asked with ``find_handler(request, **target_params)``;
        an ``HTTPServerConnectionDelegate`` starts a request on the same
        connection; any other callable is called as
        ``target(request, **target_params)`` once the body is in. Subclasses
        add kinds of target (``web.Application`` adds handler classes).
        """
        if isinstance(target, Router):
            return target.find_handler(request, **target_params)
        if isinstance(target, HTTPServerConnectionDelegate):
            return target.start_request(request.server_connection, _connection_of(request))
        if callable(target):
            callback = functools.partial(target, **target_params) if target_params else target
            return _CallableAdapter(callback, _connection_of(request))
        return None


def _connection_of(request: HTTPServerRequest) -> HTTPConnection:
    if request.connection is None:
        raise ValueError(
            f"cannot route {request.method} {request.uri} to a delegate or callable: "
            "the request has no connection to answer on"
        )
    return request.connection


class ReversibleRuleRouter(ReversibleRouter, RuleRouter):
    """A ``RuleRouter`` whose named rules can be reversed into URLs.

    ``reverse_url`` looks at this router's named rules first, then asks the
    reversible routers among its targets, so names in nested routers work.
    """

    def __init__(self, rules: _RuleList | None = None) -> None:
        # Filled by process_rule, which the base constructor calls.
        self.named_rules: dict[str, Rule] = {}
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        rule = super().process_rule(rule)
        if rule.name:
            if rule.name in self.named_rules:
                app_log.warning("Multiple handlers named %s; replacing previous value", rule.name)
            self.named_rules[rule.name] = rule
        return rule

    def reverse_url(self, name: str, *args: Any) -> str | None:
        rule = self.named_rules.get(name)
        if rule is not None:
            return rule.matcher.reverse(*args)
        for rule in self.rules:
            if isinstance(rule.target, ReversibleRouter):
                url = rule.target.reverse_url(name, *args)
                if url is not None:
                    return url
        return None


# ---------------------------------------------------------------------------
# Rules


class Rule:
    """A matcher, the target it routes to, and optionally a name.

    ``matcher`` is a ``Matcher`` (a ``str`` is taken as a path pattern);
    ``target`` a router, delegate or callable (a ``str`` is imported by its
    dotted name); ``target_kwargs`` are given to the target (web handlers
    receive them in ``initialize``); ``name`` lets ``reverse_url`` find it.
    """

    def __init__(
        self,
        matcher: Matcher | str,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(matcher, str):
            matcher = PathMatches(matcher)
        elif not isinstance(matcher, Matcher):
            raise TypeError(
                f"a rule's matcher must be a Matcher or a path pattern, got {matcher!r}"
            )
        if isinstance(target, str):
            target = import_object(target)
        self.matcher = matcher
        self.target = target
        self.target_kwargs: dict[str, Any] = target_kwargs if target_kwargs else {}
        self.name = name

    def reverse(self, *args: Any) -> str | None:
        return self.matcher.reverse(*args)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.matcher!r}, {self.target!r}, "
            f"kwargs={self.target_kwargs!r}, name={self.name!r})"
        )


class URLSpec(Rule):
    """A rule matching the request path against ``pattern``.

    ``web.url`` is this class. Besides the ``Rule`` attributes it keeps
    Tornado's names: ``regex`` (the compiled pattern), ``handler_class``
    and ``kwargs`` (as given, possibly None).
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        handler: Any,
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        path_matcher = PathMatches(pattern)
        # Exposed under the names application code has long used.
        self.regex = path_matcher.regex
        self.kwargs = kwargs
        super().__init__(path_matcher, handler, kwargs, name)
        self.handler_class = self.target

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.regex.pattern!r}, {self.handler_class!r}, "
            f"kwargs={self.kwargs!r}, name={self.name!r})"
        )


# ---------------------------------------------------------------------------
# Matchers


class Matcher:
    """Decides whether a request matches, and what it passes to the target."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """None if ``request`` does not match; otherwise the parameters for
        the target (``{}`` when there are none)."""
        raise NotImplementedError()

    def reverse(self, *args: Any) -> str | None:
        """The URL this matcher matches for ``args``, or None if it has no
        notion of one."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class AnyMatches(Matcher):
    """Matches every request."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {}


class HostMatches(Matcher):
    """Matches requests whose host name (``request.host_name``: lowercased,
    port removed) matches ``host_pattern`` entirely.

    A ``str`` pattern gets a ``$`` anchor appended if it lacks one; a compiled
    pattern is used as it is.
    """

    def __init__(self, host_pattern: str | re.Pattern[str]) -> None:
        self.host_pattern = _compile_anchored(host_pattern, "host")

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        if self.host_pattern.match(request.host_name):
            return {}
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host_pattern.pattern!r})"


class DefaultHostMatches(Matcher):
    """Matches while ``application.default_host`` matches ``host_pattern``,
    for requests that did not come through a proxy (no ``X-Real-Ip``).

    ``web.Application.add_handlers`` uses it so that a host's handlers also
    serve direct requests when that host is the application's default.
    """

    def __init__(self, application: Any, host_pattern: re.Pattern[str]) -> None:
        self.application = application
        self.host_pattern = host_pattern

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        # Requests relayed by a proxy name their real host; only direct
        # ones fall back to the default.
        default_host = self.application.default_host
        if "X-Real-Ip" not in request.headers and default_host is not None:
            if self.host_pattern.match(default_host):
                return {}
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.application!r}, {self.host_pattern.pattern!r})"


class PathMatches(Matcher):
    """Matches requests whose path (``request.path``, still percent-encoded)
    matches ``path_pattern`` entirely.

    A ``str`` pattern gets a ``$`` anchor appended if it lacks one. The
    match gives ``path_args`` (positional groups) or ``path_kwargs`` (named
    groups; a pattern may not mix both), each value percent-decoded to
    ``bytes``, or None for a group that took no part in the match.
    """

    def __init__(self, path_pattern: str | re.Pattern[str]) -> None:
        self.regex = _compile_anchored(path_pattern, "path")
        named = len(self.regex.groupindex)
        if named and named != self.regex.groups:
            raise RoutePatternError(
                f"route pattern {self.regex.pattern!r} mixes named and positional groups; "
                "use only one kind"
            )
        self._named = named > 0
        self._has_groups = self.regex.groups > 0
        self._path, self._group_count = self._find_groups()

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        m = self.regex.match(request.path)
        if m is None:
            return None
        if not self._has_groups:
            return {}
        return self._params(m)

    def _params(self, m: re.Match[str]) -> dict[str, Any]:
        """The route parameters of a match of a pattern with groups."""
        if self._named:
            return {
                "path_args": [],
                "path_kwargs": {k: _unquote_or_none(v) for k, v in m.groupdict().items()},
            }
        return {"path_args": [_unquote_or_none(s) for s in m.groups()], "path_kwargs": {}}

    def reverse(self, *args: Any) -> str | None:
        """The path for ``args``, one per group in order, each percent-encoded
        (``str`` as UTF-8; other objects through ``str()``).

        Raises ``ValueError`` if the pattern cannot be reversed (it has
        non-capturing constructs or nested groups, or regex escapes with no
        literal meaning outside its groups) or ``args`` has the wrong length.
        """
        if self._path is None:
            raise ValueError(f"Cannot reverse url regex {self.regex.pattern}")
        if len(args) != self._group_count:
            raise ValueError(
                f"url regex {self.regex.pattern} takes {self._group_count} "
                f"argument(s), got {len(args)}"
            )
        quoted = []
        for arg in args:
            if not isinstance(arg, (str, bytes)):
                arg = str(arg)
            quoted.append(url_escape(utf8(arg), plus=False))
        return self._path % tuple(quoted)

    def _find_groups(self) -> tuple[str | None, int | None]:
        """The pattern as a ``%s`` template (literal ``%`` doubled) and its
        number of groups; ``(None, None)`` if it cannot be reversed.

        Outside groups, escapes stand for their character and other text is
        kept as written (Tornado's rule, which makes ``/index.html`` work).
        """
        pattern = self.regex.pattern
        if pattern.startswith("^"):
            pattern = pattern[1:]
        if _ends_with_anchor(pattern):
            pattern = pattern[:-1]
        pieces: list[str] = []
        literal: list[str] = []
        groups = 0
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch == "\\":
                try:
                    literal.append(re_unescape(pattern[i : i + 2]))
                except ValueError:
                    return None, None  # \d, \w...: no single character to write
                i += 2
            elif ch == "(":
                if pattern.startswith("(?", i) and not pattern.startswith("(?P<", i):
                    return None, None  # (?:...), lookarounds, inline flags
                pieces.append("".join(literal).replace("%", "%%"))
                literal = []
                pieces.append("%s")
                groups += 1
                i = _group_end(pattern, i)
            elif ch == "[":
                end = _class_end(pattern, i)
                literal.append(pattern[i:end])
                i = end
            else:
                literal.append(ch)
                i += 1
        pieces.append("".join(literal).replace("%", "%%"))
        if groups != self.regex.groups:
            return None, None  # nested groups: no one-to-one args
        return "".join(pieces), groups

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.regex.pattern!r})"


def _compile_anchored(pattern: str | re.Pattern[str], what: str) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, str):
            raise TypeError(f"{what} patterns must be text, got {pattern.pattern!r}")
        return pattern
    if not isinstance(pattern, str):
        raise TypeError(f"{what} patterns must be str or re.Pattern, got {pattern!r}")
    anchored = pattern if _ends_with_anchor(pattern) else pattern + "$"
    try:
        return re.compile(anchored)
    except re.error as e:
        raise RoutePatternError(
            f"invalid {what} pattern {pattern!r}: {e.msg}", pattern, e.pos
        ) from None


def _ends_with_anchor(pattern: str) -> bool:
    """Whether ``pattern`` ends with an unescaped ``$``."""
    if not pattern.endswith("$"):
        return False
    backslashes = len(pattern) - 1 - len(pattern[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _class_end(pattern: str, start: int) -> int:
    """Index just past the character class opening at ``start``."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1  # a ']' first in the class is literal
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    return i  # pragma: no cover - the pattern compiled: every class closes


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group opening at ``start`` (the pattern compiled,
    so its parentheses balance)."""
    depth = 0
    i = start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i  # pragma: no cover - the pattern compiled: every group closes


def _unquote_or_none(s: str | None) -> bytes | None:
    """Percent-decode a path group to bytes; None (a group that did not
    take part in the match) stays None. ``+`` is a literal plus in paths."""
    if s is None:
        return None
    return url_unescape(s, encoding=None, plus=False)
