"""Email templates and canned snippets: {{ variables }} rendered in a Jinja sandbox; bodies to safe HTML."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from markupsafe import Markup

from app.lib import usertemplates
from app.lib.errors import Invalid
from app.lib.markdown import render as markdown


def render(text: str, variables: dict[str, Any], *, field: str = "body") -> str:
    """Render `text` with `variables`; a template that breaks the sandbox or its syntax is an input error."""
    try:
        return usertemplates.template(text, keep_trailing_newline=True).render(**variables)
    except TemplateError as exc:
        raise Invalid("The template cannot be rendered: %(exc)s", field=field, exc=exc) from None


def check(text: str, *, field: str = "body") -> None:
    """Refuse a template whose syntax is broken (variables are only known when an operator uses it)."""
    try:
        usertemplates.parse(text, keep_trailing_newline=True)
    except TemplateError as exc:
        raise Invalid("The template cannot be read: %(exc)s", field=field, exc=exc) from None


def to_html(text: str) -> Markup:
    """The HTML alternative of a plain-text body (markdown, raw HTML escaped, only safe link schemes)."""
    return markdown(text)


def variables_for(contact: dict[str, Any], actor: Any, shop: str,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every template may use: contact.*, operator.*, shop, and the caller's own variables."""
    emails = contact.get("emails") or []
    first = (contact.get("name") or "").split(" ")[0]
    base = {"contact": {"name": contact.get("name") or "", "first_name": first, "company": contact.get("company") or "",
                        "email": emails[0] if emails else ""},
            "operator": {"name": getattr(actor, "name", "") or "", "email": getattr(actor, "email", "") or ""},
            "shop": shop}
    return {**{k: v for k, v in (extra or {}).items() if isinstance(k, str) and k.isidentifier()}, **base}
