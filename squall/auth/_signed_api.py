"""Calling a provider's API once signed in: the OAuth 1.0 signed request
(``twitter_request``, ``friendfeed_request``) and the OAuth 2 bearer
request (``oauth2_request``, ``facebook_request``) share this."""

from __future__ import annotations

import urllib.parse
from typing import Any

from squall.auth._common import json_body
from squall.httpclient import AsyncHTTPClient
from squall.httputil import url_concat

__all__ = ["api_fetch"]

# Tornado's client default; an API call is not part of the sign-in page.
API_REQUEST_TIMEOUT = 20.0


async def api_fetch(
    client: AsyncHTTPClient, url: str, query: dict[str, Any], post_args: dict[str, Any] | None
) -> Any:
    """GET ``url`` with ``query``, or POST ``post_args`` as a form; the JSON
    answer. A non-2xx answer raises ``HTTPClientError`` (as in Tornado); an
    answer that is not JSON, ``AuthError``."""
    if query:
        url = url_concat(url, {k: str(v) for k, v in query.items()})
    if post_args is not None:
        body = urllib.parse.urlencode({k: str(v) for k, v in post_args.items()})
        response = await client.fetch(
            url,
            method="POST",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            request_timeout=API_REQUEST_TIMEOUT,
        )
    else:
        response = await client.fetch(url, request_timeout=API_REQUEST_TIMEOUT)
    return json_body(response, f"Request to {url.split('?')[0]}")
