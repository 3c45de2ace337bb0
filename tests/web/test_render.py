"""RequestHandler.render and UI modules over real HTTP: the seeds' pages,
the template namespace, settings, and per-page CSS/JavaScript."""

from __future__ import annotations

import os
import re

import pytest

from squall.template import DictLoader
from squall.testing import ExpectLog
from squall.web import Application, RequestHandler, TemplateModule, UIModule

TEMPLATES = {
    # Seed 001's first template.
    "template.html": (
        "<html>\n   <head>\n      <title>{{ title }}</title>\n   </head>\n   <body>\n"
        "     <ul>\n       {% for item in items %}\n         <li>{{ escape(item) }}</li>\n"
        "       {% end %}\n     </ul>\n   </body>\n </html>\n"
    ),
    # Seed 001's UI module pages.
    "home.html": (
        "<html><head><title>Home</title></head><body>"
        "{% for entry in entries %}{{ modules.Entry(entry) }}{% end %}</body></html>"
    ),
    "entry.html": (
        "<html><head><title>Entry</title></head><body>"
        "{% module Entry(entry, show_comments=True) %}</body></html>"
    ),
    "module-entry.html": (
        '<div class="entry">{{ entry["title"] }}'
        "{% if show_comments %}<p>comments</p>{% end %}</div>"
    ),
    "namespace.html": (
        "{{ handler is request_handler }}|{{ request.path }}|{{ current_user }}|"
        "{{ locale.code }}|{{ _('Sign in') }}|{{ pgettext('ctx', 'x') }}|{{ reverse_url('named', 7) }}|"
        "{{ shout('hi') }}|{{ escape is xhtml_escape }}|{{ url_escape('a b') }}|"
        "{{ json_encode([1]) }}|{{ squeeze('a  b') }}|{{ datetime.date(2020, 1, 2) }}|{{ extra }}"
    ),
    "escaped.html": "{{ value }}",
    "template-module.html": (
        "<html><head></head><body>{% module Template('widget.html', n=1) %}"
        "{% module Template('widget.html', n=2) %}</body></html>"
    ),
    "widget.html": (
        "{{ set_resources(embedded_css='.w{}', css_files=['w.css', '/abs.css'], "
        "javascript_files='/w.js', embedded_javascript='w()', html_head='<meta name=w>', "
        "html_body='<i>end</i>') }}<b>{{ n }}</b>"
    ),
    "conflict.html": "{% module Template('bad.html', r='a') %}{% module Template('bad.html', r='b') %}",
    "bad.html": "{{ set_resources(embedded_css=r) }}",
    "no-body.html": "{{ modules.Entry({'title': 'x'}) }}",
    "linkify.html": "{% module linkify('see http://example.com/?a&b') %}",
}


class Entry(UIModule):
    def embedded_css(self):
        return ".entry { margin-bottom: 1em; }"

    def embedded_javascript(self):
        return "initEntries();"

    def javascript_files(self):
        return ["/static/entry.js", "/static/entry.js"]

    def css_files(self):
        return "/static/entry.css"

    def render(self, entry, show_comments=False):
        return self.render_string("module-entry.html", entry=entry, show_comments=show_comments)


class Page(RequestHandler):
    def get(self, name):
        kwargs = {
            "title": "My title",
            "items": ["Item 1", "Item 2", "<Item 3>"],
            "entries": [{"title": "First"}, {"title": "Second & last"}],
            "entry": {"title": "Only"},
            "value": "<b>",
            "extra": "kw",
            "request_handler": self,
        }
        self.render(name + ".html", **kwargs)


class NamespacePage(RequestHandler):
    def get(self, number):
        self.render("namespace.html", extra="kw", request_handler=self)


class Twice(RequestHandler):
    def get(self):
        self.finish("done")
        self.render("escaped.html", value=1)


class StringOnly(RequestHandler):
    def get(self):
        body = self.render_string("escaped.html", value="<x>")
        self.set_header("Content-Type", "text/plain")
        self.finish(body + b"!")


def shout(handler, text):
    return f"{text.upper()} from {type(handler).__name__}"


def make_app(**settings):
    if "template_path" not in settings:
        settings["template_loader"] = DictLoader(TEMPLATES)
    settings.setdefault("static_path", os.path.dirname(__file__))
    return Application(
        [
            (r"/page/(\w[\w-]*)", Page),
            (r"/twice", Twice),
            (r"/string", StringOnly),
            (r"/named/(\d+)", NamespacePage, {}, "named"),
        ],
        ui_modules={"Entry": Entry},
        ui_methods={"shout": shout},
        **settings,
    )


@pytest.fixture
def app():
    return make_app()


async def test_seed_title_and_items(fetch):
    response = await fetch("/page/template")
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    body = response.body
    assert b"<title>My title</title>" in body
    assert re.findall(rb"<li>(.*?)</li>", body) == [b"Item 1", b"Item 2", b"&amp;lt;Item 3&amp;gt;"]


async def test_ui_module_resources_once_per_page(fetch):
    body = (await fetch("/page/home")).body
    assert body.count(b'<div class="entry">') == 2
    assert b'<div class="entry">Second &amp; last</div>' in body  # not escaped twice
    head, _, rest = body.partition(b"</head>")
    assert head.count(b".entry { margin-bottom: 1em; }") == 1
    assert b'<style type="text/css">\n.entry { margin-bottom: 1em; }\n</style>' in head
    assert head.count(b'<link href="/static/entry.css" type="text/css" rel="stylesheet"/>') == 1
    assert b"initEntries" not in head
    before_body_end = rest.rpartition(b"</body>")[0]
    assert before_body_end.count(b'<script src="/static/entry.js"') == 1
    assert before_body_end.count(b"initEntries();") == 1
    assert before_body_end.index(b'<div class="entry">') < before_body_end.index(b"<script")


async def test_module_directive_with_keyword_arguments(fetch):
    body = (await fetch("/page/entry")).body
    assert b'<div class="entry">Only<p>comments</p></div>' in body
    assert b".entry { margin-bottom: 1em; }" in body.partition(b"</head>")[0]


async def test_page_without_head_or_body_gets_no_resources(fetch):
    body = (await fetch("/page/no-body")).body
    assert body == b'<div class="entry">x</div>'


async def test_template_module_and_set_resources(fetch):
    # w.css does not exist here: its static_url gets no version, and says why.
    with ExpectLog("squall.general", "Could not open static file .*w.css"):
        body = (await fetch("/page/template-module")).body.decode()
    head, _, rest = body.partition("</head>")
    assert head.count(".w{}") == 1
    assert head.count('<link href="/abs.css"') == 1
    assert head.count('<link href="/static/w.css') == 1
    assert "<meta name=w>" in head
    assert "<b>1</b><b>2</b>" in rest
    assert rest.count('<script src="/w.js"') == 1
    assert rest.count("w()") == 1
    assert rest.index("<i>end</i>") < rest.index("</body>")


class TestRelativeResourceUrls:
    @pytest.fixture
    def app(self, tmp_path):
        (tmp_path / "w.css").write_text(".w{}")
        return make_app(static_path=str(tmp_path))

    async def test_relative_urls_go_through_static_url(self, fetch):
        head = (await fetch("/page/template-module")).body.partition(b"</head>")[0]
        assert re.search(rb'<link href="/static/w\.css(\?v=\w+)?" type="text/css"', head)


async def test_set_resources_conflict_is_an_error(fetch):
    with ExpectLog("squall.application", "Uncaught exception"):
        response = await fetch("/page/conflict")
    assert response.code == 500


async def test_default_linkify_module(fetch):
    body = (await fetch("/page/linkify")).body
    assert body == b'see <a href="http://example.com/?a&amp;b">http://example.com/?a&amp;b</a>'


async def test_template_namespace(fetch):
    body = (await fetch("/named/7")).body.decode()
    assert body == (
        "True|/named/7|None|en_US|Sign in|x|/named/7|HI from NamespacePage|True|a+b|[1]|a b|2020-01-02|kw"
    )


async def test_autoescape_on_by_default(fetch):
    assert (await fetch("/page/escaped")).body == b"&lt;b&gt;"


async def test_render_string_and_render_after_finish(fetch):
    response = await fetch("/string")
    assert response.body == b"&lt;x&gt;!"
    with ExpectLog("squall.application", "Uncaught exception GET /twice"):
        response = await fetch("/twice")
    assert response.body == b"done"


class TestSettings:
    @pytest.fixture
    def app(self, tmp_path):
        (tmp_path / "escaped.html").write_text("v1 {{ value }}  \n\n  end")
        self.root = tmp_path
        return make_app(
            template_path=str(tmp_path),
            autoescape=None,
            template_whitespace="oneline",
            compiled_template_cache=False,
        )

    async def test_app_autoescape_whitespace_and_no_cache(self, fetch):
        assert (await fetch("/page/escaped")).body == b"v1 <b> end"
        (self.root / "escaped.html").write_text("v2 {{ value }}")
        assert (await fetch("/page/escaped")).body == b"v2 <b>"


def test_create_template_loader_uses_settings(tmp_path):
    custom = DictLoader({})

    class Probe(RequestHandler):
        pass

    app = Application(template_loader=custom)
    handler = Probe.__new__(Probe)
    handler.application = app
    assert handler.create_template_loader(str(tmp_path)) is custom
    app = Application(template_path=str(tmp_path), autoescape=None, template_whitespace="all")
    handler.application = app
    loader = handler.create_template_loader(str(tmp_path))
    assert (loader.root, loader.autoescape, loader.whitespace) == (str(tmp_path), None, "all")
    assert handler.get_template_path() == str(tmp_path)


def test_ui_modules_setting_forms():
    import types

    module = types.ModuleType("uimodules")
    module.Entry = Entry
    module._private = Entry
    module.helper = 3
    for setting in (module, {"Entry": Entry}, [module], ({"Other": Entry}, [module])):
        modules = Application(ui_modules=setting).ui_modules
        assert modules["Entry"] is Entry
        assert {"linkify", "xsrf_form_html", "Template"} <= set(modules)
        assert "_private" not in modules
    assert Application().ui_modules["Template"] is TemplateModule
