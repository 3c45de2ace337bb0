"""One Tornado test module, run with squall standing in for tornado.

Started by run_tornado_suite.py as ``python _child.py TEST_ROOT MODULE OUT``:
TEST_ROOT holds the extracted ``tornado/test`` package, MODULE is its short
name (``web_test``), OUT a file that receives one JSON line per test as it
finishes, so the parent keeps every result up to a hang.
"""

from __future__ import annotations

import ast
import importlib
import json
import logging
import os
import re
import sys
import threading
import traceback
import unittest
import warnings
from typing import Any, TextIO

from squall.compat import install_tornado

# One test's whole run, setUp to tearDown; Tornado's slowest single test
# takes a few seconds, so reaching this means a hang.
TEST_TIMEOUT = 30


# unittest's id for a class fixture's failure or skip: "setUpClass (mod.Class)".
_CLASS_FIXTURE = re.compile(r"(setUpClass|tearDownClass) \((.+)\)$")

# The exit status that tells the parent a test hung and the rest of the
# module is still to run (in a fresh interpreter).
HANG_EXIT = 3


class MissingPrivateName:
    """Stands in for a private Tornado helper squall does not have.

    Importing it succeeds, so the rest of the test module still runs; any use
    fails, and so do the tests that need it.
    """

    def __init__(self, module: str, name: str) -> None:
        self._where = f"{module}.{name}"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"harness stand-in: squall has no private {self._where}")

    __call__ = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    def __repr__(self) -> str:
        return f"<missing {self._where}>"


def serve_private_names(test_file: str) -> None:
    """Give every ``from tornado.X import _name`` a stand-in if squall lacks it."""
    with open(test_file, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if not node.module.startswith("tornado") or node.module.startswith("tornado.test"):
            continue
        try:
            module = importlib.import_module(node.module)
        except ImportError:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not hasattr(module, alias.name):
                setattr(module, alias.name, MissingPrivateName(node.module, alias.name))


class LineResult(unittest.TestResult):
    """Writes each finished test's outcome as a JSON line."""

    def __init__(self, out: TextIO, all_ids: list[str]) -> None:
        super().__init__()
        self._out = out
        self.all_ids = all_ids

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        # A hung test may be stuck in a loop callback, where an exception
        # raised from a signal handler would be swallowed: a watchdog
        # thread records the hang and ends the process instead.
        self._watchdog = threading.Timer(TEST_TIMEOUT, self._hung, args=(test.id(),))
        self._watchdog.daemon = True
        self._watchdog.start()

    def stopTest(self, test: unittest.TestCase) -> None:
        self._watchdog.cancel()
        super().stopTest(test)

    def _hung(self, test_id: str) -> None:
        detail = f"harness: still running after {TEST_TIMEOUT}s"
        self._out.write(json.dumps({"id": test_id, "outcome": "hang", "detail": detail}) + "\n")
        self._out.flush()
        os._exit(HANG_EXIT)

    def _write(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        test_id = test.id()
        ids = [test_id]
        class_level = _CLASS_FIXTURE.match(test_id)
        if class_level:
            # setUpClass skipped or failed: that decides every test of the class.
            prefix = class_level.group(2) + "."
            ids = [i for i in self.all_ids if i.startswith(prefix)] or ids
        for one in ids:
            self._out.write(json.dumps({"id": one, "outcome": outcome, "detail": detail}) + "\n")
        self._out.flush()

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._write(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._write(test, "fail", self.failures[-1][1])

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._write(test, "error", self.errors[-1][1])

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._write(test, "skip", reason)

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            # One failing subtest fails the test; unittest reports no
            # addFailure for it then.
            detail = self._exc_info_to_string(err, test)
            self._write(test, "fail", f"{subtest.id()}\n{detail}")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._write(test, "pass", "expected failure")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._write(test, "fail", "unexpected success")


def _all_tests(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    tests: list[unittest.TestCase] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            tests.extend(_all_tests(item))
        else:
            tests.append(item)
    return tests


def _all_ids(suite: unittest.TestSuite) -> list[str]:
    ids: list[str] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            ids.extend(_all_ids(item))
        else:
            ids.append(item.id())
    return ids


def main() -> int:
    test_root, module_name, out_path = sys.argv[1:4]
    real = os.environ.get("SQUALL_COMPAT_REAL") == "1"
    if not real:
        install_tornado()
    import tornado

    # The test package comes from the wheel; under the alias everything else
    # under the name is squall (in a baseline run, the installed Tornado).
    tornado.__path__.append(os.path.join(test_root, "tornado"))
    # As Tornado's runner does: warnings are errors, except the ones its
    # suite provokes on purpose.
    warnings.filterwarnings("error")
    warnings.filterwarnings("ignore", category=ResourceWarning, module="asyncio")
    # Tornado's runner keeps the access log quiet; its tests treat any other
    # log line they did not expect as a failure.
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)
    full_name = f"tornado.test.{module_name}"
    # Tests already run by an earlier interpreter (before a hang): skipped.
    done: set[str] = set()
    if os.path.exists(out_path):
        with open(out_path, encoding="utf-8") as previous:
            for line in previous:
                try:
                    done.add(json.loads(line)["id"])
                except (ValueError, KeyError):
                    pass
    with open(out_path, "a", encoding="utf-8") as out:
        try:
            if not real:
                serve_private_names(os.path.join(test_root, "tornado", "test", module_name + ".py"))
            suite = unittest.defaultTestLoader.loadTestsFromName(full_name)
        except Exception:
            out.write(
                json.dumps({"id": full_name, "outcome": "import", "detail": traceback.format_exc()})
                + "\n"
            )
            return 1
        if not done:
            out.write(
                json.dumps({"id": full_name, "outcome": "count", "ids": _all_ids(suite)}) + "\n"
            )
            out.flush()
        pending = unittest.TestSuite(t for t in _all_tests(suite) if t.id() not in done)
        pending.run(LineResult(out, _all_ids(suite)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
