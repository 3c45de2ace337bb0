"""UI modules: reusable page parts that bring their own CSS and JavaScript.

A module is a ``UIModule`` subclass named in the ``ui_modules`` setting;
templates call it as ``{% module Entry(entry) %}`` or
``{{ modules.Entry(entry) }}``. One instance per module class serves a
whole request, so ``render()`` writes the HTML each time while the page's
CSS and JavaScript from ``embedded_css()``, ``css_files()``... are
collected once and placed by ``RequestHandler.render`` (CSS before
``</head>``, JavaScript before ``</body>``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from squall import escape
from squall.template import _text, _TrustedHTML

if TYPE_CHECKING:
    from squall.web._handler import RequestHandler

__all__ = ["TemplateModule", "UIModule"]


class UIModule:
    """A reusable part of a page; subclass and define ``render()``."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.request = handler.request
        self.ui = handler.ui

    @property
    def locale(self) -> Any:
        return self.handler.locale

    @property
    def current_user(self) -> Any:
        return getattr(self.handler, "current_user", None)

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """The module's HTML for one use on the page."""
        raise NotImplementedError()

    def embedded_javascript(self) -> str | None:
        """JavaScript put in a ``<script>`` block at the end of the page."""
        return None

    def javascript_files(self) -> Iterable[str] | None:
        """Script URLs (relative ones go through ``static_url``)."""
        return None

    def embedded_css(self) -> str | None:
        """CSS put in a ``<style>`` block in the page's head."""
        return None

    def css_files(self) -> Iterable[str] | None:
        """Stylesheet URLs (relative ones go through ``static_url``)."""
        return None

    def html_head(self) -> str | None:
        """Markup put at the end of the page's ``<head>``."""
        return None

    def html_body(self) -> str | None:
        """Markup put at the end of the page's ``<body>``."""
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Template ``path`` rendered through the owning handler, plus ``kwargs``."""
        handler = self.handler
        return handler.render_string(path, **kwargs)


class TemplateModule(UIModule):
    """``{% module Template("part.html", **kwargs) %}``: a template as a module.

    The template may call ``set_resources(embedded_css=..., javascript_files=
    ...)`` (any of the UIModule resource names) to add page resources;
    each template's resources count once however often it is rendered.
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        self._resources: dict[str, dict[str, Any]] = {}

    def render(self, path: str, **kwargs: Any) -> bytes:
        def set_resources(**resources: Any) -> str:
            known = self._resources.setdefault(path, resources)
            if known != resources:
                raise ValueError(f"set_resources called with different resources for {path}")
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _all(self, key: str) -> list[Any]:
        return [r[key] for r in self._resources.values() if key in r]

    def _files(self, key: str) -> list[str]:
        files: list[str] = []
        for value in self._all(key):
            if isinstance(value, (str, bytes)):
                files.append(_text(value))
            else:
                files.extend(value)
        return files

    def embedded_javascript(self) -> str:
        return "\n".join(self._all("embedded_javascript"))

    def javascript_files(self) -> list[str]:
        return self._files("javascript_files")

    def embedded_css(self) -> str:
        return "\n".join(self._all("embedded_css"))

    def css_files(self) -> list[str]:
        return self._files("css_files")

    def html_head(self) -> str:
        return "".join(self._all("html_head"))

    def html_body(self) -> str:
        return "".join(self._all("html_body"))


class _linkify(UIModule):
    """``{% module linkify(text) %}``: ``escape.linkify`` as a module."""

    def render(self, text: str, **kwargs: Any) -> str:
        linked: str = escape.linkify(text, **kwargs)
        return linked


class _xsrf_form_html(UIModule):
    """``{% module xsrf_form_html() %}``: the handler's hidden XSRF field."""

    def render(self) -> str:
        field: str = self.handler.xsrf_form_html()
        return field


# The modules every application has (Tornado's defaults).
DEFAULT_UI_MODULES: dict[str, type[UIModule]] = {
    "linkify": _linkify,
    "xsrf_form_html": _xsrf_form_html,
    "Template": TemplateModule,
}


class _ModuleCaller:
    """What ``modules.Entry`` is in a template: renders with the handler's
    single ``Entry`` instance and marks the result as trusted markup."""

    __slots__ = ("handler", "module_class", "name")

    def __init__(self, handler: RequestHandler, name: str, module_class: type[UIModule]) -> None:
        self.handler = handler
        self.name = name
        self.module_class = module_class

    def __call__(self, *args: Any, **kwargs: Any) -> _TrustedHTML:
        active = active_modules(self.handler)
        module = active.get(self.name)
        if module is None:
            module = active[self.name] = self.module_class(self.handler)
        return _TrustedHTML(_text(module.render(*args, **kwargs)))


class ModuleNamespace:
    """``modules`` in templates: ``modules.Entry(...)`` / ``modules["Entry"]``."""

    def __init__(self, handler: RequestHandler, modules: dict[str, type[UIModule]]) -> None:
        self._handler = handler
        self._modules = modules

    def __getitem__(self, name: str) -> _ModuleCaller:
        return _ModuleCaller(self._handler, name, self._modules[name])

    def __getattr__(self, name: str) -> _ModuleCaller:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no UI module named {name!r}") from None


def active_modules(handler: RequestHandler) -> dict[str, UIModule]:
    """The modules this request has used so far, by name."""
    modules: dict[str, UIModule] | None = handler.__dict__.get("_active_modules")
    if modules is None:
        modules = handler.__dict__["_active_modules"] = {}
    return modules
