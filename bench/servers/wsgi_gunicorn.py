"""Flask hello world under gunicorn: one process, sync worker (replaces
this process, so the harness's SIGTERM reaches gunicorn's arbiter)."""

import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    argv = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync",
        "--bind", f"127.0.0.1:{sys.argv[1]}", "--chdir", here, "--log-level", "warning",
        "wsgi_flask_hello:app",
    ]  # fmt: skip
    os.execv(sys.executable, argv)
