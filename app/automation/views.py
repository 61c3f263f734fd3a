"""The automation pages: rules and starters, the no-code builder (a small script keeps the rule's JSON in a hidden
field), "test against a record", "preview", the run log per rule (searchable) and per contact (on the card)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.automation import actions as steps
from app.automation import conditions, services
from app.automation.starters import STARTERS
from app.contacts import services as contacts
from app.contacts.queries import ContactFilter
from app.conversations import services as conversations
from app.email import templates as email_templates
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_, gettext
from app.lib.templates import flash, render_page
from app.lib.wire import PathId, QueryId
from app.orders import pipeline
from app.segments import services as segments

Req = Request[Principal, Any, Any]
EMPTY = {"name": "", "trigger": "event", "event": "message.received", "schedule": "", "delay_minutes": 0,
         "conditions": {"all": []}, "actions": [], "rate_limit": 0}


async def catalogue() -> dict[str, Any]:
    """What the builder offers, in the viewer's language: events, fields per entity, operators, actions."""
    return {
        "events": services.events(),
        "entities": {k: gettext(v) for k, v in conditions.ENTITIES.items()},
        "fields": [{"path": f.path, "label": gettext(f.label), "kind": f.kind, "options": list(f.options),
                    "entity": f.path.split(".")[0]} for f in conditions.FIELDS],
        "ops": {k: gettext(v) for k, v in conditions.OPS.items()},
        "fieldless": sorted(conditions.FIELDLESS),
        "actions": [{"key": a.key, "label": gettext(a.label),
                     "params": [{"name": p.name, "label": gettext(p.label), "kind": p.kind, "required": p.required,
                                 "options": list(p.options)} for p in a.params]} for a in steps.ACTIONS.values()],
        "users": [{"id": u["id"], "name": u["name"]} for u in await accounts.list_users()],
        "queues": [{"key": q["key"], "name": q["name"]} for q in await conversations.queues()],
        "statuses": [s["key"] for s in await pipeline.statuses()],
        "templates": [{"id": t["id"], "name": t["name"]} for t in await email_templates.list_all()],
        "segments": [{"id": s["id"], "name": s["name"], "kind": s["kind"]} for s in await segments.list_segments()],
    }


STATUS_NAMES = {
    "pending": N_("pending"), "not_matched": N_("conditions not met"), "done": N_("done"), "waiting": N_("waiting"),
    "retrying": N_("retrying"), "partial": N_("partly failed"), "failed": N_("failed"), "stopped": N_("stopped"),
    "rate_limited": N_("rate limited"), "depth_limit": N_("loop stopped"), "skipped": N_("skipped"),
}


def names() -> dict[str, str]:
    """Run statuses, operators and action types as the viewer reads them (`names.get(key, key)` in templates)."""
    return {**{k: gettext(v) for k, v in STATUS_NAMES.items()}, **{k: gettext(v) for k, v in conditions.OPS.items()},
            **{a.key: gettext(a.label) for a in steps.ACTIONS.values()}}


def texts() -> dict[str, Any]:
    """What the run log's templates read words through: `names` (statuses, operators, actions) and `said()`."""
    return {"names": names(), "said": steps.said}


def _definition(form: Any) -> dict[str, Any]:
    raw = str(form.get("definition") or "")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        raise Invalid("The rule could not be read; reload the page.", field="definition") from None
    if not isinstance(value, dict):
        raise Invalid("The rule could not be read; reload the page.", field="definition")
    return value


class AutomationViews(Controller):
    path = "/automation"
    include_in_schema = False
    guards = [requires("admin")]

    async def _builder(self, request: Req, rule: dict[str, Any] | None, *, error: str | None = None,
                       draft: dict[str, Any] | None = None, status_code: int = 200, q: str = "") -> Template:
        definition = draft or ({k: rule[k] for k in services.DEFINITION} if rule else EMPTY)
        return render_page(request, "pages/automation_rule.html", {
            "rule": rule, "definition": definition, "catalogue": await catalogue(), "error": error, "q": q,
            "versions": await services.versions(rule["id"]) if rule else [],
            "recent_contacts": (await contacts.search(ContactFilter(sort="updated"), limit=50))[0],
            "runs": await services.runs(rule_id=rule["id"], q=q) if rule else [], **texts()},
            status_code=status_code)

    @get("/")
    async def index(self, request: Req, q: FromQuery[str] = "") -> Template:
        rules = await services.list_rules()
        made = {r["starter"]: r for r in rules if r["starter"]}
        starters = [{"key": s.key, "name": gettext(s.name), "doc": gettext(s.doc), "rule": made.get(s.key)}
                    for s in STARTERS]
        return render_page(request, "pages/automation.html", {
            "rules": rules, "starters": starters, "q": q, "runs": await services.runs(q=q, limit=30), **texts()})

    @get("/new")
    async def new(self, request: Req) -> Template:
        return await self._builder(request, None)

    @get("/{rule_id:int}")
    async def edit(self, request: Req, rule_id: PathId, q: FromQuery[str] = "") -> Template:
        return await self._builder(request, await services.get(rule_id), q=q)

    @post("/save")
    async def save(self, request: Req, rule_id: FromQuery[int | None] = None) -> Template | Redirect:
        form = await request.form()
        rule = None
        try:
            draft = _definition(form)
            rule = await services.get(rule_id) if rule_id else None
            saved = (await services.update(request.user, rule_id, draft) if rule_id
                     else await services.create(request.user, draft))
        except DomainError as exc:
            return await self._builder(request, rule, error=exc.labelled, draft=locals().get("draft"),
                                       status_code=exc.status_code)
        slug = request.scope["state"]["tenant"].slug
        return Redirect(f"/t/{slug}/automation/{saved['id']}", status_code=303)

    @post("/{rule_id:int}/enabled")
    async def toggle(self, request: Req, rule_id: PathId) -> Template | Redirect:
        """htmx swaps the toggle in place; a plain form post (a click before htmx took the form over) comes back
        to the rule's page."""
        form = await request.form()
        rule = await services.set_enabled(request.user, rule_id, form.get("enabled") == "1")
        if not request.headers.get("hx-request"):
            return Redirect(f"/t/{request.scope['state']['tenant'].slug}/automation/{rule_id}", status_code=303)
        return render_page(request, "_partials/automation_toggle.html", {"r": rule})

    @post("/{rule_id:int}/move")
    async def move(self, request: Req, rule_id: PathId) -> Redirect:
        """Up or down one place in the order the rules run."""
        form = await request.form()
        rule = await services.get(rule_id)
        order = [r["id"] for r in await services.list_rules()]
        step = -1 if form.get("direction") == "up" else 1
        await services.move(request.user, rule_id, max(1, order.index(rule["id"]) + 1 + step))
        slug = request.scope["state"]["tenant"].slug
        return Redirect(f"/t/{slug}/automation/", status_code=303)

    @post("/starters/{key:str}")
    async def starter(self, request: Req, key: FromPath[str]) -> Redirect:
        rule = await services.enable_starter(request.user, key)
        slug = request.scope["state"]["tenant"].slug
        return Redirect(f"/t/{slug}/automation/{rule['id']}", status_code=303)

    @post("/test")
    async def test(self, request: Req) -> Template:
        form = await request.form()
        record_id = str(form.get("record_id") or "").strip()
        try:
            if not record_id.isdigit():
                raise Invalid("Give the id of the record to test against.", field="record_id")
            result = await services.test(_definition(form), str(form.get("record") or "contact"), int(record_id))
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return render_page(request, "_partials/automation_test.html", {"result": result, **texts()})

    @post("/preview")
    async def preview(self, request: Req) -> Template:
        form = await request.form()
        try:
            result = await services.preview(_definition(form))
        except DomainError as exc:
            return flash(request, exc.labelled, ok=False, status=exc.status_code)
        return flash(request, gettext("Matches %(matches)s of the %(checked)s most recent records now.",
                                      matches=result["matches"], checked=result["checked"]), ok=True)

    @get("/runs")
    async def runs(self, request: Req, rule_id: QueryId = None, q: FromQuery[str] = "") -> Template:
        return render_page(request, "_partials/automation_runs.html",
                           {"runs": await services.runs(rule_id=rule_id, q=q), "show_rule": rule_id is None,
                            **texts()})


class AutomationCardViews(Controller):
    """The contact card's automation section: the runs about this contact (any signed-in colleague reads it)."""

    path = "/automation/contacts"
    include_in_schema = False
    guards = [signed_in]

    @get("/{contact_id:int}/runs")
    async def contact_runs(self, request: Req, contact_id: PathId) -> Template:
        return render_page(request, "_partials/automation_card.html",
                           {"runs": await services.runs(contact_id=contact_id, limit=10), "contact_id": contact_id,
                            **texts()})
