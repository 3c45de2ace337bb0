"""A second OS process for the cross-process tests (not a test module).

``python peer.py URL publish CHANNEL COUNT``: publish COUNT messages
``{"i": n, "pid": ...}`` once a line arrives on stdin, then print ``done``.
``python peer.py URL subscribe CHANNEL COUNT``: print ``ready`` once
subscribed, then one JSON line per message received, until COUNT.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from squall import pubsub


async def publish(url: str, channel: str, count: int) -> None:
    async with pubsub.connect(url) as hub:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for n in range(count):
            await hub.publish(channel, {"i": n, "pid": os.getpid()})
        print("done", flush=True)


async def subscribe(url: str, channel: str, count: int) -> None:
    async with pubsub.connect(url) as hub, hub.subscribe(channel) as sub:
        print("ready", flush=True)
        received = 0
        async for event in sub:
            if isinstance(event, pubsub.Message):
                print(json.dumps({"data": event.data, "publisher": event.publisher}), flush=True)
                received += 1
                if received == count:
                    break
            else:
                print(json.dumps({"gap": event.reason}), flush=True)


def main() -> None:
    url, role, channel, count = sys.argv[1:5]
    runner = publish if role == "publish" else subscribe
    asyncio.run(runner(url, channel, int(count)))


if __name__ == "__main__":
    main()
