"""squall: a web framework and asynchronous networking library.

squall keeps Tornado's public API, module by module (``squall.web`` is
``tornado.web``), and runs it on asyncio transports, the httptools parser and
uvloop. The package itself exports only its version; import the modules you
use (``from squall import web, ioloop``).
"""

# version is a string, version_info a tuple that compares correctly; the
# fourth field is zero for a release and negative for a pre-release.
version = "0.1.0"
version_info = (0, 1, 0, 0)

__all__ = ["version", "version_info"]
