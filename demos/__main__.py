"""``python -m demos [--port N] [--processes N] [--pubsub URL]``: what ``make run`` starts.

It runs the most complete demo this checkout has: the chat room once it
exists, else the hello-world web app, else the HTTP server with a plain
callback, else the bare-IOLoop page (a socket served with ``add_handler``).
``--pubsub redis://127.0.0.1:6379/0`` makes the chat's processes one room.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import signal
import sys

# Most complete first; each module has main(port, processes).
CANDIDATES = [
    # The chat adds its WebSocket transport by itself when squall.websocket exists.
    ("demos.chat.app", "squall.web"),
    ("demos.hello.web_app", "squall.web"),
    ("demos.hello.server_callback", "squall.httpserver"),
    ("demos.hello.ioloop_page", "squall.ioloop"),
]


def _available(module: str, requires: str) -> bool:
    try:
        return (
            importlib.util.find_spec(module) is not None
            and importlib.util.find_spec(requires) is not None
        )
    except ModuleNotFoundError:
        return False


def _stop_cleanly_on_signals() -> None:
    """Ctrl-C or SIGTERM stops the IOLoop between callbacks, instead of
    raising KeyboardInterrupt in the middle of one."""
    from squall.ioloop import IOLoop

    def stop(signum: int, frame: object) -> None:
        io_loop = IOLoop.current(instance=False)
        if io_loop is None:
            raise KeyboardInterrupt
        io_loop.add_callback_from_signal(io_loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _check_pubsub_url(parser: argparse.ArgumentParser, url: str) -> None:
    """A URL no backend serves stops the launcher with a usage error."""
    try:
        from squall import pubsub
    except ImportError:
        return  # no pub/sub in this checkout: the demo ignores the option
    try:
        pubsub.connect(url)
    except (ValueError, ImportError) as e:
        parser.error(f"--pubsub: {e}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m demos", description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--processes", type=int, default=1, help="0 = one per CPU")
    parser.add_argument(
        "--pubsub",
        default=None,
        help="the chat's pub/sub hub: memory:// (default) or redis://host:port/db",
    )
    args = parser.parse_args(argv)
    if args.pubsub is not None:
        _check_pubsub_url(parser, args.pubsub)
    _stop_cleanly_on_signals()
    for module_name, requires in CANDIDATES:
        if _available(module_name, requires):
            module = importlib.import_module(module_name)
            print(f"squall demo ({module_name}) on http://{args.address}:{args.port}/", flush=True)
            options = {"port": args.port, "address": args.address, "processes": args.processes}
            if args.pubsub is not None:
                if "pubsub_url" not in inspect.signature(module.main).parameters:
                    print(f"{module_name} has no pub/sub; --pubsub ignored", file=sys.stderr)
                else:
                    options["pubsub_url"] = args.pubsub
            module.main(**options)
            return 0
    print("no demo available", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
