"""The seeds' handlers that call other services with the HTTP client."""

from __future__ import annotations

import pytest

import squall.web
from squall import gen
from squall.httpclient import AsyncHTTPClient
from squall.testing import ExpectLog
from squall.web import Application, HTTPError, RequestHandler


class Thing(RequestHandler):
    def get(self):
        self.write("the thing")


class Empty(RequestHandler):
    def get(self):
        self.set_status(204)


class AsyncHandler(RequestHandler):
    """Seed 004, with the service's URL made local."""

    @squall.web.asynchronous
    def get(self):
        service = AsyncHTTPClient()
        path = self.get_argument("path", "/other/thing")
        service.fetch(self.settings["base"] + path, callback=self._callback)
        # request stays open...

    def _callback(self, response):
        if response.body:
            self.write(response.body)
        else:
            raise HTTPError(500, "We couldn't find it.")
        # without finish, the request never closes
        self.finish()


class GenHandler(RequestHandler):
    @gen.coroutine
    def get(self):
        http = AsyncHTTPClient()
        response = yield http.fetch(self.settings["base"] + "/other/thing")
        self.write(b"gen: " + response.body)


class AwaitHandler(RequestHandler):
    async def get(self):
        response = await AsyncHTTPClient().fetch(self.settings["base"] + "/other/thing")
        self.write(b"await: " + response.body)


@pytest.fixture
def app(http_server_port):
    base = f"http://127.0.0.1:{http_server_port[1]}"
    return Application(
        [
            ("/other/thing", Thing),
            ("/empty", Empty),
            ("/async", AsyncHandler),
            ("/gen", GenHandler),
            ("/await", AwaitHandler),
        ],
        base=base,
    )


async def test_seed_asynchronous_fetch_callback(fetch):
    response = await fetch("/async")
    assert (response.code, response.body) == (200, b"the thing")


async def test_seed_callback_raising_http_error_reaches_the_handler(fetch):
    with ExpectLog("squall.general", ".*We couldn't find it"):
        response = await fetch("/async?path=/empty")
    assert response.code == 500


async def test_gen_coroutine_yield_fetch_and_async_await(fetch):
    assert (await fetch("/gen")).body == b"gen: the thing"
    assert (await fetch("/await")).body == b"await: the thing"
