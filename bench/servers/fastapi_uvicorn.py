"""FastAPI's hello world under uvicorn."""

import sys

from asgi_hello_apps import fastapi_app, run_uvicorn

if __name__ == "__main__":
    run_uvicorn(fastapi_app(), int(sys.argv[1]))
