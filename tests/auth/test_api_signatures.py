"""squall.auth keeps Tornado 6's names and signatures: every public method
(and the documented hooks subclasses override) takes Tornado's parameters,
in Tornado's order, with the same defaults; squall may only add parameters
after them (``callback``, the 1.x style). Compared with the installed
Tornado through ``inspect.signature``."""

from __future__ import annotations

import inspect

import pytest

import squall.auth

tornado_auth = pytest.importorskip("tornado.auth")

CLASSES = [
    "OpenIdMixin",
    "OAuthMixin",
    "OAuth2Mixin",
    "TwitterMixin",
    "GoogleOAuth2Mixin",
    "FacebookGraphMixin",
]
KW_ONLY, VAR_KW = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD
HOOKS = {
    "_oauth_request_token_url",
    "_oauth_access_token_url",
    "_oauth_consumer_token",
    "_oauth_get_user_future",
    "_oauth_request_parameters",
    "_on_request_token",
    "_openid_args",
    "_on_authentication_verified",
}


def methods(cls):
    for name in dir(cls):
        if name.startswith("__") or (name.startswith("_") and name not in HOOKS):
            continue
        if callable(getattr(cls, name)):
            yield name


def normalised(default):
    return list(default) if isinstance(default, (list, tuple)) else default


@pytest.mark.parametrize("name", CLASSES)
def test_same_methods_and_parameters(name):
    theirs, ours = getattr(tornado_auth, name), getattr(squall.auth, name)
    for method in methods(theirs):
        assert hasattr(ours, method), f"{name}.{method} missing"
        their_all = inspect.signature(getattr(theirs, method)).parameters.values()
        our_all = inspect.signature(getattr(ours, method)).parameters.values()
        their_params = [p for p in their_all if p.kind not in (KW_ONLY, VAR_KW)]
        our_params = [p for p in our_all if p.kind not in (KW_ONLY, VAR_KW)]
        assert [p.name for p in our_params[: len(their_params)]] == [
            p.name for p in their_params
        ], f"{name}.{method}"
        for theirs_p, ours_p in zip(their_params, our_params[: len(their_params)], strict=True):
            # Same default; where Tornado requires the argument squall may
            # accept its absence (twitter_request's access_token: 1.x code
            # calls public endpoints without one).
            if theirs_p.default is not inspect.Parameter.empty:
                assert normalised(theirs_p.default) == normalised(ours_p.default), (
                    f"{name}.{method}({theirs_p.name})"
                )
        # Anything added has a default (callback=...), and **kwargs stay.
        for extra in [*our_params[len(their_params) :], *(p for p in our_all if p.kind == KW_ONLY)]:
            assert extra.default is not inspect.Parameter.empty, f"{name}.{method}: {extra.name}"
        assert any(p.kind == VAR_KW for p in their_all) == any(p.kind == VAR_KW for p in our_all)


@pytest.mark.parametrize("name", CLASSES)
def test_same_endpoint_attributes(name):
    theirs, ours = getattr(tornado_auth, name), getattr(squall.auth, name)
    for attr in dir(theirs):
        if attr.startswith(("_OAUTH", "_OPENID", "_TWITTER", "_FACEBOOK")):
            assert getattr(ours, attr) == getattr(theirs, attr), f"{name}.{attr}"


def test_same_public_names():
    theirs = {n for n in dir(tornado_auth) if n.endswith(("Mixin", "Error"))}
    assert theirs <= set(squall.auth.__all__)
    assert issubclass(squall.auth.AuthError, Exception)
