"""squall.testing's HTTP parts: AsyncHTTPTestCase, AsyncHTTPSTestCase and
the pytest fixtures (app, http_server, base_url, http_client, fetch)."""

from __future__ import annotations

import unittest

import pytest

from squall import gen
from squall.testing import AsyncHTTPSTestCase, AsyncHTTPTestCase, gen_test
from squall.web import Application, RequestHandler


class Hello(RequestHandler):
    def get(self):
        self.write("Hello " + self.request.protocol)


class Cases(AsyncHTTPTestCase):
    __test__ = False

    def get_app(self):
        return Application([("/", Hello)])

    def test_fetch(self):
        response = self.fetch("/")
        assert (response.code, response.body) == (200, b"Hello http")
        assert self.get_url("/x") == f"http://127.0.0.1:{self.get_http_port()}/x"

    def test_errors_are_returned(self):
        response = self.fetch("/missing")
        assert response.code == 404

    @gen_test
    async def test_client_directly(self):
        response = await self.http_client.fetch(self.get_url("/"))
        assert response.body == b"Hello http"

    def test_absolute_url(self):
        assert self.fetch(self.get_url("/")).code == 200


class SecureCases(AsyncHTTPSTestCase):
    __test__ = False

    def get_app(self):
        return Application([("/", Hello)])

    def test_fetch(self):
        response = self.fetch("/")
        assert response.body == b"Hello https"
        assert self.get_url("/").startswith("https://")


@pytest.mark.parametrize(
    ("case", "name"),
    [
        (Cases, n)
        for n in (
            "test_fetch",
            "test_errors_are_returned",
            "test_client_directly",
            "test_absolute_url",
        )
    ]
    + [(SecureCases, "test_fetch")],
)
def test_http_test_cases(case, name):
    result = unittest.TestResult()
    case(name).run(result)
    assert result.wasSuccessful(), result.errors + result.failures


@pytest.fixture
def app():
    return Application([("/", Hello)])


async def test_pytest_fetch_fixture(fetch, base_url, http_server, http_client):
    response = await fetch("/")
    assert (response.code, response.body) == (200, b"Hello http")
    assert base_url.startswith("http://127.0.0.1:")
    assert (await fetch("/nope")).code == 404
    response = await http_client.fetch(base_url + "/")
    assert response.code == 200
    await gen.sleep(0)
