"""squall.template: the language (every directive), escaping, whitespace
modes, errors and their line numbers."""

from __future__ import annotations

import datetime
import traceback

import pytest

from squall.escape import url_escape
from squall.template import DictLoader, ParseError, Template, filter_whitespace


def render(source: str, **kwargs: object) -> bytes:
    return Template(source).generate(**kwargs)


# -- expressions and escaping ----------------------------------------------------


def test_seed_title_and_items():
    # Seed 001's first template, rendered with the seed's handler values.
    source = (
        "<html>\n   <head>\n      <title>{{ title }}</title>\n   </head>\n   <body>\n"
        "     <ul>\n       {% for item in items %}\n         <li>{{ escape(item) }}</li>\n"
        "       {% end %}\n     </ul>\n   </body>\n </html>\n"
    )
    page = Template(source, name="template.html").generate(
        title="My title", items=["Item 1", "Item 2", "Item <3>"]
    )
    assert b"<title>My title</title>" in page
    assert page.count(b"<li>") == 3
    # escape() is applied by hand and then again by autoescape: twice.
    assert b"<li>Item &amp;lt;3&amp;gt;</li>" in page


def test_expressions_are_autoescaped_and_converted():
    assert render("{{ x }}", x="<a href='x'>&\"") == b"&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"
    assert render("{{ x }}", x=b"<b>") == b"&lt;b&gt;"
    assert render("{{ x }}|{{ y }}|{{ z }}", x=5, y=None, z=1.5) == b"5|None|1.5"
    assert render("{{ 'é' }}") == "é".encode()
    assert render("{{ x + 1 }}", x=41) == b"42"


def test_raw_and_autoescape_off():
    assert render("{% raw x %}", x="<b>") == b"<b>"
    assert render("{% raw x %}", x=b"<b>") == b"<b>"
    assert Template("{{ x }}", autoescape=None).generate(x="<b>") == b"<b>"
    assert render("{% autoescape None %}{{ x }}", x="<b>") == b"<b>"
    # The directive applies to the whole template.
    assert render("{{ x }}{% autoescape None %}{{ x }}", x="<") == b"<<"


def test_autoescape_with_other_function():
    assert render("{% autoescape url_escape %}{{ x }}", x="a b&") == url_escape("a b&").encode()
    assert Template("{{ x }}", autoescape="url_escape").generate(x="a/b") == b"a%2Fb"


def test_overridden_xhtml_escape_is_used():
    # The escape function receives UTF-8 bytes, as in Tornado.
    assert render("{{ x }}", x="<", xhtml_escape=lambda s: f"[{s.decode()}]") == b"[<]"


def test_default_namespace():
    page = render(
        "{{ escape('<') }} {{ xhtml_escape('>') }} {{ url_escape('a b') }} "
        "{% raw json_encode('</x>') %} {{ squeeze(' a   b ') }} "
        "{% raw linkify('see http://example.com') %} {{ datetime.date(2020, 1, 2) }}"
    )
    assert page == (
        b"&amp;lt; &amp;gt; a+b "
        b'"<\\/x>" a b '
        b'see <a href="http://example.com">http://example.com</a> 2020-01-02'
    )


def test_literal_delimiters_and_braces():
    assert render("{{! x }} {%! if %} {#! c #}") == b"{{ x }} {% if %} {# c #}"
    assert render("{{{x}}}", x=1) == b"{1}"
    assert render("a{b}c{") == b"a{b}c{"
    assert render("{") == b"{"


def test_comments():
    assert render("a{# hidden {{ x }} #}b{% comment also hidden %}c") == b"abc"


# -- control flow ------------------------------------------------------------------


def test_if_elif_else():
    source = "{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% end %}"
    assert [render(source, x=x) for x in (1, 2, 3)] == [b"one", b"two", b"many"]


def test_seed004_end_spellings():
    source = "{% if ip == '127.0.0.1' %}local{% else %}from {{ ip }}{% end if %}"
    assert render(source, ip="127.0.0.1") == b"local"
    assert render(source, ip="10.0.0.1") == b"from 10.0.0.1"


def test_for_with_break_continue_and_else():
    source = (
        "{% for i in items %}{% if i == 1 %}{% continue %}{% end %}"
        "{% if i == 3 %}{% break %}{% end %}{{ i }},{% else %}done{% end %}"
    )
    assert render(source, items=range(5)) == b"0,2,"
    assert render(source, items=[0, 2]) == b"0,2,done"


def test_while_and_set():
    assert render("{% set i = 0 %}{% while i < 3 %}{{ i }}{% set i += 1 %}{% end %}") == b"012"


def test_try_except_else_finally():
    source = (
        "{% try %}{{ 10 // x }}{% except ZeroDivisionError %}zero"
        "{% else %}+ok{% finally %}!{% end %}"
    )
    assert render(source, x=0) == b"zero!"
    assert render(source, x=5) == b"2+ok!"


def test_import_and_from_import():
    source = (
        "{% import math %}{{ math.floor(2.5) }} {% from os.path import join %}{{ join('a', 'b') }}"
    )
    assert render(source) == b"2 a/b"


def test_apply():
    source = "{% apply upper %}a{{ x }}b{% end %}c"
    assert render(source, x="<x>", upper=str.upper) == b"A&LT;X&GT;Bc"


def test_module_directive_calls_tt_modules():
    class Modules:
        @staticmethod
        def Box(text: str) -> str:
            return f"<div>{text}</div>"

    assert render("{% module Box('a') %}", _tt_modules=Modules) == b"<div>a</div>"


def test_empty_bodies_are_valid():
    assert render("{% if True %}{% end %}{% for x in [] %}{% end %}x") == b"x"


# -- whitespace --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("all", "  a \n\n b\t\tc "), ("single", " a\nb c "), ("oneline", " a b c ")],
)
def test_filter_whitespace(mode, expected):
    assert filter_whitespace(mode, "  a \n\n b\t\tc ") == expected


def test_filter_whitespace_bad_mode():
    with pytest.raises(Exception, match="invalid whitespace mode spaces"):
        filter_whitespace("spaces", "x")
    with pytest.raises(Exception, match="invalid whitespace mode"):
        Template("x", whitespace="spaces")


def test_whitespace_defaults_follow_the_name():
    source = "  a  \n\n  b {{ 1 }}\n"
    assert Template(source).generate() == source.replace("{{ 1 }}", "1").encode()
    assert Template(source, name="x.txt").generate() == b"  a  \n\n  b 1\n"
    assert Template(source, name="x.html").generate() == b" a\nb 1\n"
    assert Template(source, name="x.js").generate() == b" a\nb 1\n"
    assert Template(source, whitespace="oneline").generate() == b" a b 1 "
    assert (
        Template(source, name="x.html", compress_whitespace=False).generate()
        == source.replace("{{ 1 }}", "1").encode()
    )
    assert Template(source, compress_whitespace=True).generate() == b" a\nb 1\n"
    with pytest.raises(Exception, match="cannot set both"):
        Template(source, compress_whitespace=True, whitespace="all")


def test_whitespace_directive():
    assert render("a  b{% whitespace oneline %}  c \n d") == b"a  b c d"
    loader = DictLoader({"p.html": "x   \n\n  y"}, whitespace="all")
    assert loader.load("p.html").generate() == b"x   \n\n  y"


# -- parse errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("a\n{% if x %}\nb", "Missing {% end %} block for if", 2),
        ("{% end %}", "Extra {% end %} block", 1),
        ("\n\n{{ }}", "Empty expression", 3),
        ("{{ 1", "Missing end expression }}", 1),
        ("{% if 1", "Missing end block %}", 1),
        ("{# x", "Missing end comment #}", 1),
        ("{%  %}", "Empty block tag ({% %})", 1),
        ("x\n{% bogus %}", "unknown operator: 'bogus'", 2),
        ("{% else %}", "else outside if/for/while/try block", 1),
        ("{% for x in y %}{% except %}{% end %}", "except outside try block", 1),
        ("{% if 1 %}\n{% break %}{% end %}", "break outside for/while loop", 2),
        ("{% for x in y %}{% apply f %}{% continue %}{% end %}{% end %}", "continue outside", 1),
        ("{% if 1 %}{% end for %}", "{% end for %} does not close the open if block", 1),
        ("{% set %}", "set missing statement", 1),
        ("{% block %}{% end %}", "block missing name", 1),
        ("{% apply %}{% end %}", "apply missing method name", 1),
        ("{% whitespace tabs %}", "invalid whitespace mode 'tabs'", 1),
        ("{% extends 'base.html' %}", "{% extends %} needs a template loader", 1),
        ("\n{% include 'x.html' %}", "{% include %} needs a template loader", 2),
    ],
)
def test_parse_errors(source, message, line):
    with pytest.raises(ParseError) as info:
        Template(source, name="page.html")
    error = info.value
    assert error.message.startswith(message)
    assert (error.filename, error.lineno) == ("page.html", line)
    assert str(error) == f"{error.message} at page.html:{line}"


def test_python_syntax_error_is_a_parse_error_at_the_template_line():
    with pytest.raises(ParseError) as info:
        Template("line 1\nline 2\n{% for x in %}{% end %}", name="bad.html")
    assert info.value.filename == "bad.html"
    assert info.value.lineno == 3
    assert isinstance(info.value.__cause__, SyntaxError)


# -- runtime errors ----------------------------------------------------------------


def test_runtime_error_traceback_names_template_and_line():
    template = Template("one\ntwo\n{{ 1 // zero }}\n", name="page.html")
    with pytest.raises(ZeroDivisionError) as info:
        template.generate(zero=0)
    text = "".join(traceback.format_exception(info.value))
    assert 'File "page_html.generated.py"' in text
    assert "# page.html:3" in text  # the generated line is shown, with its origin
    assert "in template page.html, line 3" in text


def test_runtime_error_in_parent_template_names_the_parent():
    loader = DictLoader(
        {
            "base.html": "<html>\n\n{% block body %}{% end %}\n{{ missing_name }}</html>",
            "page.html": "{% extends 'base.html' %}\n{% block body %}\nok{% end %}",
        }
    )
    with pytest.raises(NameError) as info:
        loader.load("page.html").generate()
    assert "in template base.html, line 4" in "".join(traceback.format_exception(info.value))


def test_error_inside_included_template_names_it():
    loader = DictLoader({"a.html": "a\n{% include 'b.html' %}", "b.html": "b\n\n{{ 1 / 0 }}"})
    with pytest.raises(ZeroDivisionError) as info:
        loader.load("a.html").generate()
    assert "in template b.html, line 3" in "".join(traceback.format_exception(info.value))


def test_generated_code_is_exposed():
    template = Template("{{ x }}", name="x.html")
    assert "_tt_execute" in template.code
    assert "# x.html:1" in template.code


def test_generate_is_repeatable_and_isolated():
    template = Template("{% set m = n + 1 %}{{ m }}")
    assert template.generate(n=1) == b"2"
    assert template.generate(n=10) == b"11"
    with pytest.raises(NameError):
        template.generate()


def test_datetime_in_namespace_is_the_module():
    assert render("{{ datetime is dt }}", dt=datetime) == b"True"
