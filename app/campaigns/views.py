"""Campaign pages (supervisors and above): the list, the editor of a draft with a preview, and a started campaign's
page with live progress and per-recipient statuses (pushed over the page's socket by app/campaigns/live.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.campaigns import services, templating
from app.campaigns.schemas import CampaignIn, CampaignPatch, ContentIn, PreviewIn, VariantIn
from app.campaigns.tables import RECIPIENT_STATUSES
from app.lib import forms, i18n
from app.lib.db import current_tenant, current_uow
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.templates import render_page
from app.lib.wire import PathId, QueryInt
from realtime import current_id

Req = Request[Principal, Any, Any]
LANGUAGES = (("", N_("Default")), ("en", N_("English")), ("ru", N_("Russian")), ("bg", N_("Bulgarian")))
VARIANT_KEYS = ("A", "B")
STATUS_LABELS = {"draft": N_("Draft"), "scheduled": N_("Scheduled"), "sending": N_("Sending"), "paused": N_("Paused"),
                 "done": N_("Done"), "cancelled": N_("Cancelled")}
RECIPIENT_LABELS = {"queued": N_("Queued"), "skipped": N_("Skipped"), "sending": N_("Sending"), "sent": N_("Sent"),
                    "delivered": N_("Delivered"), "failed": N_("Failed"), "bounced": N_("Bounced"),
                    "held_out": N_("Held out")}
REASON_LABELS = {"opted_out": N_("opted out"), "suppressed": N_("suppressed"), "no_opt_in": N_("no opt-in"),
                 "transactional_only": N_("transactional only"), "frequency_cap": N_("frequency cap"),
                 "cancelled": N_("cancelled"), "no_address": N_("no address"), "template_error": N_("template error"),
                 "empty_message": N_("empty message")}
PAGE = 100


def labels() -> dict[str, Any]:
    t = i18n.gettext
    return {"status_label": {k: t(v) for k, v in STATUS_LABELS.items()},
            "recipient_label": {k: t(v) for k, v in RECIPIENT_LABELS.items()},
            "reason_label": {k: t(v) for k, v in REASON_LABELS.items()},
            "languages": [(k, t(v)) for k, v in LANGUAGES], "variant_keys": VARIANT_KEYS,
            "variables": [(name, t(doc)) for name, doc in templating.VARIABLES],
            "recipient_statuses": RECIPIENT_STATUSES}


async def segment_choices() -> list[dict[str, Any]]:
    return [dict(r) for r in await current_uow().connection.fetch("SELECT id, name FROM segment ORDER BY name")]


def _opt_int(form: Any, name: str, low: int = 0, high: int = 1_000_000) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid("%(name)s must be a whole number from %(low)s to %(high)s.", field=name, name=name, low=low,
                      high=high)
    return int(raw)


def _opt_time(form: Any, name: str) -> dt.time | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise Invalid("Give %(name)s as HH:MM.", field=name, name=name) from None


def variants_from_form(form: Any) -> list[VariantIn]:
    out = []
    for key in VARIANT_KEYS:
        content = {}
        for lang, _ in LANGUAGES:
            body = str(form.get(f"v_{key}_body_{lang}") or "")
            subject = str(form.get(f"v_{key}_subject_{lang}") or "")
            if body.strip() or subject.strip():
                content[lang] = ContentIn(body=body, subject=subject)
        if content:
            out.append(VariantIn(key=key, content=content, weight=_opt_int(form, f"v_{key}_weight", 0, 1000) or 0))
    if len(out) == 1 and out[0].weight == 0:
        out[0].weight = 1
    return out


def fields_from_form(form: Any) -> dict[str, Any]:
    return {"name": str(form.get("name") or ""), "channel": str(form.get("channel") or "sms"),
            "purpose": str(form.get("purpose") or "marketing"),
            "segment_id": _opt_int(form, "segment_id", 1, 2**31 - 1),
            "scheduled_at": forms.local_time(str(form.get("scheduled_at") or ""), "scheduled_at"),
            "quiet_start": _opt_time(form, "quiet_start"), "quiet_end": _opt_time(form, "quiet_end"),
            "throttle_per_minute": _opt_int(form, "throttle_per_minute", 1),
            "cap_messages": _opt_int(form, "cap_messages", 1), "cap_days": _opt_int(form, "cap_days", 1, 365),
            "holdout_percent": _opt_int(form, "holdout_percent", 0, 90) or 0,
            "variants": variants_from_form(form)}


def _draft_from_form(form: Any) -> dict[str, Any]:
    """What the editor shows back after a refused save: the typed values, in the shape of a campaign."""
    variants = []
    for key in VARIANT_KEYS:
        content = {lang: {"body": str(form.get(f"v_{key}_body_{lang}") or ""),
                          "subject": str(form.get(f"v_{key}_subject_{lang}") or "")} for lang, _ in LANGUAGES}
        variants.append({"key": key, "weight": str(form.get(f"v_{key}_weight") or ""), "content": content})
    keys = ("name", "channel", "purpose", "segment_id", "quiet_start", "quiet_end", "throttle_per_minute",
            "cap_messages", "cap_days", "holdout_percent")
    return {**{k: form.get(k) for k in keys}, "scheduled_at": None, "variants": variants, "status": "draft"}


class CampaignViews(Controller):
    path = "/campaigns"
    include_in_schema = False
    guards = [requires("supervisor")]

    async def _editor(self, request: Req, c: dict[str, Any] | None, error: str | None = None,
                      preview: dict[str, Any] | None = None, status_code: int = 200) -> Template:
        ctx = {"c": c, "error": error, "preview": preview, "segments": await segment_choices(), **labels()}
        return render_page(request, "pages/campaign_edit.html", ctx, status_code=status_code)

    @get("/")
    async def index(self, request: Req, status: FromQuery[str] = "") -> Template:
        rows, _ = await services.search(status=status or None, limit=100)
        return render_page(request, "pages/campaigns.html", {"campaigns": rows, "status": status, **labels()})

    @get("/new")
    async def new(self, request: Req) -> Template:
        return await self._editor(request, None)

    @post("/")
    async def create(self, request: Req) -> Template | Redirect:
        form = await request.form()
        try:
            row = await services.create(request.user, CampaignIn(**fields_from_form(form)))
        except DomainError as exc:
            return await self._editor(request, _draft_from_form(form), exc.labelled, status_code=exc.status_code)
        return Redirect(f"/t/{current_tenant().slug}/campaigns/{row['id']}", status_code=303)

    @get("/{campaign_id:int}")
    async def read(self, request: Req, campaign_id: PathId, status: FromQuery[str] = "",
                   after: QueryInt = 0) -> Template:
        c = await services.get(campaign_id)
        if c["status"] == "draft":
            return await self._editor(request, c)
        rows, nxt = await services.recipients(campaign_id, status=status or None, limit=PAGE, after=after)
        ctx = {"c": c, "recipients": rows, "next": nxt, "filter": status, "after": after, "live": True,
               "last_event_id": await current_id(), **labels()}
        return render_page(request, "pages/campaign.html", ctx)

    @post("/{campaign_id:int}")
    async def save(self, request: Req, campaign_id: PathId) -> Template | Redirect:
        form = await request.form()
        try:
            await services.update(campaign_id, CampaignPatch(**fields_from_form(form)))
            if form.get("action") == "send":
                await services.send(request.user, campaign_id)
        except DomainError as exc:
            c = {**_draft_from_form(form), "id": campaign_id}
            return await self._editor(request, c, exc.labelled, status_code=exc.status_code)
        return Redirect(f"/t/{current_tenant().slug}/campaigns/{campaign_id}", status_code=303)

    @post("/{campaign_id:int}/preview")
    async def preview(self, request: Req, campaign_id: PathId) -> Template:
        form = await request.form()
        try:
            fields = fields_from_form(form)
            result = await services.preview(campaign_id, PreviewIn(
                contact_id=_opt_int(form, "preview_contact_id", 1, 2**31 - 1), variants=fields["variants"]),
                fields["channel"])
        except DomainError as exc:
            return render_page(request, "_partials/campaign_preview.html", {"error": exc.labelled},
                               status_code=exc.status_code)
        return render_page(request, "_partials/campaign_preview.html", {"preview": result})

    @post("/{campaign_id:int}/{action:str}")
    async def act(self, request: Req, campaign_id: PathId, action: FromPath[str]) -> Template | Redirect:
        verbs = {"pause": services.pause, "resume": services.resume, "cancel": services.cancel}
        try:
            if action == "send":
                await services.send(request.user, campaign_id)
            elif action in verbs:
                await verbs[action](campaign_id)
            else:
                raise Invalid("Unknown action %(action)s.", field="action", action=action)
        except DomainError as exc:
            c = await services.get(campaign_id)
            if c["status"] == "draft":
                return await self._editor(request, c, exc.labelled, status_code=exc.status_code)
            rows, nxt = await services.recipients(campaign_id, limit=PAGE)
            return render_page(request, "pages/campaign.html", {
                "c": c, "recipients": rows, "next": nxt, "filter": "", "after": 0, "error": exc.labelled, "live": True,
                "last_event_id": await current_id(), **labels()}, status_code=exc.status_code)
        return Redirect(f"/t/{current_tenant().slug}/campaigns/{campaign_id}", status_code=303)
