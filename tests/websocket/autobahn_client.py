"""Drive squall's WebSocket client through an Autobahn fuzzing server.

The fuzzing server's protocol: ``/getCaseCount`` sends the number of cases
as a text message, ``/runCase?case=N&agent=A`` runs case N (the client
echoes every message back), ``/updateReports?agent=A`` ends the run.
"""

from __future__ import annotations

import sys

from squall.ioloop import IOLoop
from squall.websocket import websocket_connect

AGENT = "squall"

# Cases with 16 MiB messages (9.x) need room above Tornado's 10 MiB default.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024


async def run_cases(base_url: str) -> int:
    """Run every case the server offers; the number of cases run."""
    conn = await websocket_connect(base_url + "/getCaseCount")
    count = int(await conn.read_message() or 0)  # type: ignore[arg-type]
    conn.close()
    for case in range(1, count + 1):
        url = f"{base_url}/runCase?case={case}&agent={AGENT}"
        conn = await websocket_connect(
            url, compression_options={}, max_message_size=MAX_MESSAGE_SIZE
        )
        while True:
            message = await conn.read_message()
            if message is None:
                break
            try:
                await conn.write_message(message, binary=isinstance(message, bytes))
            except Exception:
                break
    conn = await websocket_connect(f"{base_url}/updateReports?agent={AGENT}")
    while await conn.read_message() is not None:
        pass
    return count


if __name__ == "__main__":
    print(IOLoop.current().run_sync(lambda: run_cases(sys.argv[1]), timeout=3600))
