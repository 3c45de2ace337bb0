"""Templates, locale and UI modules for ``RequestHandler`` (filled by the
templates issue): ``render``, ``render_string``, ``get_template_namespace``,
``locale``, ``get_user_locale``, ``get_browser_locale``..."""

from __future__ import annotations


class RenderMixin:
    """Template rendering and localization, mixed into RequestHandler."""
