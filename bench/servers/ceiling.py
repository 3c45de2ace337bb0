"""The ceiling: a bare httptools + uvloop protocol answering every request
with fixed bytes. No framework can be faster on this machine; squall's
number over this one says how much of the budget our code spends."""

import asyncio
import sys

import httptools
import uvloop

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello, world"


class Proto(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self):
        self.transport.write(RESPONSE)


async def main(port: int) -> None:
    await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        uvloop.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
