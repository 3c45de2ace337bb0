"""Test support: unittest base classes, decorators and a pytest plugin.

``AsyncTestCase`` gives each test a fresh IOLoop; ``gen_test`` runs a test
method as a coroutine with a timeout; ``ExpectLog`` asserts a log line was
written (and keeps it out of the output); ``bind_unused_port`` opens a
listening socket on a free port; ``AsyncHTTPTestCase`` runs ``get_app()``
on a server and requests it with ``self.fetch(path)``. The pytest plugin
(fixtures ``io_loop``, ``http_server``, ``http_client``, ``base_url``,
``fetch``, given your ``app`` fixture) is loaded once squall is installed.
"""

from squall.testing._async import (
    AsyncTestCase,
    gen_test,
    get_async_test_timeout,
)
from squall.testing._expect_log import ExpectLog
from squall.testing._http import AsyncHTTPSTestCase, AsyncHTTPTestCase
from squall.testing._main import main, setup_with_context_manager
from squall.testing._ports import bind_unused_port

__all__ = [
    "AsyncHTTPSTestCase",
    "AsyncHTTPTestCase",
    "AsyncTestCase",
    "ExpectLog",
    "bind_unused_port",
    "gen_test",
    "get_async_test_timeout",
    "main",
    "setup_with_context_manager",
]
