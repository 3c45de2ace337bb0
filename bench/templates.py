"""Template rendering: squall.template vs tornado.template vs Jinja2.

A realistic page: a base layout it extends, a loop of 100 rows whose text
needs escaping, an include, and a per-row component call (a UI module in
squall and Tornado: ``{% module Row(r) %}``; a macro in Jinja2). Measured
in-process (no HTTP): renders per second, best of 5 runs.

``python -m bench templates [--quick]``
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from typing import Any

ROWS = [
    {"id": i, "name": f"item <{i}> & co", "price": i * 1.5, "tags": ["a", "b&c", "<d>"]}
    for i in range(100)
]

BASE = """<!doctype html><html><head><title>{% block title %}Shop{% end %}</title></head>
<body><header>{% include "header.html" %}</header>
{% block body %}{% end %}
<footer>page rendered for {{ user }}</footer></body></html>"""
HEADER = """<nav><a href="/">home</a> <a href="/cart">cart ({{ len(rows) }})</a></nav>"""
PAGE = """{% extends "base.html" %}
{% block title %}Items for {{ user }}{% end %}
{% block body %}<table>
{% for r in rows %}<tr class="{{ 'odd' if r['id'] % 2 else 'even' }}">
<td>{{ r['id'] }}</td><td>{{ r['name'] }}</td><td>{{ '%.2f' % r['price'] }}</td>
<td>{% for t in r['tags'] %}<span>{{ t }}</span>{% end %}</td>
<td>{% module Row(r) %}</td></tr>
{% end %}</table>{% end %}"""

J_BASE = BASE.replace("{% end %}", "{% endblock %}").replace(
    '{% include "header.html" %}', '{% include "header.html" %}'
)
J_PAGE = """{% extends "base.html" %}
{% macro row(r) %}<a href="/item/{{ r.id }}">{{ r.name }}</a>{% endmacro %}
{% block title %}Items for {{ user }}{% endblock %}
{% block body %}<table>
{% for r in rows %}<tr class="{{ 'odd' if r['id'] % 2 else 'even' }}">
<td>{{ r['id'] }}</td><td>{{ r['name'] }}</td><td>{{ '%.2f' % r['price'] }}</td>
<td>{% for t in r['tags'] %}<span>{{ t }}</span>{% endfor %}</td>
<td>{{ row(r) }}</td></tr>
{% endfor %}</table>{% endblock %}"""
J_HEADER = """<nav><a href="/">home</a> <a href="/cart">cart ({{ rows|length }})</a></nav>"""


class _Modules:
    """What a handler's ``_tt_modules`` offers a template: one component."""

    def __init__(self, escape: Callable[[Any], Any], raw: Callable[[str], Any]) -> None:
        self._escape = escape
        self._raw = raw

    def Row(self, r: dict[str, Any]) -> Any:
        return self._raw(f'<a href="/item/{r["id"]}">{self._escape(r["name"])}</a>')


def squall_renderer() -> Callable[[], Any]:
    from squall.escape import xhtml_escape
    from squall.template import DictLoader, _TrustedHTML

    loader = DictLoader({"base.html": BASE, "header.html": HEADER, "page.html": PAGE})
    template = loader.load("page.html")
    modules = _Modules(xhtml_escape, _TrustedHTML)
    return lambda: template.generate(rows=ROWS, user="ann <admin>", _tt_modules=modules)


def tornado_renderer() -> Callable[[], Any]:
    from tornado.escape import xhtml_escape
    from tornado.template import DictLoader

    loader = DictLoader({"base.html": BASE, "header.html": HEADER, "page.html": PAGE})
    template = loader.load("page.html")
    # Tornado's templates write module output unescaped only with
    # autoescape off around it; bytes output passes as is.
    modules = _Modules(xhtml_escape, lambda s: s.encode())
    return lambda: template.generate(rows=ROWS, user="ann <admin>", _tt_modules=modules)


def jinja_renderer() -> Callable[[], Any]:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {"base.html": J_BASE, "header.html": J_HEADER, "page.html": J_PAGE}
        ),
        autoescape=True,
    )
    env.globals["len"] = len
    template = env.get_template("page.html")
    return lambda: template.render(rows=ROWS, user="ann <admin>")


def renders_per_second(render: Callable[[], Any], seconds: float) -> float:
    render()  # warm up (and compile)
    best = 0.0
    for _ in range(5):
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            render()
            count += 1
        best = max(best, count / (time.perf_counter() - start))
    return best


def main(argv: Sequence[str]) -> None:
    seconds = 1.0 if "--quick" in argv else 5.0
    peers = [
        ("squall", squall_renderer, "squall"),
        ("tornado", tornado_renderer, "tornado"),
        ("jinja2", jinja_renderer, "jinja2"),
    ]
    results = []
    for name, make, package in peers:
        if importlib.util.find_spec(package) is None:
            print(f"(skipped {name}: {package} is not installed)")
            continue
        results.append((name, renders_per_second(make(), seconds)))
    base = dict(results).get("tornado")
    print("### Template rendering (base layout, 100 escaped rows, include, a component per row)\n")
    print("| engine | renders/s | µs per render | vs tornado |")
    print("|---|---:|---:|---:|")
    for name, rate in results:
        ratio = f"{rate / base:.2f}x" if base else "-"
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.0f} | {ratio} |")
