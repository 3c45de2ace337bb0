"""Entries are written in Markdown and stored with their HTML."""

from __future__ import annotations

import markdown

__all__ = ["to_html"]


def to_html(text: str) -> str:
    """Markdown -> HTML, with any raw HTML in the text shown as text.

    Python-Markdown passes raw HTML through by default; its HTML block
    preprocessor and inline HTML pattern are removed, so ``<script>`` in an
    entry is escaped like any other character.
    """
    md = markdown.Markdown(extensions=["fenced_code", "tables"], output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md.convert(text)
