"""ASGI both ways, in one run (``python -m bench asgi [--quick]``).

Hello world requests/s, wrk -t1 -c100, server on core 0 and wrk on core 1:

- a squall Application natively on squall's server, the same Application
  under uvicorn (``to_asgi``), and Starlette under uvicorn;
- FastAPI under uvicorn, and the same FastAPI app inside squall's server
  (``ASGIContainer``).

Peers whose package is missing are skipped with a line saying so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from bench._harness import SERVERS, measure_rounds, table

# (name shown, server script, packages it needs)
SQUALL_APP = [
    ("squall native", "squall_hello.py", ("squall",)),
    ("squall under uvicorn", "squall_uvicorn.py", ("uvicorn",)),
    ("starlette under uvicorn", "starlette_uvicorn.py", ("uvicorn", "starlette")),
]
FASTAPI_APP = [
    ("fastapi under uvicorn", "fastapi_uvicorn.py", ("uvicorn", "fastapi")),
    ("fastapi inside squall", "fastapi_squall.py", ("fastapi",)),
]


def _available(
    peers: Sequence[tuple[str, str, tuple[str, ...]]],
) -> list[tuple[str, str, tuple[()]]]:
    runnable = []
    for name, script, packages in peers:
        missing = [p for p in packages if importlib.util.find_spec(p) is None]
        if missing or not (SERVERS / script).exists():
            print(f"(skipped {name}: {', '.join(missing) or script} not available)")
            continue
        runnable.append((name, script, ()))
    return runnable


def main(argv: Sequence[str]) -> None:
    seconds, rounds = (3, 1) if "--quick" in argv else (5, 3)
    for arg in argv:
        if arg.startswith("--rounds="):
            rounds = int(arg.split("=", 1)[1])
    how = f"wrk -t1 -c100 -d{seconds}s, median of {rounds} interleaved rounds"
    first = measure_rounds(_available(SQUALL_APP), seconds=seconds, rounds=rounds)
    print(
        table(
            f"a squall app: native vs under uvicorn, and Starlette; {how}",
            first,
            baseline="squall native",
        )
    )
    print()
    second = measure_rounds(_available(FASTAPI_APP), seconds=seconds, rounds=rounds)
    print(
        table(
            f"a FastAPI app: under uvicorn vs inside squall; {how}",
            second,
            baseline="fastapi under uvicorn",
        )
    )
