"""squall.auth: third-party sign-in (Tornado's ``tornado.auth``).

Mix one of these into a ``RequestHandler``; each drives one protocol's
redirect-and-return flow and gives you a user record::

    class Login(squall.web.RequestHandler, squall.auth.GoogleOAuth2Mixin):
        async def get(self):
            if self.get_argument("code", False):
                tokens = await self.get_authenticated_user(
                    redirect_uri=MY_URL, code=self.get_argument("code"))
                ...
            else:
                self.authorize_redirect(redirect_uri=MY_URL, client_id=KEY,
                                        scope=["openid", "email"])

Protocols (private modules behind this facade):

- ``_openid``: OpenID 2.0 (``OpenIdMixin``)
- ``_oauth1`` / ``_oauth1_sign``: OAuth 1.0/1.0a and RFC 5849 signing
  (``OAuthMixin``)
- ``_oauth2`` / ``_oauth2_state``: OAuth 2 with state and PKCE
  (``OAuth2Mixin``)
- ``_oidc``: OpenID Connect (``OpenIDConnectMixin``; JOSE by joserfc, the
  ``squall[auth]`` extra)
- ``_providers``: ``TwitterMixin``, ``GoogleOAuth2Mixin``,
  ``FacebookGraphMixin``
- ``_legacy``: the 1.x ``GoogleMixin``, ``FacebookMixin``,
  ``FriendFeedMixin``
- ``_errors``: ``AuthError``

Every ``get_authenticated_user`` and ``*_request`` can be awaited, or given
``callback=`` (the 1.x style; the callback gets ``None`` on failure).
"""

from squall.auth._errors import AuthError
from squall.auth._legacy import FacebookMixin, FriendFeedMixin, GoogleMixin
from squall.auth._oauth1 import OAuthMixin
from squall.auth._oauth2 import OAuth2Mixin
from squall.auth._oidc import OpenIDConnectMixin
from squall.auth._openid import OpenIdMixin
from squall.auth._providers import FacebookGraphMixin, GoogleOAuth2Mixin, TwitterMixin

__all__ = [
    "AuthError",
    "FacebookGraphMixin",
    "FacebookMixin",
    "FriendFeedMixin",
    "GoogleMixin",
    "GoogleOAuth2Mixin",
    "OAuth2Mixin",
    "OAuthMixin",
    "OpenIDConnectMixin",
    "OpenIdMixin",
    "TwitterMixin",
]
