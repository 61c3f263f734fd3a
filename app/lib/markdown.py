"""Markdown for notes, rendered safely: raw HTML is escaped and only http(s)/mailto/tel links survive."""

from __future__ import annotations

import functools

from markdown_it import MarkdownIt
from markupsafe import Markup

_ALLOWED_SCHEMES = ("http://", "https://", "mailto:", "tel:", "#", "/")


@functools.cache
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = lambda url: url.strip().lower().startswith(_ALLOWED_SCHEMES)  # type: ignore[method-assign]
    md.disable("image")  # no remote images: they would leak the operator's address to anyone
    return md


def render(text: str) -> Markup:
    html = _md().render(text or "")
    html = html.replace("<a href=", '<a rel="nofollow noopener noreferrer" target="_blank" href=')
    return Markup(html)  # noqa: S704 (markdown-it escaped all raw HTML; links are scheme-checked)
