"""The admin's SLA page at /t/{slug}/settings/sla: policies with their targets (a number and a unit), scope, business
hours, pause statuses and warning share."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app import channels
from app.accounts.guards import requires
from app.accounts.services import Principal
from app.conversations import services as conversations
from app.lib import i18n
from app.lib.errors import DomainError, Invalid
from app.lib.forms import optional_int, ticked
from app.lib.templates import render_page
from app.lib.wire import PathId
from app.sla import clocks, policies
from app.sla.schemas import PolicyIn
from app.sla.tables import METRIC_LABELS, METRICS, PAUSE_STATUSES

Req = Request[Principal, Any, Any]
PAGE = "pages/sla_policies.html"
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}


def split(seconds: int | None) -> tuple[str, str]:
    """A target as the form shows it: the largest whole unit."""
    if not seconds:
        return "", "minutes"
    for unit in ("hours", "minutes"):
        if seconds % UNITS[unit] == 0:
            return str(seconds // UNITS[unit]), unit
    return str(seconds), "seconds"


def _target(form: Any, metric: str) -> int | None:
    raw = str(form.get(f"{metric}_value", "") or "").strip()
    if not raw:
        return None
    unit = str(form.get(f"{metric}_unit", "minutes"))
    if not raw.isdigit() or unit not in UNITS:
        raise Invalid("%(metric)s: write a whole number of seconds, minutes or hours.", field=f"{metric}_value",
                      metric=i18n.gettext(METRIC_LABELS[metric]))
    return int(raw) * UNITS[unit]


def policy_in(form: Any) -> PolicyIn:
    """The form as the API's body (the service checks every rule the API's struct checks, with messages a person
    reads)."""
    return PolicyIn(name=str(form.get("name", "")), queue=str(form.get("queue", "")) or None,
                    channel=str(form.get("channel", "")) or None, priority=optional_int(form.get("priority")),
                    first_response_seconds=_target(form, "first_response"),
                    next_response_seconds=_target(form, "next_response"),
                    resolution_seconds=_target(form, "resolution"),
                    business_hours=form.get("business_hours") is not None,
                    pause_statuses=ticked(form, "pause_statuses"),
                    warn_percent=optional_int(form.get("warn_percent")) or 80)


class SlaSettingsViews(Controller):
    path = "/settings/sla"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        rows = await policies.list_policies()
        for row in rows:
            row["targets"] = {m: split(row[f"{m}_seconds"]) for m in METRICS}
        return render_page(request, PAGE, {
            "policies": rows, "queues": await conversations.queues(), "channels": channels.KEYS, "metrics": METRICS,
            "units": list(UNITS), "pause_statuses": PAUSE_STATUSES, "error": error, "notice": notice,
            "blank": {m: ("", "minutes") for m in METRICS}}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def add(self, request: Req) -> Template:
        try:
            row = await policies.create(request.user, policy_in(await request.form()))
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("SLA policy “%(name)s” added.", name=row["name"]))

    @post("/{policy_id:int}")
    async def update(self, request: Req, policy_id: PathId) -> Template:
        try:
            row = await policies.update(request.user, policy_id, policy_in(await request.form()))
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("SLA policy “%(name)s” saved.", name=row["name"]))

    @post("/{policy_id:int}/delete")
    async def remove(self, request: Req, policy_id: PathId) -> Template:
        try:
            await policies.delete(request.user, policy_id)
        except DomainError as exc:
            return await self._page(request, error=exc.labelled, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("SLA policy removed; running clocks keep their terms."))


class SlaConsoleViews(Controller):
    """The supervisor's SLA alerts panel on the console: what is past its warning or due time when it opens."""

    path = "/console/sla-alerts"
    include_in_schema = False
    guards = [requires("supervisor")]

    @get("/")
    async def alerts(self, request: Req) -> Template:
        rows = await clocks.alerts(await conversations.visible_queue_ids(request.user))
        return render_page(request, "_partials/sla_alert_rows.html", {"alerts": rows})
