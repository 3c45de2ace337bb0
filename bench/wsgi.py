"""A Flask hello world served three ways, in the same run: squall's
WSGIContainer, gunicorn (sync worker, one process) and Tornado's
WSGIContainer.

``python -m bench wsgi [--quick]``: wrk -t1 -c100, server on core 0, wrk
on core 1 (see ``_harness``). Ratios are against Tornado's container.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench._harness import run_available_peers

# (name shown, server script, the Python package it needs)
PEERS = [
    ("squall WSGIContainer", "wsgi_squall.py", "flask"),
    ("gunicorn sync x1", "wsgi_gunicorn.py", "gunicorn"),
    ("tornado", "wsgi_tornado.py", "tornado"),
]


def main(argv: Sequence[str]) -> None:
    run_available_peers("Flask hello world over WSGI", PEERS, argv)
