"""``AsyncHTTPTestCase``: a test case with an HTTP server and client."""

from __future__ import annotations

import os
import ssl
from typing import Any

from squall.httpclient import AsyncHTTPClient, HTTPResponse
from squall.httpserver import HTTPServer
from squall.testing._async import AsyncTestCase, get_async_test_timeout
from squall.testing._ports import bind_unused_port

# A self-signed certificate for localhost and 127.0.0.1, for tests only
# (as Tornado ships one): its private key is public.
TEST_CERT_DIR = os.path.dirname(__file__)


class AsyncHTTPTestCase(AsyncTestCase):
    """Starts ``get_app()`` on a free port; ``self.fetch(path)`` requests it.

    Override ``get_app``. ``self.http_client`` and ``self.http_server`` are
    available to tests; both are closed at tear-down.
    """

    def setUp(self) -> None:
        super().setUp()
        listener, self.__port = bind_unused_port()
        # The client comes first: get_app() implementations may use it.
        self.http_client = self.get_http_client()
        self._app = self.get_app()
        server = self.get_http_server()
        server.add_sockets([listener])
        self.http_server = server

    def tearDown(self) -> None:
        server = self.http_server
        server.stop()
        # Connections still open would outlive the test's loop.
        self.io_loop.run_sync(server.close_all_connections, timeout=get_async_test_timeout())
        self.http_client.close()
        del self.http_server, self._app
        super().tearDown()

    def get_app(self) -> Any:
        """The application to test: an ``Application`` or a request callback."""
        raise NotImplementedError()

    def get_http_client(self) -> AsyncHTTPClient:
        """The client ``fetch`` uses; by default the loop's shared one."""
        return AsyncHTTPClient()

    def get_http_server(self) -> HTTPServer:
        """The server for ``get_app()``, built with ``get_httpserver_options()``."""
        options = self.get_httpserver_options()
        return HTTPServer(self._app, **options)

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        """Request ``path`` (or a full URL) synchronously; return the response.

        Error statuses are returned, not raised, unless ``raise_error``.
        """
        if path.lower().startswith(("http://", "https://")):
            url = path
        else:
            url = self.get_url(path)
        return self.io_loop.run_sync(  # type: ignore[no-any-return]
            lambda: self.http_client.fetch(url, raise_error=raise_error, **kwargs),
            timeout=get_async_test_timeout(),
        )

    def get_httpserver_options(self) -> dict[str, Any]:
        """Keyword arguments for the ``HTTPServer``."""
        return {}

    def get_http_port(self) -> int:
        """The port the test server listens on (chosen at set-up)."""
        return self.__port

    def get_protocol(self) -> str:
        """The URL scheme of ``get_url``; the HTTPS variant says ``https``."""
        return "http"

    def get_url(self, path: str) -> str:
        """The absolute URL of ``path`` on the test server."""
        origin = f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}"
        return origin + path


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """``AsyncHTTPTestCase`` over TLS, with squall's self-signed test certificate."""

    def get_http_client(self) -> AsyncHTTPClient:
        return AsyncHTTPClient(force_instance=True, defaults=dict(validate_cert=False))

    def get_httpserver_options(self) -> dict[str, Any]:
        return dict(ssl_options=self.get_ssl_options())

    def get_ssl_options(self) -> dict[str, Any] | ssl.SSLContext:
        """The server's TLS settings; by default the bundled test certificate."""
        return AsyncHTTPSTestCase.default_ssl_options()

    @staticmethod
    def default_ssl_options() -> dict[str, Any]:
        """The bundled self-signed test certificate, as ``ssl_options``."""
        return dict(
            certfile=os.path.join(TEST_CERT_DIR, "test.crt"),
            keyfile=os.path.join(TEST_CERT_DIR, "test.key"),
        )

    def get_protocol(self) -> str:
        return "https"
