"""Templates, locale and UI modules for ``RequestHandler``: ``render``,
``render_string``, ``get_template_namespace``, ``locale``,
``get_user_locale``, ``get_browser_locale``...

Template loaders are shared by every handler (one per template directory,
in ``RequestHandler._template_loaders``); the application resets them
before each request when ``compiled_template_cache`` is False.
"""

from __future__ import annotations

import os.path
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from squall import locale as _locale_module
from squall import template
from squall.escape import to_unicode, xhtml_escape
from squall.template import _TrustedHTML
from squall.web._host import HandlerHost
from squall.web._uimodules import active_modules

if TYPE_CHECKING:
    import asyncio


# Guards the creation of shared loaders (handlers may render on threads).
_LOADERS_LOCK = threading.Lock()
# This package's directory: render_string without a template_path looks
# for templates next to the first caller outside it.
_WEB_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# What surrounds the modules' inline JavaScript (CDATA-guarded for XHTML).
_EMBED_JS_START = b'<script type="text/javascript">\n//<![CDATA[\n'
_EMBED_JS_END = b"\n//]]>\n</script>"


class RenderMixin(HandlerHost):
    """Template rendering and localization, mixed into RequestHandler."""

    _template_loaders: dict[str, template.BaseLoader] = {}

    # -- rendering -------------------------------------------------------------

    def render(self, template_name: str, **kwargs: Any) -> asyncio.Future[None]:
        """Render ``template_name`` with ``kwargs`` and finish the response.

        The CSS, JavaScript and head/body markup of the UI modules the page
        used are added once each: CSS and ``html_head`` before ``</head>``,
        JavaScript and ``html_body`` before ``</body>``.
        """
        if self._finished:
            raise RuntimeError("Cannot render() after finish()")
        page = self.render_string(template_name, **kwargs)
        modules = active_modules(self).values()  # type: ignore[arg-type]
        js_embed: list[bytes] = []
        js_files: list[str] = []
        css_embed: list[bytes] = []
        css_files: list[str] = []
        html_heads: list[bytes] = []
        html_bodies: list[bytes] = []
        for module in modules:
            _add_text(js_embed, module.embedded_javascript())
            _add_files(js_files, module.javascript_files())
            _add_text(css_embed, module.embedded_css())
            _add_files(css_files, module.css_files())
            _add_text(html_heads, module.html_head())
            _add_text(html_bodies, module.html_body())
        head_parts: list[bytes] = []
        if css_files:
            head_parts.append(self.render_linked_css(css_files).encode())
        if css_embed:
            head_parts.append(self.render_embed_css(css_embed))
        if html_heads:
            head_parts.append(b"".join(html_heads))
        body_parts: list[bytes] = []
        if js_files:
            body_parts.append(self.render_linked_js(js_files).encode())
        if js_embed:
            body_parts.append(self.render_embed_js(js_embed))
        if html_bodies:
            body_parts.append(b"".join(html_bodies))
        if body_parts:
            end = page.rfind(b"</body>")
            if end != -1:
                # One line per kind of resource, as Tornado lays them out.
                page = page[:end] + b"\n".join(body_parts) + b"\n" + page[end:]
        if head_parts:
            end = page.find(b"</head>")
            if end != -1:
                page = page[:end] + b"\n".join(head_parts) + b"\n" + page[end:]
        return self.finish(page)

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """``<script src>`` tags for ``js_files`` (each URL once)."""
        return "".join(
            f'<script src="{xhtml_escape(url)}" type="text/javascript"></script>'
            for url in self._unique_urls(js_files)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """One ``<script>`` block holding every module's JavaScript."""
        script = b"\n".join(js_embed)
        return b"".join((_EMBED_JS_START, script, _EMBED_JS_END))

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """``<link rel="stylesheet">`` tags for ``css_files`` (each URL once)."""
        return "".join(
            f'<link href="{xhtml_escape(url)}" type="text/css" rel="stylesheet"/>'
            for url in self._unique_urls(css_files)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """One ``<style>`` block holding every module's CSS."""
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def _unique_urls(self, paths: Iterable[str]) -> list[str]:
        urls: list[str] = []
        for path in paths:
            if not path.startswith(("/", "http:", "https:")):
                path = self.static_url(path)  # type: ignore[attr-defined]
            if path not in urls:
                urls.append(path)
        return urls

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render ``template_name`` with the template namespace and ``kwargs``.

        Templates come from ``get_template_path()`` (the ``template_path``
        setting), or without one from the directory of the calling module.
        """
        settings = self.application.settings
        if "template_loader" in settings:
            # Used as is: keying it by directory (as loaders created here
            # are) would let two applications' loaders collide.
            return self._generate(settings["template_loader"], template_name, kwargs)
        template_path = self.get_template_path()
        if not template_path:
            template_path = _caller_directory()
        loaders = self._template_loaders
        loader = loaders.get(template_path)
        if loader is None:
            with _LOADERS_LOCK:
                loader = loaders.get(template_path)
                if loader is None:
                    loader = loaders[template_path] = self.create_template_loader(template_path)
        return self._generate(loader, template_name, kwargs)

    def _generate(
        self, loader: template.BaseLoader, template_name: str, kwargs: dict[str, Any]
    ) -> bytes:
        compiled = loader.load(template_name)
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        return compiled.generate(**namespace)

    def get_template_namespace(self) -> dict[str, Any]:
        """The names every template rendered by this handler sees.

        Override to add names; ``render()`` keyword arguments are added
        on top. The escape helpers (``escape``, ``url_escape``...) and
        ``datetime`` come from the template module itself.
        """
        user_locale = self.locale
        namespace: dict[str, Any] = {
            "handler": self,
            "request": self.request,
            "current_user": getattr(self, "current_user", None),
            "locale": user_locale,
            "_": user_locale.translate,
            "pgettext": user_locale.pgettext,
            "reverse_url": self.reverse_url,
        }
        static_url = getattr(self, "static_url", None)
        if static_url is not None:
            namespace["static_url"] = static_url
        xsrf_form_html = getattr(self, "xsrf_form_html", None)
        if xsrf_form_html is not None:
            # The seeds write {{ xsrf_form_html() }}: the field is our own
            # markup, so autoescape must leave it whole.
            namespace["xsrf_form_html"] = lambda: _TrustedHTML(xsrf_form_html())
        namespace.update(self.ui)
        return namespace

    def create_template_loader(self, template_path: str) -> template.BaseLoader:
        """The loader for ``template_path``: the ``template_loader`` setting,
        or a ``Loader`` with the ``autoescape`` and ``template_whitespace``
        settings."""
        settings = self.application.settings
        if "template_loader" in settings:
            return settings["template_loader"]  # type: ignore[no-any-return]
        kwargs: dict[str, Any] = {}
        if "autoescape" in settings:
            kwargs["autoescape"] = settings["autoescape"]
        if "template_whitespace" in settings:
            kwargs["whitespace"] = settings["template_whitespace"]
        return template.Loader(template_path, **kwargs)

    def get_template_path(self) -> str | None:
        """Where templates live: the ``template_path`` setting by default."""
        return self.application.settings.get("template_path")

    # -- locale ----------------------------------------------------------------

    @property
    def locale(self) -> _locale_module.Locale:
        """This request's locale: ``get_user_locale()``, else the browser's."""
        chosen: _locale_module.Locale | None = self.__dict__.get("_locale")
        if chosen is None:
            chosen = self.get_user_locale()
            if chosen is None:
                chosen = self.get_browser_locale()
            self.__dict__["_locale"] = chosen
        return chosen

    @locale.setter
    def locale(self, value: _locale_module.Locale) -> None:
        self.__dict__["_locale"] = value

    def get_user_locale(self) -> _locale_module.Locale | None:
        """Override to choose the locale from user data; None falls back to
        the Accept-Language header."""
        return None

    def get_browser_locale(self, default: str = "en_US") -> _locale_module.Locale:
        """The best supported locale from the Accept-Language header.

        RFC 9110 §12.5.4: languages are ordered by their ``q`` weight
        (1 when absent); a weight of 0 or one that is not a number
        removes that language.
        """
        header = self.request.headers.get("Accept-Language")
        if header:
            weighted: list[tuple[float, int, str]] = []
            for position, item in enumerate(header.split(",")):
                code, *params = (part.strip() for part in item.split(";"))
                weight = 1.0
                for param in params:
                    if param[:2].lower() == "q=":
                        try:
                            weight = float(param[2:])
                        except ValueError:
                            weight = 0.0
                if code and 0 < weight <= 1:
                    weighted.append((-weight, position, code))
            if weighted:
                weighted.sort()
                return _locale_module.get(*(code for _, _, code in weighted))
        return _locale_module.get(default)


def _add_text(parts: list[bytes], value: str | bytes | None) -> None:
    if value:
        parts.append(value if isinstance(value, bytes) else value.encode("utf-8"))


def _add_files(files: list[str], value: str | bytes | Iterable[str] | None) -> None:
    if not value:
        return
    if isinstance(value, (str, bytes)):
        files.append(to_unicode(value))
    else:
        files.extend(value)


def _caller_directory() -> str:
    frame = sys._getframe(1)
    while frame.f_back is not None and os.path.dirname(
        os.path.abspath(frame.f_code.co_filename)
    ).startswith(_WEB_PACKAGE_DIR):
        frame = frame.f_back
    return os.path.dirname(os.path.abspath(frame.f_code.co_filename))
