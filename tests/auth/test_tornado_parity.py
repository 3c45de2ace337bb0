"""The same sign-ins done by Tornado's mixins and by squall's, against the
same local providers: the parameters sent and the user records returned
must agree (squall adds its state/PKCE/nonce parameters, nothing else)."""

from __future__ import annotations

import pytest
from auth_harness import TornadoThread, query_of
from auth_oauth2_provider import CLIENT_ID, CLIENT_SECRET, Provider
from auth_openid_provider import OpenIdProvider

import squall.auth
import squall.web

tornado_auth = pytest.importorskip("tornado.auth")
tornado_web = pytest.importorskip("tornado.web")

pytestmark = [
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:openid\..*"),
    # Tornado 6.6 deprecates its OpenIdMixin (squall keeps it, unwarned).
    pytest.mark.filterwarnings("ignore:OpenIdMixin is deprecated:DeprecationWarning"),
]

SQUALL_EXTRAS = {"state", "code_challenge", "code_challenge_method", "nonce"}


def facebook_handler(web, auth, base):
    class Facebook(web.RequestHandler, auth.FacebookGraphMixin):
        _OAUTH_AUTHORIZE_URL = base + "/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/fb/access_token?"
        _FACEBOOK_BASE_URL = base + "/graph"

        async def get(self):
            here = f"{self.request.protocol}://{self.request.host}/fb"
            if self.get_argument("code", None):
                user = await self.get_authenticated_user(
                    redirect_uri=here,
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    code=self.get_argument("code"),
                    extra_fields={"email"},
                )
                self.write(user)
                return
            self.authorize_redirect(here, CLIENT_ID, extra_params={"scope": "email"})

    return Facebook


def google_handler(web, auth, base):
    class Google(web.RequestHandler, auth.GoogleOAuth2Mixin):
        _OAUTH_AUTHORIZE_URL = base + "/authorize"
        _OAUTH_ACCESS_TOKEN_URL = base + "/token"

        async def get(self):
            here = f"{self.request.protocol}://{self.request.host}/google"
            if self.get_argument("code", None):
                tokens = await self.get_authenticated_user(
                    redirect_uri=here, code=self.get_argument("code")
                )
                self.write({"keys": sorted(tokens)})
                return
            self.authorize_redirect(
                redirect_uri=here,
                client_id=CLIENT_ID,
                scope=["openid", "email"],
                extra_params={"approval_prompt": "auto"},
            )

    return Google


def openid_handler(web, auth, endpoint):
    class OpenId(web.RequestHandler, auth.OpenIdMixin):
        _OPENID_ENDPOINT = endpoint

        async def get(self):
            if self.get_argument("openid.mode", None):
                self.write(await self.get_authenticated_user())
                return
            self.authenticate_redirect(ax_attrs=["email"])

    return OpenId


def apps(make_handlers):
    settings = {"google_oauth": {"key": CLIENT_ID, "secret": CLIENT_SECRET}, "cookie_secret": "s"}
    tornado_app = tornado_web.Application(make_handlers(tornado_web, tornado_auth), **settings)
    squall_app = squall.web.Application(make_handlers(squall.web, squall.auth), **settings)
    return tornado_app, squall_app


@pytest.fixture
def oauth2_provider(wsgi):
    p = Provider()
    p.thread = wsgi(p)
    p.base = p.thread.base
    p.require_pkce = False  # Tornado sends no verifier
    return p


@pytest.fixture
def both(serve):
    threads = []

    def start(make_handlers):
        tornado_app, squall_app = apps(make_handlers)
        thread = TornadoThread(lambda port: tornado_app)
        threads.append(thread)
        return thread.base, serve(squall_app)

    yield start
    for thread in threads:
        thread.close()


async def test_facebook_graph(oauth2_provider, both, browser, other_browser):
    base = oauth2_provider.base
    tornado_site, squall_site = both(lambda web, auth: [("/fb", facebook_handler(web, auth, base))])
    theirs = await other_browser.get(tornado_site + "/fb")
    ours = await browser.get(squall_site + "/fb")
    assert theirs.status_code == ours.status_code == 200
    their_user, our_user = theirs.json(), ours.json()
    assert their_user.pop("access_token") != our_user.pop("access_token")
    assert their_user == our_user
    their_request = query_of(theirs.history[1].url)
    our_request = query_of(ours.history[1].url)
    assert their_request["redirect_uri"].replace(tornado_site, "") == "/fb"
    their_request.pop("redirect_uri"), our_request.pop("redirect_uri")
    assert {k: v for k, v in our_request.items() if k not in SQUALL_EXTRAS} == their_request


async def test_google_oauth2(oauth2_provider, both, browser, other_browser):
    base = oauth2_provider.base
    tornado_site, squall_site = both(
        lambda web, auth: [("/google", google_handler(web, auth, base))]
    )
    theirs = await other_browser.get(tornado_site + "/google")
    ours = await browser.get(squall_site + "/google")
    assert theirs.json() == ours.json()
    their_query = list(query_of(theirs.history[1].url))
    our_query = [k for k in query_of(ours.history[1].url) if k not in SQUALL_EXTRAS]
    assert their_query == our_query  # the same parameters, in the same order


async def test_openid(wsgi, both, browser, other_browser):
    provider = OpenIdProvider()
    provider.thread = wsgi(provider)
    provider.base = provider.thread.base
    tornado_site, squall_site = both(
        lambda web, auth: [("/openid", openid_handler(web, auth, provider.endpoint))]
    )
    theirs = await other_browser.get(tornado_site + "/openid")
    ours = await browser.get(squall_site + "/openid")
    assert theirs.status_code == ours.status_code == 200
    their_request = query_of(theirs.history[1].url)
    our_request = query_of(ours.history[1].url)
    for request, site in ((their_request, tornado_site), (our_request, squall_site)):
        assert request.pop("openid.return_to") == site + "/openid"
        assert request.pop("openid.realm") == site + "/"
    assert their_request == our_request
    # Both verified with the provider. python3-openid sends AX values in
    # the counted form (value.email.1), which squall reads and Tornado
    # does not: squall's record has the e-mail as well.
    assert ours.json() == dict(theirs.json(), email="alice@example.org")
