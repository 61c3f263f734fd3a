"""Jinja2 rendering: full pages under pages/, fragments under _partials/, mail under emails/."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar import Request
from litestar.response import Template

from app.lib import csrf, i18n
from app.lib.i18n import N_
from app.lib.identities import pretty_phone
from app.lib.markdown import render as markdown
from app.lib.roles import ROLES
from app.settings import get_settings

WORDS: dict[str, str] = {
    # channels and directions
    "call": N_("call"), "sms": N_("SMS"), "email": N_("email"), "chat": N_("chat"), "note": N_("note"),
    "file": N_("file"), "order": N_("order"), "task": N_("task"), "system": N_("system"),
    "in": N_("incoming"), "out": N_("outgoing"), "internal": N_("internal"),
    # roles
    "owner": N_("owner"), "admin": N_("admin"), "supervisor": N_("supervisor"), "operator": N_("operator"),
    # presence
    "available": N_("available"), "busy": N_("busy"), "away": N_("away"), "offline": N_("offline"),
    # agent states' reasons (app.agents.services.AWAY_REASONS and the derived ones)
    "break": N_("break"), "lunch": N_("lunch"), "training": N_("training"), "meeting": N_("meeting"),
    "missed_offers": N_("missed offers"), "capacity": N_("at capacity"), "disposition": N_("disposition needed"),
    "timer": N_("after-work time"),
    # conversations, calls, messages
    "waiting": N_("waiting"), "active": N_("active"), "wrapup": N_("wrap-up"), "closed": N_("closed"),
    "snoozed": N_("snoozed"),
    "queued": N_("queued"), "ringing": N_("ringing"), "in-progress": N_("in progress"),
    "completed": N_("completed"), "failed": N_("failed"), "no-answer": N_("no answer"), "canceled": N_("canceled"),
    "initiated": N_("initiated"), "sent": N_("sent"), "delivered": N_("delivered"), "read": N_("read"),
    "received": N_("received"), "undelivered": N_("undelivered"), "disabled": N_("disabled"),
    # the queue every workspace starts with (conversations migration 01_30): its name until the shop renames it
    "General": N_("General"),
    # temperatures
    "hot": N_("hot"), "warm": N_("warm"), "cold": N_("cold"),
    # deal stages, custom field types, imports
    "open": N_("open"), "won": N_("won"), "lost": N_("lost"),
    "text": N_("text"), "number": N_("number"), "date": N_("date"), "boolean": N_("yes/no"),
    "select": N_("one of a list"), "multiselect": N_("several of a list"),
    "running": N_("running"), "done": N_("done"), "contact": N_("contact"), "tenant": N_("workspace"),
    "user": N_("user"), "session": N_("session"), "template": N_("template"), "workspace": N_("workspace"),
    "payment": N_("payment"), "refund": N_("refund"),
    # sort orders of lists
    "updated": N_("last updated"), "created": N_("newest"), "name": N_("name"), "last_contact": N_("last contact"),
    "revenue": N_("revenue"), "orders": N_("number of orders"), "last_purchase": N_("last purchase"),
}
"""The product's own vocabulary (stored as English keys) as a person reads it: `{{ c.channel|word }}`."""


def word(key: Any) -> str:
    text = WORDS.get(str(key))
    return i18n.current().translations.gettext(text) if text else str(key if key is not None else "")


def summary(item: dict[str, Any]) -> str:
    """A stored record's text (a timeline item's summary) in the viewer's language: from the catalogue template it
    was written with (i18n.STORED_TEXT in its payload), else as stored."""
    return i18n.show_stored((item.get("payload") or {}).get(i18n.STORED_TEXT), item.get("summary") or "")


TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "frontend" / "templates"
STATIC_DIR = Path(__file__).resolve().parents[2] / "frontend" / "static"


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "xml"]),
                      enable_async=False, extensions=["jinja2.ext.i18n"],
                      auto_reload=get_settings().app.templates_reload)
    # Every string goes through the viewer's catalogue (app/lib/i18n: the request's or the renderer's viewer).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.current().translations.gettext(message),
        lambda singular, plural, n: i18n.current().translations.ngettext(singular, plural, n),
        newstyle=True)
    env.globals["ROLES"] = ROLES
    env.globals["viewer"] = i18n.current
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    env.globals["zone_names"] = i18n.zone_names
    env.filters["datetime"] = _per_viewer(i18n.format_datetime)
    env.filters["date"] = _per_viewer(i18n.format_date)
    env.filters["time"] = _per_viewer(i18n.format_time)
    env.filters["timeago"] = _per_viewer(i18n.timeago)
    env.filters["number"] = _per_viewer(i18n.format_number)
    env.filters["money"] = _per_viewer(i18n.format_money)
    env.filters["word"] = _per_viewer(word)
    env.filters["summary"] = _per_viewer(summary)
    env.filters["markdown"] = markdown
    env.filters["phone"] = pretty_phone
    return env


def _per_viewer(fn: Callable[..., str]) -> Callable[..., str]:
    """`fn` as a filter Jinja never runs at compile time: its optimizer folds a filter over a literal
    (`{{ "available"|word }}`) into the compiled template, in the language of whoever rendered it first, and the
    template cache then shows that word to every viewer. A filter that takes the context is never folded."""

    @pass_context
    def filter_(_context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        return fn(value, *args, **kwargs)

    return filter_


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
