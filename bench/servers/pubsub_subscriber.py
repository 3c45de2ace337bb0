"""The receiving process of the pub/sub throughput benchmark.

``python pubsub_subscriber.py IMPL REDIS_URL CHANNEL COUNT``: subscribes
with ``squall.pubsub`` or ``broadcaster``, prints ``ready``, then ``done``
once COUNT messages have arrived.
"""

from __future__ import annotations

import asyncio
import sys


async def with_squall(url: str, channel: str, count: int) -> None:
    from squall import pubsub

    async with pubsub.connect(url) as hub, hub.subscribe(channel, queue_size=count) as sub:
        print("ready", flush=True)
        received = 0
        async for _ in sub:
            received += 1
            if received == count:
                break
    print("done", flush=True)


async def with_broadcaster(url: str, channel: str, count: int) -> None:
    from broadcaster import Broadcast

    broadcast = Broadcast(url)
    await broadcast.connect()
    try:
        async with broadcast.subscribe(channel) as sub:
            # broadcaster subscribes in the background: give it a moment.
            await asyncio.sleep(0.5)
            print("ready", flush=True)
            received = 0
            async for _ in sub:
                received += 1
                if received == count:
                    break
    finally:
        await broadcast.disconnect()
    print("done", flush=True)


def main(argv: list[str]) -> None:
    impl, url, channel, count = argv[0], argv[1], argv[2], int(argv[3])
    runner = with_squall if impl == "squall" else with_broadcaster
    try:
        import uvloop

        uvloop.run(runner(url, channel, count))
    except ImportError:
        asyncio.run(runner(url, channel, count))


if __name__ == "__main__":
    main(sys.argv[1:])
