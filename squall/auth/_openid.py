"""OpenID 2.0 (OpenID Authentication 2.0, final): ``OpenIdMixin``.

The relying party's side of sections 9-11, in "dumb" (stateless) mode: the
visitor is sent to the provider with ``checkid_setup``; on their return the
response is checked here (return URL, endpoint, signed fields) and then sent
back to the provider with ``check_authentication`` (section 11.4.2), so
nothing in the redirect is trusted on its own word. Attribute Exchange 1.0
carries the name, e-mail, language and nickname.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from squall.auth._common import HandlerBase, absolute_url, deliver, provider_fetch
from squall.auth._errors import AuthError
from squall.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

__all__ = ["OpenIdMixin"]

OPENID_NS = "http://specs.openid.net/auth/2.0"
IDENTIFIER_SELECT = "http://specs.openid.net/auth/2.0/identifier_select"
AX_NS = "http://openid.net/srv/ax/1.0"
OAUTH_EXT_NS = "http://specs.openid.net/extensions/oauth/1.0"

# The AX attribute types (axschema.org) behind the names Tornado accepts.
AX_TYPES = {
    "firstname": "http://axschema.org/namePerson/first",
    "fullname": "http://axschema.org/namePerson",
    "lastname": "http://axschema.org/namePerson/last",
    "email": "http://axschema.org/contact/email",
    "language": "http://axschema.org/pref/language",
    "username": "http://axschema.org/namePerson/friendly",
}
# "name" asks for the three name attributes.
_AX_REQUEST_NAMES = {"name": ("firstname", "fullname", "lastname")}

# Section 10.1: fields a positive assertion must sign.
REQUIRED_SIGNED = ("op_endpoint", "return_to", "response_nonce", "assoc_handle")


def parse_key_value(body: bytes) -> dict[str, str]:
    """Key-Value Form Encoding (section 4.1.1): ``key:value`` lines."""
    fields: dict[str, str] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


class OpenIdMixin(HandlerBase):
    """Sign-in with an OpenID 2.0 provider at ``_OPENID_ENDPOINT``."""

    _OPENID_ENDPOINT: str = ""

    def authenticate_redirect(
        self,
        callback_uri: str | None = None,
        ax_attrs: Iterable[str] = ("name", "email", "language", "username"),
    ) -> None:
        """Send the visitor to the provider to sign in; they come back to
        ``callback_uri`` (default: this URL)."""
        args = self._openid_args(absolute_url(self, callback_uri), ax_attrs=ax_attrs)
        endpoint = self._OPENID_ENDPOINT
        self.redirect(endpoint + ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(args))

    def _openid_args(
        self,
        callback_uri: str,
        ax_attrs: Iterable[str] = (),
        oauth_scope: str | None = None,
    ) -> dict[str, str]:
        """The ``checkid_setup`` request (section 9.1) with AX and, for the
        Google hybrid, the OAuth extension."""
        url = absolute_url(self, callback_uri)
        args = {
            "openid.ns": OPENID_NS,
            "openid.claimed_id": IDENTIFIER_SELECT,
            "openid.identity": IDENTIFIER_SELECT,
            "openid.return_to": url,
            "openid.realm": urllib.parse.urljoin(url, "/"),
            "openid.mode": "checkid_setup",
        }
        names: list[str] = []
        for attr in ax_attrs:
            names.extend(_AX_REQUEST_NAMES.get(attr, (attr,)))
        if names:
            args["openid.ns.ax"] = AX_NS
            args["openid.ax.mode"] = "fetch_request"
            for name in names:
                if name not in AX_TYPES:
                    raise ValueError(f"Unknown AX attribute {name!r}")
                args["openid.ax.type." + name] = AX_TYPES[name]
            args["openid.ax.required"] = ",".join(names)
        if oauth_scope:
            args["openid.ns.oauth"] = OAUTH_EXT_NS
            args["openid.oauth.consumer"] = self.request.host.split(":")[0]
            args["openid.oauth.scope"] = oauth_scope
        return args

    def get_authenticated_user(
        self,
        http_client: AsyncHTTPClient | Callable[[Any], Any] | None = None,
        callback: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """The returning visitor, once the provider confirms the response:
        ``claimed_id`` and, as the provider sent them, ``name``,
        ``first_name``, ``last_name``, ``email``, ``locale``, ``username``.

        ``AuthError`` when the response is not a verified positive assertion
        (with ``callback``, also accepted first as in 1.x: ``None``).
        """
        if callable(http_client):
            callback, http_client = http_client, None
        return deliver(self._verified_openid_user(http_client), callback)

    def _openid_response(self) -> dict[str, str]:
        return {
            name: self.get_argument(name, strip=False)
            for name in self.request.arguments
            if name.startswith("openid.")
        }

    async def _verified_openid_user(self, http_client: AsyncHTTPClient | None) -> dict[str, Any]:
        response = self._openid_response()
        self._check_assertion(response)
        body = dict(response, **{"openid.mode": "check_authentication"})
        request = HTTPRequest(
            self._OPENID_ENDPOINT,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urllib.parse.urlencode(body),
        )
        client = http_client if http_client is not None else self.get_auth_http_client()
        answer = await provider_fetch(client, request, "Verifying the OpenID response")
        return self._on_authentication_verified(answer)

    def _check_assertion(self, response: dict[str, str]) -> None:
        """What the relying party checks itself before asking the provider."""
        mode = response.get("openid.mode")
        if mode == "cancel":
            raise AuthError("The visitor cancelled the OpenID sign-in")
        if mode != "id_res" or response.get("openid.ns") != OPENID_NS:
            raise AuthError(f"Not an OpenID 2.0 positive assertion (mode {mode!r})")
        # Section 11.2: the assertion must come from the endpoint we use.
        if response.get("openid.op_endpoint") != self._OPENID_ENDPOINT:
            raise AuthError("OpenID response from another endpoint")
        # Section 11.1: it must be addressed to this URL.
        self._check_return_to(response.get("openid.return_to", ""))
        signed = set(response.get("openid.signed", "").split(","))
        needed = list(REQUIRED_SIGNED)
        if "openid.claimed_id" in response:
            needed += ["claimed_id", "identity"]
        missing = [name for name in needed if name not in signed]
        if missing:
            raise AuthError(f"OpenID response does not sign {', '.join(missing)}")

    def _check_return_to(self, return_to: str) -> None:
        ours = urllib.parse.urlsplit(self.request.full_url())
        theirs = urllib.parse.urlsplit(return_to)
        if (theirs.scheme, theirs.netloc.lower(), theirs.path) != (
            ours.scheme,
            ours.netloc.lower(),
            ours.path,
        ):
            raise AuthError("OpenID return_to is not this URL")
        for name, value in urllib.parse.parse_qsl(theirs.query, keep_blank_values=True):
            if self.get_argument(name, None, strip=False) != value:
                raise AuthError(f"OpenID return_to parameter {name!r} does not match")

    def _signed_fields(self) -> dict[str, str]:
        """The response's fields the provider signed (the only ones used)."""
        response = self._openid_response()
        signed = response.get("openid.signed", "").split(",")
        return {
            "openid." + name: response["openid." + name]
            for name in signed
            if "openid." + name in response
        }

    def _extension_alias(self, fields: dict[str, str], namespace: str) -> str | None:
        for name, value in fields.items():
            if name.startswith("openid.ns.") and value == namespace:
                return name[len("openid.ns.") :]
        return None

    def _on_authentication_verified(self, response: HTTPResponse) -> dict[str, Any]:
        """Turn the provider's verdict into the user record."""
        verdict = parse_key_value(response.body)
        if verdict.get("is_valid") != "true":
            raise AuthError(f"Invalid OpenID response: {response.body!r}")
        fields = self._signed_fields()
        user: dict[str, Any] = {}
        alias = self._extension_alias(fields, AX_NS)
        if alias is not None:
            prefix = f"openid.{alias}."
            values: dict[str, str] = {}
            for name, type_uri in fields.items():
                if not name.startswith(prefix + "type."):
                    continue
                key = name[len(prefix + "type.") :]
                value = fields.get(prefix + "value." + key)
                if value is None:
                    value = fields.get(prefix + "value." + key + ".1")
                for ax_name, uri in AX_TYPES.items():
                    if uri == type_uri and value is not None:
                        values[ax_name] = value
            if "firstname" in values:
                user["first_name"] = values["firstname"]
            if "lastname" in values:
                user["last_name"] = values["lastname"]
            if "fullname" in values:
                user["name"] = values["fullname"]
            elif "firstname" in values or "lastname" in values:
                user["name"] = " ".join(
                    v for v in (values.get("firstname"), values.get("lastname")) if v
                )
            if "email" in values:
                user["email"] = values["email"]
            if "language" in values:
                user["locale"] = values["language"].lower()
            if "username" in values:
                user["username"] = values["username"]
        claimed_id = fields.get("openid.claimed_id")
        if claimed_id:
            user["claimed_id"] = claimed_id
        return user
