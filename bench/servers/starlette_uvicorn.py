"""Starlette's hello world under uvicorn."""

import sys

from asgi_hello_apps import run_uvicorn, starlette_app

if __name__ == "__main__":
    run_uvicorn(starlette_app(), int(sys.argv[1]))
