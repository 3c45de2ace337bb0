"""squall.web: the web framework (Tornado's ``tornado.web``).

A web application maps URL patterns to ``RequestHandler`` subclasses::

    class MainHandler(squall.web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    application = squall.web.Application([(r"/", MainHandler)])
    application.listen(8888)

The implementation lives in private modules; this package's names are the
public API:

- ``_handler``: RequestHandler (lifecycle, output, errors, ETags)
- ``_input``: arguments and cookies (mixed into RequestHandler)
- ``_application``: Application and the per-request delegate
- ``_handlers``: RedirectHandler, ErrorHandler, FallbackHandler
- ``_decorators``: asynchronous, authenticated, stream_request_body,
  addslash, removeslash
- ``_transforms``: OutputTransform, GZipContentEncoding
- ``_render``: render, render_string, locale (mixed into RequestHandler)
- ``_uimodules``: UIModule, TemplateModule
- ``_errors``: HTTPError, MissingArgumentError, Finish
- ``_security``: signed cookies (``_signing``), current_user, XSRF and
  cross-origin checks (``_xsrf``), static_url (mixed into RequestHandler)
- ``_static``: StaticFileHandler
"""

from squall import routing as _routing
from squall.web._application import Application
from squall.web._decorators import (
    addslash,
    asynchronous,
    authenticated,
    removeslash,
    stream_request_body,
)
from squall.web._errors import Finish, HTTPError, MissingArgumentError
from squall.web._handler import RequestHandler
from squall.web._handlers import ErrorHandler, FallbackHandler, RedirectHandler
from squall.web._signing import (
    DEFAULT_SIGNED_VALUE_MIN_VERSION,
    DEFAULT_SIGNED_VALUE_VERSION,
    MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    MIN_SUPPORTED_SIGNED_VALUE_VERSION,
    _create_signature_v1,  # noqa: F401  (Tornado's private name, used by its tests)
    _create_signature_v2,  # noqa: F401
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from squall.web._static import StaticFileHandler
from squall.web._transforms import GZipContentEncoding, OutputTransform
from squall.web._uimodules import TemplateModule, UIModule

# The routing classes live in squall.routing; they are repeated here because
# applications build their rule tables from ``squall.web`` names.
AnyMatches = _routing.AnyMatches
DefaultHostMatches = _routing.DefaultHostMatches
HostMatches = _routing.HostMatches
ReversibleRouter = _routing.ReversibleRouter
ReversibleRuleRouter = _routing.ReversibleRuleRouter
Rule = _routing.Rule
URLSpec = _routing.URLSpec
url = URLSpec

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "AnyMatches",
    "Application",
    "DefaultHostMatches",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "HostMatches",
    "MissingArgumentError",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "Rule",
    "StaticFileHandler",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "addslash",
    "asynchronous",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
    "is_absolute",
    "removeslash",
    "stream_request_body",
    "url",
]


def is_absolute(path: str) -> bool:
    """Whether ``path`` needs no prefix to be used as a URL: it starts at the
    root (``/``) or names its scheme (``http:`` / ``https:``, exact case).
    ``static_url`` uses this to leave such paths alone."""
    return path.startswith(("/", "http:", "https:"))
