"""Jinja2 rendering: full pages under pages/, fragments under _partials/, mail under emails/."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request
from litestar.response import Template

from app.lib import csrf

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "frontend" / "templates"
STATIC_DIR = Path(__file__).resolve().parents[2] / "frontend" / "static"


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "xml"]),
                      enable_async=False)
    env.globals["ROLES"] = ("owner", "admin", "supervisor", "operator")
    from app.lib.identities import pretty_phone
    from app.lib.markdown import render as markdown

    env.filters["markdown"] = markdown
    env.filters["phone"] = pretty_phone
    return env


def render_text(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(**context)


def page_context(request: Request[Any, Any, Any], context: dict[str, Any]) -> dict[str, Any]:
    tenant = request.scope.get("state", {}).get("tenant")
    return {"request": request, "tenant": tenant, "user": request.scope.get("user"),
            "csrf_token": csrf.token_for(request), **context}


def render_page(request: Request[Any, Any, Any], name: str, context: dict[str, Any] | None = None, *,
                status_code: int = 200) -> Template:
    response = Template(template_name=name, context=page_context(request, context or {}), status_code=status_code)
    cookie = csrf.pending_cookie(request)
    if cookie is not None:
        response.cookies.append(cookie)
    return response


def flash(request: Request[Any, Any, Any], message: str, *, ok: bool, status: int = 200) -> Template:
    """The one-line answer of an htmx button: a notice, or an error with the request's 4xx status."""
    return render_page(request, "_partials/messages.html", {"notice" if ok else "error": message},
                       status_code=status)
