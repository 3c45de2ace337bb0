"""Tornado's own test suite, run against squall: ``make compat``.

Downloads Tornado's wheel from PyPI at run time (``pip download``, into a
cache directory outside the repository), extracts ``tornado/test/``, and runs
each test module in its own interpreter with squall standing in for
``tornado`` (``_child.py``). Prints a per-module table and the line
``tornado suite: P/T pass``.

Tests listed in ``not_applicable.txt`` count as failed whatever they do;
tests a module never reached (an import failure, a hang cut off by the
timeout) count as failed too.

Options: ``--module NAME`` (repeatable) runs only those modules;
``--real`` runs the same suite against the installed Tornado, as a baseline;
``--json PATH`` writes every test's outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

TORNADO_VERSION = "6.6.1"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Outside the repository, so nothing downloaded can be committed by mistake.
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "squall-compat"
# _child.py's exit status after recording a hung test.
HANG_EXIT = 3
# Fresh interpreters one module may take after hangs.
MAX_RESTARTS = 40
# One module's whole run, a backstop: each test is already cut off after
# _child.TEST_TIMEOUT, but a hang inside C code ignores that.
MODULE_TIMEOUT = 900.0
# pip's download of one wheel from the index.
DOWNLOAD_TIMEOUT = 300.0


def fetch_tests(cache: Path) -> Path:
    """Tornado's test package, extracted once per version into the cache."""
    root = cache / f"tornado-{TORNADO_VERSION}-tests"
    marker = root / ".complete"
    if marker.exists():
        return root
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = list(wheels.glob(f"tornado-{TORNADO_VERSION}-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheels),
                f"tornado=={TORNADO_VERSION}",
            ],
            check=True,
            timeout=DOWNLOAD_TIMEOUT,
        )
        found = list(wheels.glob(f"tornado-{TORNADO_VERSION}-*.whl"))
    with zipfile.ZipFile(found[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith("tornado/test/"):
                wheel.extract(name, root)
    marker.touch()
    return root


def test_modules(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "tornado" / "test").glob("*_test.py"))


def load_not_applicable() -> dict[str, str]:
    reasons: dict[str, str] = {}
    for line in (HERE / "not_applicable.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" ")
        reasons[test_id] = reason.strip().lstrip("#").strip()
    return reasons


def run_module(root: Path, module: str, real: bool, out: Path) -> tuple[list[dict], bool]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if real:
        env["SQUALL_COMPAT_REAL"] = "1"
        env.pop("SQUALL_AS_TORNADO", None)
    else:
        # Servers and runners the tests start get the alias through the hook.
        env["SQUALL_AS_TORNADO"] = "1"
    env.setdefault("ASYNC_TEST_TIMEOUT", "10")
    timed_out = False
    out.unlink(missing_ok=True)
    deadline = time.monotonic() + MODULE_TIMEOUT
    with open(os.devnull, "w") as devnull:
        # A child that finds a hung test records it and exits with
        # HANG_EXIT; a new one carries on with the tests not yet run.
        for _ in range(MAX_RESTARTS):
            try:
                child = subprocess.run(
                    [sys.executable, str(HERE / "_child.py"), str(root), module, str(out)],
                    cwd=str(root),
                    env=env,
                    stdout=devnull,
                    stderr=devnull,
                    timeout=max(1.0, deadline - time.monotonic()),
                    check=False,
                )
            except subprocess.TimeoutExpired:
                timed_out = True
                break
            if child.returncode != HANG_EXIT:
                break
    lines = []
    if out.exists():
        for line in out.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass  # the last line of a killed child may be cut short
    return lines, timed_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", default=[])
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--min-pass", type=int, default=0, help="exit 1 if fewer tests pass (a CI floor)"
    )
    args = parser.parse_args()

    root = fetch_tests(args.cache)
    modules = args.module or test_modules(root)
    not_applicable = {} if args.real else load_not_applicable()
    # The denominators: every test id each module has when it runs on
    # Tornado itself, so that a module failing to import here still counts
    # all of its tests.
    reference_path = args.cache / f"reference-ids-{TORNADO_VERSION}.json"
    reference: dict[str, list[str]] = {}
    if reference_path.exists():
        reference = json.loads(reference_path.read_text())
    # Tests Tornado itself skips here (no pycurl, no network, abstract base
    # classes): skipped on squall too, they count as passed; any other skip
    # counts as failed.
    skips_path = args.cache / f"reference-skips-{TORNADO_VERSION}.json"
    reference_skips: set[str] = set()
    if skips_path.exists():
        reference_skips = set(json.loads(skips_path.read_text()))
    results_dir = args.cache / ("results-real" if args.real else "results")
    results_dir.mkdir(parents=True, exist_ok=True)
    all_outcomes: dict[str, dict] = {}
    rows = []
    total_pass = total = 0
    for module in modules:
        started = time.monotonic()
        lines, timed_out = run_module(root, module, args.real, results_dir / f"{module}.jsonl")
        ids: list[str] = []
        outcomes: dict[str, dict] = {}
        note = ""
        for item in lines:
            if item["outcome"] == "count":
                ids = [
                    i for i in dict.fromkeys(item["ids"]) if not i.startswith("unittest.loader.")
                ]
            elif item["outcome"] == "import":
                note = "import failed: " + item["detail"].strip().splitlines()[-1]
            else:
                outcomes[item["id"]] = item
        if args.real:
            reference[module] = ids
        else:
            ids = sorted(set(ids) | set(reference.get(module, [])))
            if not reference.get(module):
                note = (note + " (no baseline count)").strip()
        outcomes = {k: v for k, v in outcomes.items() if k in set(ids)}
        for test_id in ids:
            outcomes.setdefault(
                test_id, {"id": test_id, "outcome": "hang" if timed_out else "lost"}
            )
        for test_id, reason in not_applicable.items():
            if test_id in outcomes:
                outcomes[test_id] = {"id": test_id, "outcome": "n/a", "detail": reason}
        if args.real:
            reference_skips.update(i for i, o in outcomes.items() if o["outcome"] == "skip")
        passed = sum(
            1
            for i, o in outcomes.items()
            if o["outcome"] == "pass"
            or (o["outcome"] == "skip" and (args.real or i in reference_skips))
        )
        skipped = sum(1 for o in outcomes.values() if o["outcome"] == "skip")
        count = len(ids) if ids else 0
        if timed_out:
            note = (note + " timed out").strip()
        rows.append((module, passed, count, skipped, note, time.monotonic() - started))
        total_pass += passed
        total += count
        all_outcomes.update(outcomes)
        print(f"{module:28} {passed:5}/{count:<5} skip {skipped:3}  {note[:70]}", flush=True)

    if args.real:
        reference_path.write_text(json.dumps(reference, indent=1))
        skips_path.write_text(json.dumps(sorted(reference_skips), indent=1))
    print()
    print("| module | pass | total | skipped | note |")
    print("|---|---:|---:|---:|---|")
    for module, passed, count, skipped, note, _ in rows:
        print(f"| {module} | {passed} | {count} | {skipped} | {note[:60]} |")
    print()
    print(f"tornado suite: {total_pass}/{total} pass")
    if args.json:
        args.json.write_text(json.dumps(all_outcomes, indent=1))
    if total_pass < args.min_pass:
        print(f"below the floor: {total_pass} < {args.min_pass}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
