"""Run benchmarks: ``python -m bench [NAME ...]`` (default: all).

Each benchmark is a module ``bench/<name>.py`` with a ``main(argv)`` that
prints a markdown section; copy it into ``bench/RESULTS.md`` with the date,
the command and the machine.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name != "servers"
    )


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        # Without this, "--help" was taken as an option for every benchmark
        # and started the whole suite (about ten minutes).
        print(__doc__.strip())
        print(f"available: {', '.join(available())}")
        return 0
    names = [a for a in argv if not a.startswith("-")] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.main([a for a in argv if a.startswith("-")])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
