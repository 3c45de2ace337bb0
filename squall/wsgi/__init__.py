"""squall.wsgi: WSGI in both directions (Tornado's ``tornado.wsgi``).

Host a WSGI application (Flask, Django...) in squall's HTTP server::

    from squall.wsgi import WSGIContainer
    container = WSGIContainer(flask_app)       # runs on a bounded thread pool
    HTTPServer(container).listen(8888)

Serve a squall application from any WSGI server (gunicorn, waitress,
wsgiref, CGI)::

    application = squall.wsgi.WSGIApplication([(r"/", MainHandler)])
    # gunicorn mymodule:application

The implementation lives in private modules:

- ``_container``: WSGIContainer and the loop side of a hosted request
- ``_response``: the worker side (start_response, write(), file_wrapper)
- ``_input``: the streamed ``wsgi.input``
- ``_environ``: the PEP 3333 environ built from a request
- ``_pool``: the bounded thread pool
- ``_adapter``: WSGIAdapter and WSGIApplication
- ``_errors``: the error tree
"""

from squall.wsgi._adapter import WSGIAdapter, WSGIApplication
from squall.wsgi._container import RETRY_AFTER_SECONDS, WSGIContainer
from squall.wsgi._errors import ClientDisconnected, WSGIError, WSGIUnsupportedError
from squall.wsgi._input import BODY_BUFFER_LIMIT
from squall.wsgi._pool import DEFAULT_MAX_QUEUED, DEFAULT_MAX_WORKERS
from squall.wsgi._response import FileWrapper

__all__ = [
    "BODY_BUFFER_LIMIT",
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_MAX_WORKERS",
    "RETRY_AFTER_SECONDS",
    "ClientDisconnected",
    "FileWrapper",
    "WSGIAdapter",
    "WSGIApplication",
    "WSGIContainer",
    "WSGIError",
    "WSGIUnsupportedError",
]
