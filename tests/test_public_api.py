"""Pins every public module's exported names.

A change here is a change to squall's API: make it on purpose, and update
this list in the same commit. Each name must also exist in its module.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API: dict[str, list[str]] = {
    "squall": ["version", "version_info"],
    "squall.util": [
        "ArgReplacer",
        "Configurable",
        "GzipDecompressor",
        "ObjectDict",
        "TimeoutError",
        "basestring_type",
        "errno_from_exception",
        "import_object",
        "raise_exc_info",
        "re_unescape",
        "timedelta_to_seconds",
        "unicode_type",
    ],
    "squall.ioloop": ["IOLoop", "PeriodicCallback"],
    "squall.concurrent": [
        "DummyExecutor",
        "FUTURES",
        "Future",
        "chain_future",
        "dummy_executor",
        "future_add_done_callback",
        "future_set_exc_info",
        "future_set_exception_unless_cancelled",
        "future_set_result_unless_cancelled",
        "is_future",
        "run_on_executor",
    ],
    "squall.gen": [
        "BadYieldError",
        "KeyReuseError",
        "LeakedCallbackError",
        "Return",
        "ReturnValueIgnoredError",
        "Task",
        "TimeoutError",
        "UnknownKeyError",
        "WaitIterator",
        "convert_yielded",
        "coroutine",
        "is_coroutine_function",
        "maybe_future",
        "moment",
        "multi",
        "multi_future",
        "sleep",
        "with_timeout",
    ],
    "squall.testing": [
        "AsyncTestCase",
        "ExpectLog",
        "bind_unused_port",
        "gen_test",
        "get_async_test_timeout",
    ],
    "squall.log": [
        "LogFormatter",
        "access_log",
        "app_log",
        "define_logging_options",
        "enable_pretty_logging",
        "gen_log",
    ],
    "squall.options": [
        "Error",
        "OptionParser",
        "add_parse_callback",
        "define",
        "options",
        "parse_command_line",
        "parse_config_file",
        "print_help",
    ],
    "squall.locks": ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"],
    "squall.queues": ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"],
    "squall.platform.asyncio": [
        "AsyncIOLoop",
        "AsyncIOMainLoop",
        "BaseAsyncIOLoop",
        "to_asyncio_future",
        "to_tornado_future",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_exports_are_pinned(module_name):
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC_API[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"
