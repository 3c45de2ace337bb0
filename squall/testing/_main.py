"""Running test modules from the command line, and context managers in setUp."""

from __future__ import annotations

import sys
import unittest
from typing import Any

__all__ = ["main", "setup_with_context_manager"]


def setup_with_context_manager(testcase: unittest.TestCase, cm: Any) -> Any:
    """Enter ``cm`` now and leave it when ``testcase`` is cleaned up.

    For ``setUp``: whatever ``cm.__enter__`` returns comes back, and the
    exit is registered with ``addCleanup`` so it runs even if a later step
    of ``setUp`` fails.
    """
    value = cm.__enter__()
    testcase.addCleanup(cm.__exit__, None, None, None)
    return value


def main(**kwargs: Any) -> None:
    """Run tests named on the command line, with squall's options parsed first.

    ``python -m squall.testing my.tests`` style: squall's command-line
    options (``--logging=...`` and those the program defines) are taken out
    of ``sys.argv``, the rest goes to ``unittest.main``. With no test names,
    ``all()`` from ``__main__`` is run if it exists. ``kwargs`` are passed to
    ``unittest.main``; ``exit`` defaults to True as there.
    """
    from squall.options import define, options, parse_command_line

    if "exception_on_interrupt" not in options:
        define(
            "exception_on_interrupt",
            type=bool,
            default=True,
            help="If true (default), ctrl-c raises a KeyboardInterrupt",
        )
    argv = [sys.argv[0], *parse_command_line(sys.argv)]
    if "buffer" not in kwargs and "--buffer" not in argv and "-b" not in argv:
        kwargs["buffer"] = False
    if len(argv) > 1:
        unittest.main(module=None, argv=argv, **kwargs)
    else:
        unittest.main(defaultTest="all", argv=argv, **kwargs)
