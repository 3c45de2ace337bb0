"""squall.web vs tornado.web vs aiohttp.web beyond hello world: a JSON
response, and a table of 50 regex routes with the request hitting the last.

``python -m bench web [--quick]`` (hello world itself: ``python -m bench hello``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench._harness import Result, measure, table

SCENARIOS = [("json", "/json"), ("routes", f"/route{49}/squall")]
FRAMEWORKS = ["squall", "tornado", "aiohttp"]


def main(argv: Sequence[str]) -> None:
    seconds = 3 if "--quick" in argv else 10
    for scenario, path in SCENARIOS:
        results: list[Result] = [
            measure(
                framework, "web_scenarios.py", path, seconds=seconds, args=(framework, scenario)
            )
            for framework in FRAMEWORKS
        ]
        print(table(f"web, {scenario} ({path}), wrk -t1 -c100 -d{seconds}s", results))
        print()
