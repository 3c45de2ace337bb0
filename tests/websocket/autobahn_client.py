"""Drive squall's WebSocket client through an Autobahn fuzzing server.

The fuzzing server's protocol: ``/getCaseCount`` sends the number of cases
as a text message, ``/runCase?case=N&agent=A`` runs case N (the client
echoes every message back), ``/updateReports?agent=A`` ends the run.

Usage::

    python autobahn_client.py ws://127.0.0.1:9002 [-i CASE]... [-x CASE]...

Pass the same ``-i``/``-x`` selection the fuzzing server (``kosoku -m
fuzzingserver``) was started with. kosoku has no ``/getCaseInfo``, so the
driver learns which case id number N is from kosoku's own case index; it
needs that id to make the permessage-deflate offer the case expects.
"""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any

from squall.ioloop import IOLoop
from squall.websocket import websocket_connect

AGENT = "squall"

# Cases with 16 MiB messages (9.x) need room above Tornado's 10 MiB default.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024

# The permessage-deflate offer (RFC 7692 section 7) made for each 13.x
# group. The fuzzing server plays the server side of the negotiation and
# declines an offer (the case is then UNIMPLEMENTED) unless it carries what
# its answer needs: in 13.2, 13.5, 13.6 and 13.7 it answers with
# ``client_no_context_takeover`` (section 7.1.1.2), which it only sends to
# a client whose offer included that parameter. 13.3 and 13.4 (and 13.5,
# 13.6) answer with ``client_max_window_bits=9`` / ``=15``, which needs the
# bare ``client_max_window_bits`` every squall offer carries.
#
# The groups whose case text says the client asks for
# ``server_no_context_takeover`` get it too. Their ``server_max_window_bits``
# (9 or 15) is not offered: squall's client, like Tornado's, has no option
# for it, and the server's acceptance does not depend on it. 13.1, 13.3 and
# 13.4 keep the default offer so that our compressor's context takeover is
# exercised with the windows those cases impose.
NO_CONTEXT_TAKEOVER_BOTH_WAYS: dict[str, Any] = {
    "client_no_context_takeover": True,
    "server_no_context_takeover": True,
}
GROUP_OFFERS: dict[str, dict[str, Any]] = {
    "13.2": NO_CONTEXT_TAKEOVER_BOTH_WAYS,
    "13.5": NO_CONTEXT_TAKEOVER_BOTH_WAYS,
    "13.6": NO_CONTEXT_TAKEOVER_BOTH_WAYS,
    "13.7": NO_CONTEXT_TAKEOVER_BOTH_WAYS,
}
DEFAULT_OFFER: dict[str, Any] = {}


def compression_options_for(case_id: str) -> dict[str, Any]:
    """The ``compression_options`` to connect with for ``case_id``."""
    group = ".".join(case_id.split(".")[:2])
    return GROUP_OFFERS.get(group, DEFAULT_OFFER)


def selected_case_ids(include: list[str], exclude: list[str]) -> list[str]:
    """The fuzzing server's case ids, in the order it numbers them (1-based).

    kosoku's index lists every case in id order; ``include``/``exclude``
    are its ``-i``/``-x`` globs.
    """
    try:
        from kosoku.cases import CASES
    except ImportError:
        raise SystemExit("the driver needs kosoku: it numbers cases from its index") from None

    ids = [
        case_id
        for case_id in CASES
        if (not include or any(fnmatch.fnmatchcase(case_id, p) for p in include))
        and not any(fnmatch.fnmatchcase(case_id, p) for p in exclude)
    ]
    return ids


async def echo_until_closed(url: str, compression_options: dict[str, Any]) -> None:
    conn = await websocket_connect(
        url, compression_options=compression_options, max_message_size=MAX_MESSAGE_SIZE
    )
    while True:
        message = await conn.read_message()
        if message is None:
            return
        try:
            await conn.write_message(message, binary=isinstance(message, bytes))
        except Exception:
            return


async def run_cases(base_url: str, include: list[str], exclude: list[str]) -> int:
    """Run every case the server offers; the number of cases run."""
    conn = await websocket_connect(base_url + "/getCaseCount")
    count = int(await conn.read_message() or 0)  # type: ignore[arg-type]
    conn.close()
    case_ids = selected_case_ids(include, exclude)
    if len(case_ids) != count:
        raise SystemExit(
            f"the server runs {count} cases but -i/-x select {len(case_ids)}: "
            "pass the driver the fuzzing server's -i/-x options"
        )
    for number, case_id in enumerate(case_ids, start=1):
        url = f"{base_url}/runCase?case={number}&agent={AGENT}"
        await echo_until_closed(url, compression_options_for(case_id))
    conn = await websocket_connect(f"{base_url}/updateReports?agent={AGENT}")
    while await conn.read_message() is not None:
        pass
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Autobahn client cases.")
    parser.add_argument("url", help="the fuzzing server, e.g. ws://127.0.0.1:9002")
    parser.add_argument("-i", "--include", action="append", default=[], metavar="CASE")
    parser.add_argument("-x", "--exclude", action="append", default=[], metavar="CASE")
    args = parser.parse_args()
    count = IOLoop.current().run_sync(
        lambda: run_cases(args.url, args.include, args.exclude), timeout=3600
    )
    print(count)


if __name__ == "__main__":
    main()
