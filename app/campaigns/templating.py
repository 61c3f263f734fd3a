"""Campaign message templates: Jinja2's sandbox with a small set of variables and `|default("...")` fallbacks.

A template sees `contact` (name, first_name), `last_order` (number, date in the recipient's zone, total formatted
in their language) and `suggestion` (the contact's best upsell suggestion: product_name, reason). A variable the
contact has no value for is undefined, so `{{ last_order.number|default("your last order") }}` falls back; a
template that does not parse, or uses anything outside the sandbox, is refused with the problem named."""

from __future__ import annotations

from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from app.lib import i18n
from app.lib.db import current_uow
from app.lib.errors import Invalid
from app.upsell import services as upsell

VARIABLES: tuple[tuple[str, str], ...] = (
    ("contact.name", i18n.N_("The contact's full name")),
    ("contact.first_name", i18n.N_("The contact's first name")),
    ("last_order.number", i18n.N_("Number of the contact's last order")),
    ("last_order.date", i18n.N_("Date of the last order, in the recipient's time zone")),
    ("last_order.total", i18n.N_("Total of the last order, formatted")),
    ("suggestion.product_name", i18n.N_("The product upsell suggests for the contact")),
    ("suggestion.reason", i18n.N_("Why upsell suggests it")),
)
"""What the editor's variable picker offers (the same names the renderer fills)."""


class _Lenient(ChainableUndefined):
    """Missing values render as "" (and `default()` replaces them); only syntax and sandbox errors are refused."""


_ENV = SandboxedEnvironment(undefined=_Lenient, autoescape=False, keep_trailing_newline=False)
MAX_TEMPLATE = 10_000


def check(text: str, field: str) -> None:
    """Refuse a template that does not compile or names a variable outside the set, with the problem named."""
    if len(text) > MAX_TEMPLATE:
        raise Invalid("%(where)s is longer than %(max)s characters.", field=field, where=field, max=MAX_TEMPLATE)
    try:
        parsed = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise Invalid("The template in %(where)s has an error on line %(line)s: %(problem)s", field=field,
                      where=field, line=exc.lineno, problem=exc.message or "") from None
    allowed = {name.split(".")[0] for name, _ in VARIABLES}
    unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
    if unknown:
        raise Invalid("The template in %(where)s uses %(names)s; the variables are %(allowed)s.", field=field,
                      where=field, names=", ".join(unknown), allowed=", ".join(name for name, _ in VARIABLES))


def render(text: str, variables: dict[str, Any], field: str = "body") -> str:
    """Render one template for one recipient; a runtime error (a sandbox refusal, a bad filter argument) is an
    Invalid naming the field."""
    if not text:
        return ""
    try:
        return _ENV.from_string(text).render(**variables)
    except TemplateError as exc:
        raise Invalid("The template in %(where)s cannot be rendered: %(problem)s", field=field, where=field,
                      problem=str(exc)) from None


def pick_content(content: dict[str, Any], language: str) -> dict[str, str]:
    """The variant's content in the recipient's language when it has one, else the default ('')."""
    chosen = content.get(language) if language else None
    if not isinstance(chosen, dict) or not (chosen.get("body") or "").strip():
        chosen = content.get("") or next((v for v in content.values() if isinstance(v, dict)), {})
    return {"subject": str(chosen.get("subject") or ""), "body": str(chosen.get("body") or "")}


async def variables_for(contact_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The template variables of many contacts at once (one query each for cards and last orders). Dates and
    money are formatted when rendered, in the recipient's language and zone (see `render_for`)."""
    if not contact_ids:
        return {}
    conn = current_uow().connection
    cards = await conn.fetch("SELECT id, name, language FROM contact WHERE id = ANY($1::int[])", contact_ids)
    orders = await conn.fetch(
        "SELECT DISTINCT ON (contact) contact, number, placed_at, total, currency FROM shop_order "
        "WHERE contact = ANY($1::int[]) ORDER BY contact, placed_at DESC, id DESC", contact_ids)
    out: dict[int, dict[str, Any]] = {}
    by_language: dict[str, list[int]] = {}
    for card in cards:
        name = (card["name"] or "").strip()
        out[card["id"]] = {"contact": {"name": name, "first_name": name.split(" ")[0] if name else ""}}
        by_language.setdefault(card["language"] or "", []).append(card["id"])
    for o in orders:
        if o["contact"] in out:
            out[o["contact"]]["_order"] = dict(o)
    for language, ids in by_language.items():  # the reason is written in the recipient's language
        with i18n.viewing(language or None):
            found = await upsell.suggestions_for(ids, limit=1)
        for cid, items in found.items():
            if items and cid in out:
                item = items[0]
                out[cid]["suggestion"] = {"product_name": item.product_name, "reason": item.reason,
                                          "product_key": item.product_key}
    return out


def localise(variables: dict[str, Any]) -> dict[str, Any]:
    """The variables with the last order's date and total formatted for the active viewer (language and zone)."""
    out = {k: v for k, v in variables.items() if not k.startswith("_")}
    order = variables.get("_order")
    if order:
        out["last_order"] = {"number": order["number"], "date": i18n.format_date(order["placed_at"]),
                             "total": i18n.format_money(order["total"], order["currency"])}
    return out


def render_for(content: dict[str, Any], language: str, zone: str, variables: dict[str, Any],
               field_prefix: str = "") -> dict[str, str]:
    """Subject and body of one message for one recipient, in their language and zone."""
    picked = pick_content(content, language)
    with i18n.viewing(language or None, zone or None):
        values = localise(variables)
        return {"subject": render(picked["subject"], values, f"{field_prefix}subject").strip(),
                "body": render(picked["body"], values, f"{field_prefix}body").strip()}

