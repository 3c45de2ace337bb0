"""``--reload``: notice changed source files by polling their mtimes.

Polling needs no dependency and behaves the same on every filesystem
(bind mounts and network shares included, where inotify misses changes).
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Iterator

from squall.log import gen_log

from ._options import RunnerConfig

__all__ = ["SourceWatcher"]

# How often the tree is scanned (uvicorn's and watchfiles' default poll).
RELOAD_POLL_INTERVAL = 0.5

# A scan stops after this many files, so a watched directory that turns out
# to hold a huge tree (a virtualenv, node_modules) costs bounded time.
RELOAD_MAX_FILES = 20_000


class SourceWatcher:
    """Call it on a timer; True when a watched file changed since last time."""

    def __init__(self, config: RunnerConfig) -> None:
        self.dirs = [os.path.abspath(d) for d in config.reload_dirs]
        self.includes = config.reload_includes
        self.excludes = config.reload_excludes
        self.next_scan = 0.0
        self.mtimes = self._scan()

    def _wanted(self, relative: str) -> bool:
        name = os.path.basename(relative)
        if any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in self.excludes):
            return False
        return any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in self.includes)

    def _files(self) -> Iterator[str]:
        seen = 0
        for top in self.dirs:
            for root, dirs, files in os.walk(top):
                relative_root = os.path.relpath(root, top)
                # Prune excluded directories (".git", "__pycache__") early.
                dirs[:] = [
                    d
                    for d in dirs
                    if not any(
                        fnmatch.fnmatch(d, g) or fnmatch.fnmatch(f"{d}/x", g) for g in self.excludes
                    )
                ]
                for name in files:
                    relative = name if relative_root == "." else f"{relative_root}/{name}"
                    if self._wanted(relative):
                        seen += 1
                        if seen > RELOAD_MAX_FILES:
                            return
                        yield os.path.join(root, name)

    def _scan(self) -> dict[str, float]:
        mtimes: dict[str, float] = {}
        for path in self._files():
            try:
                mtimes[path] = os.stat(path).st_mtime
            except OSError:
                continue  # removed between listing and stat
        return mtimes

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.next_scan:
            return False
        self.next_scan = now + RELOAD_POLL_INTERVAL
        current = self._scan()
        if current == self.mtimes:
            return False
        changed = sorted(
            p for p in current.keys() | self.mtimes.keys() if current.get(p) != self.mtimes.get(p)
        )
        self.mtimes = current
        gen_log.info("changed: %s", ", ".join(os.path.relpath(p) for p in changed[:5]))
        return True
