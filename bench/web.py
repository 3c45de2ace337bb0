"""squall.web vs tornado.web vs aiohttp.web beyond hello world: a JSON
response, and a table of 50 regex routes with the request hitting the last.

``python -m bench web [--quick]`` (hello world itself: ``python -m bench hello``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bench._harness import Result, measure_rounds, table

SCENARIOS = [("json", "/json"), ("routes", f"/route{49}/squall")]
FRAMEWORKS = ["squall", "tornado", "aiohttp"]


def main(argv: Sequence[str]) -> None:
    seconds, rounds = (3, 1) if "--quick" in argv else (5, 3)
    for scenario, path in SCENARIOS:
        peers = [(framework, "web_scenarios.py", (framework, scenario)) for framework in FRAMEWORKS]
        results: list[Result] = measure_rounds(peers, path, seconds=seconds, rounds=rounds)
        title = f"web, {scenario} ({path}), wrk -t1 -c100 -d{seconds}s, median of {rounds} rounds"
        print(table(title, results))
        print()
