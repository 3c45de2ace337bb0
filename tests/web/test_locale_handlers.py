"""RequestHandler.locale over real HTTP: Accept-Language with q-values,
get_user_locale, CSV and gettext translations in templates (the seeds'
localized sign-in page)."""

from __future__ import annotations

import pytest
from template.locale_helpers import ES_CSV, clean_locale, write_mo  # noqa: F401

from squall import locale
from squall.template import DictLoader
from squall.web import Application, RequestHandler

pytestmark = pytest.mark.usefixtures("clean_locale")

# Seed 001's localized template (its markup restored around the expressions).
SIGN_IN = (
    "<html><head><title>FriendFeed - {{ _('Sign in') }}</title></head><body>"
    '<form action="{{ request.path }}" method="post">'
    '<div>{{ _(\'Username\') }} <input type="text" name="username"/></div>'
    '<div>{{ _(\'Password\') }} <input type="password" name="password"/></div>'
    '<div><input type="submit" value="{{ _(\'Sign in\') }}"/></div>'
    "{{ xsrf_form_html() }}</form></body></html>"
)
LIKES = "{{ _('%(n)d person liked this', '%(n)d people liked this', n) % {'n': n} }}"


class SignIn(RequestHandler):
    def get(self):
        self.render("sign_in.html")


class Likes(RequestHandler):
    def get(self, n):
        self.render("likes.html", n=int(n))


class Code(RequestHandler):
    def get(self):
        self.write(self.locale.code)


class Preferred(RequestHandler):
    def get_user_locale(self):
        preference = self.get_argument("lang", None)
        return locale.get(preference) if preference else None

    def get(self):
        self.write(self.locale.code)


def make_app(**settings):
    return Application(
        [("/signin", SignIn), (r"/likes/(\d+)", Likes), ("/code", Code), ("/pref", Preferred)],
        template_loader=DictLoader({"sign_in.html": SIGN_IN, "likes.html": LIKES}),
        cookie_secret="secret",
        **settings,
    )


@pytest.fixture
def app(tmp_path):
    (tmp_path / "es.csv").write_text(ES_CSV, encoding="utf-8")
    (tmp_path / "fr_CA.csv").write_text('"Sign in","Connexion"\n', encoding="utf-8")
    locale.load_translations(str(tmp_path))
    return make_app()


def lang(value):
    return {"headers": {"Accept-Language": value}}


async def test_sign_in_page_in_spanish(fetch):
    body = (await fetch("/signin", **lang("es-GT,es;q=0.8,en;q=0.5"))).body.decode()
    assert "<title>FriendFeed - Iniciar sesión</title>" in body
    assert "Nombre de usuario" in body and "Contraseña" in body
    assert 'value="Iniciar sesión"' in body


async def test_sign_in_page_default_english(fetch):
    body = (await fetch("/signin")).body.decode()
    assert "<title>FriendFeed - Sign in</title>" in body and "Username" in body


@pytest.mark.skipif(
    not hasattr(RequestHandler, "xsrf_form_html"), reason="needs the security mixin"
)
class TestXsrfField:
    @pytest.fixture
    def app(self):
        return make_app(xsrf_cookies=True)

    async def test_xsrf_field_is_markup_not_escaped_text(self, fetch):
        body = (await fetch("/signin")).body.decode()
        assert '<input type="hidden" name="_xsrf" value="' in body
        assert "&lt;input" not in body


async def test_plurals_follow_accept_language(fetch):
    assert (await fetch("/likes/1", **lang("es"))).body.decode() == "A 1 persona le gustó esto"
    assert (await fetch("/likes/4", **lang("es"))).body.decode() == "A 4 personas les gustó esto"
    assert (await fetch("/likes/4", **lang("de"))).body == b"4 people liked this"
    assert (await fetch("/likes/1")).body == b"1 person liked this"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA", "fr_CA"),
        ("de, es;q=0.9", "es"),
        ("fr-CA;q=0.2, es;q=0.9", "es"),
        ("es;q=0.2, fr-ca;q=0.3", "fr_CA"),
        ("es;q=0, fr-CA;q=0.1", "fr_CA"),  # q=0 means "not this one"
        ("es;q=high, fr-CA;q=0.1", "fr_CA"),  # a malformed q is ignored
        ("es;q=2, fr-CA;q=0.1", "fr_CA"),  # out of range too
        ("es;level=1;q=0.5, fr-CA;q=0.4", "es"),
        ("*", "en_US"),
        (",,;;,", "en_US"),
        ("xx-YY", "en_US"),
    ],
)
async def test_browser_locale(fetch, header, expected):
    assert (await fetch("/code", **lang(header))).body.decode() == expected


async def test_user_locale_overrides_browser(fetch):
    assert (await fetch("/pref?lang=fr_CA", **lang("es"))).body == b"fr_CA"
    assert (await fetch("/pref", **lang("es"))).body == b"es"  # None falls back


class TestGettext:
    @pytest.fixture
    def app(self, tmp_path):
        write_mo(
            tmp_path / "es_ES" / "LC_MESSAGES" / "site.mo",
            {
                "Sign in": "Entrar",
                "%(n)d person liked this\0%(n)d people liked this": (
                    "le gustó a %(n)d persona\0le gustó a %(n)d personas"
                ),
            },
        )
        locale.load_gettext_translations(str(tmp_path), "site")
        return make_app()

    async def test_mo_catalog_in_templates(self, fetch):
        body = (await fetch("/signin", **lang("es-ES"))).body.decode()
        assert "<title>FriendFeed - Entrar</title>" in body
        assert "Username" in body  # not in the catalog
        assert (await fetch("/likes/3", **lang("es-es"))).body == "le gustó a 3 personas".encode()
        assert (await fetch("/likes/1", **lang("es_ES"))).body == "le gustó a 1 persona".encode()
