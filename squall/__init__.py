"""squall: a web framework and asynchronous networking library.

squall keeps Tornado's public API, module by module (``squall.web`` is
``tornado.web``), and runs it on asyncio transports, the httptools parser and
uvloop. The package exports its version, and gives its public modules as
attributes on first use (``import squall; squall.web.RequestHandler``), as
Tornado does since 6.3; ``from squall import web, ioloop`` works as always.
"""

from __future__ import annotations

import importlib
from typing import Any

# version is a string, version_info a tuple that compares correctly; the
# fourth field is zero for a release and negative for a pre-release.
version = "0.1.0"
version_info = (0, 1, 0, 0)

__all__ = ["version", "version_info"]

# The public modules attribute access imports on demand (PEP 562). Importing
# them all up front would cost every program the whole framework.
_LAZY_SUBMODULES = frozenset(
    {
        "auth",
        "autoreload",
        "compat",
        "concurrent",
        "curl_httpclient",
        "escape",
        "gen",
        "http1connection",
        "httpclient",
        "httpserver",
        "httputil",
        "ioloop",
        "iostream",
        "locale",
        "locks",
        "log",
        "netutil",
        "options",
        "platform",
        "process",
        "queues",
        "routing",
        "simple_httpclient",
        "tcpclient",
        "tcpserver",
        "template",
        "testing",
        "util",
        "web",
        "websocket",
        "wsgi",
    }
)


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            # A module of the list this install lacks (an optional one not
            # yet written): hasattr() must say False, not raise.
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES})
