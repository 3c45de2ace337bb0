"""``python -m squall.tornado PROGRAM [ARGS...]``: run a Tornado program on squall.

PROGRAM is a script path, or ``-m MODULE`` for a module, exactly as ``python``
takes them. The ``tornado`` alias (``squall.compat``) is installed first, and
``SQUALL_AS_TORNADO=1`` is put in the environment so that processes the
program starts (autoreload, test runners that spawn servers) get the alias
too through the ``.pth`` hook.
"""

from __future__ import annotations

import os
import runpy
import sys

from squall.compat import ALIAS_ENV_VAR, install_tornado

__all__ = ["main"]

_USAGE = "usage: python -m squall.tornado (PROGRAM | -m MODULE) [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    """Run the program named by ``argv`` (default ``sys.argv[1:]``) as __main__."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr)
        return 2
    os.environ[ALIAS_ENV_VAR] = "1"
    install_tornado()
    if args[0] == "-m":
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        module = args[1]
        # As "python -m": argv[0] becomes the module's file, found by runpy.
        sys.argv = [module, *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    program = args[0]
    if not os.path.exists(program):
        print(f"squall.tornado: cannot open {program!r}: no such file", file=sys.stderr)
        return 2
    sys.argv = [program, *args[1:]]
    # As "python script.py": the script's directory comes first on the path,
    # so the program's sibling modules import.
    sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
    runpy.run_path(program, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
