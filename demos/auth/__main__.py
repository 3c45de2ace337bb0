"""``python -m demos.auth [--port N] [--issuer URL --client-id ID --client-secret S]
[--provider-host H]``."""

from __future__ import annotations

import argparse

from demos.auth.app import main


def run() -> None:
    parser = argparse.ArgumentParser(prog="python -m demos.auth")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--issuer", help="an OpenID Connect issuer (default: the demo's own)")
    parser.add_argument("--client-id", default="squall-demo")
    parser.add_argument("--client-secret")
    parser.add_argument(
        "--provider-host",
        default="127.0.0.1",
        help="host name of the built-in provider (localhost: another site than the app)",
    )
    args = parser.parse_args()
    print(f"squall sign-in demo on http://{args.address}:{args.port}/", flush=True)
    try:
        main(
            args.port,
            args.address,
            issuer=args.issuer,
            client_id=args.client_id,
            client_secret=args.client_secret,
            provider_host=args.provider_host,
        )
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    run()
