"""squall.template loaders: files and dicts, caching, inheritance, include."""

from __future__ import annotations

import os

import pytest

from squall.template import BaseLoader, DictLoader, Loader, ParseError

BASE = (
    "<html><head><title>{% block title %}Default title{% end %}</title></head>\n"
    "<body>{% block body %}{% end %}<footer>{% block footer %}base footer{% end %}</footer>"
    "</body></html>"
)


def test_seed004_extends_with_end_block():
    # Seed 004's page, with the typo in its expression fixed (str has no
    # uppercase()) and its network import left out.
    loader = DictLoader(
        {
            "base.html": BASE,
            "hello.html": (
                '{% extends "base.html" %}\n{% block body %}\n'
                "<h1>Hello, {{ username.upper() }}.</h1>\n{# it's mostly just python. #}\n"
                '{% if ip == "127.0.0.1" %}\n<p>You must still be working on this.</p>\n'
                "{% else %}\n<p>You are accessing us from {{ ip }}.</p>\n{% end if %}\n"
                "{% end block %}\n"
            ),
        }
    )
    page = loader.load("hello.html").generate(username="ann", ip="127.0.0.1")
    assert b"<h1>Hello, ANN.</h1>" in page
    assert b"working on this" in page and b"accessing" not in page
    assert page.startswith(b"<html><head><title>Default title</title>")
    assert b"<footer>base footer</footer>" in page
    remote = loader.load("hello.html").generate(username="ann", ip="10.<1>")
    assert b"<p>You are accessing us from 10.&lt;1&gt;.</p>" in remote


def test_three_levels_and_nested_blocks():
    loader = DictLoader(
        {
            "base.html": BASE,
            "section.html": (
                "{% extends 'base.html' %}{% block title %}Section{% end %}"
                "{% block body %}<main>{% block content %}section content{% end %}</main>{% end %}"
            ),
            "page.html": (
                "ignored outside blocks{% extends 'section.html' %}"
                "{% block content %}page {{ name }}{% end %}{% block footer %}page footer{% end %}"
            ),
        }
    )
    page = loader.load("page.html").generate(name="<p>")
    assert page == (
        b"<html><head><title>Section</title></head>\n"
        b"<body><main>page &lt;p&gt;</main><footer>page footer</footer></body></html>"
    )
    # The middle template alone keeps its own content.
    assert b"<main>section content</main>" in loader.load("section.html").generate()


def test_include_inside_block_and_relative_names():
    loader = DictLoader(
        {
            "base.html": BASE,
            "blog/entry.html": (
                "{% extends '../base.html' %}{% block body %}"
                "{% for e in entries %}{% include 'part.html' %}{% end %}{% end %}"
            ),
            "blog/part.html": "<article>{{ e }}</article>",
        }
    )
    page = loader.load("blog/entry.html").generate(entries=["a", "<b>"])
    assert b"<body><article>a</article><article>&lt;b&gt;</article><footer>" in page


def test_included_template_keeps_its_own_autoescape():
    loader = DictLoader(
        {"a.html": "{{ x }}|{% include 'b.html' %}", "b.html": "{% autoescape None %}{{ x }}"}
    )
    assert loader.load("a.html").generate(x="<") == b"&lt;|<"


def test_block_defined_in_included_template_can_be_overridden():
    loader = DictLoader(
        {
            "base.html": "[{% include 'nav.html' %}]",
            "nav.html": "{% block nav %}default nav{% end %}",
            "page.html": "{% extends 'base.html' %}{% block nav %}page nav{% end %}",
        }
    )
    assert loader.load("page.html").generate() == b"[page nav]"


def test_cycles_are_errors():
    loader = DictLoader(
        {
            "self.html": "{% include 'self.html' %}",
            "a.html": "{% extends 'b.html' %}",
            "b.html": "{% extends 'a.html' %}",
        }
    )
    with pytest.raises(ParseError, match=r"self\.html includes or extends itself"):
        loader.load("self.html")
    with pytest.raises(ParseError, match="extends itself"):
        loader.load("a.html")


def test_dict_loader_missing_template():
    with pytest.raises(KeyError):
        DictLoader({}).load("nope.html")


def test_loader_settings_apply_to_templates():
    loader = DictLoader(
        {"t.html": "{{ x }}  \n\n {{ y }}"},
        autoescape=None,
        namespace={"y": "from namespace"},
        whitespace="oneline",
    )
    assert loader.load("t.html").generate(x="<") == b"< from namespace"
    assert loader.load("t.html").generate(x="<", y="kw") == b"< kw"


def test_base_loader_is_abstract():
    with pytest.raises(NotImplementedError):
        BaseLoader().load("x")


def test_file_loader_caches_until_reset(tmp_path):
    (tmp_path / "page.html").write_text("v1 {{ x }}")
    loader = Loader(str(tmp_path))
    first = loader.load("page.html")
    assert first.generate(x=1) == b"v1 1"
    (tmp_path / "page.html").write_text("v2 {{ x }}")
    assert loader.load("page.html") is first
    loader.reset()
    assert loader.load("page.html").generate(x=1) == b"v2 1"


def test_file_loader_relative_paths_and_subdirectories(tmp_path):
    (tmp_path / "layouts").mkdir()
    (tmp_path / "pages").mkdir()
    (tmp_path / "layouts" / "base.html").write_text("<b>{% block c %}{% end %}</b>")
    (tmp_path / "pages" / "one.html").write_text(
        "{% extends '../layouts/base.html' %}{% block c %}{% include 'bit.html' %}{% end %}"
    )
    (tmp_path / "pages" / "bit.html").write_text("bit")
    assert Loader(str(tmp_path)).load("pages/one.html").generate() == b"<b>bit</b>"


def test_file_loader_refuses_paths_outside_root(tmp_path):
    root = tmp_path / "templates"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "evil.html").write_text("{% include '../secret.txt' %}")
    loader = Loader(str(root))
    with pytest.raises(ValueError, match="outside the template root"):
        loader.load("../secret.txt")
    with pytest.raises(ValueError, match="outside the template root"):
        loader.load(os.fspath(tmp_path / "secret.txt"))
    with pytest.raises(ValueError, match="outside the template root"):
        loader.load("evil.html")
    with pytest.raises(FileNotFoundError):
        loader.load("missing.html")
