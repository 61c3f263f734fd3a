"""Report pages under /t/{slug}/reports: the index, a report (date range, grouping, chart, table with formulas and
drill-down links, CSV), the rows behind a number, and the KPI targets form. Supervisors and above."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.templates import render_page
from app.reports import kit, services
from app.reports.api import extra

Req = Request[Principal, Any, Any]


def _query(request: Req, **changes: str) -> str:
    params = {k: v for k, v in request.query_params.items() if k not in ("format", "date")}
    params.update(changes)
    return urlencode({k: v for k, v in params.items() if v != ""})  # a tag key may hold & or #


class ReportsViews(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [requires("supervisor")]

    @get("/")
    async def index(self, request: Req) -> Template:
        return render_page(request, "pages/reports.html", {"reports": services.visible_specs(request.user)})

    @get("/targets")
    async def targets(self, request: Req) -> Template:
        return await self._targets(request)

    async def _targets(self, request: Req, *, error: str = "", notice: str = "", status: int = 200) -> Template:
        current = {(r["metric"], r["agent"]): r["value"] for r in await services.targets()}
        return render_page(request, "pages/report_targets.html", {
            "metrics": services.TARGET_METRICS, "agents": sorted((await services.agent_labels()).items(),
                                                                   key=lambda a: a[1].lower()),
            "current": current, "error": error, "notice": notice}, status_code=status)

    @post("/targets")
    async def save_targets(self, request: Req) -> Template:
        form = await request.form()
        items: list[dict[str, Any]] = []
        for key, raw in form.items():
            if not key.startswith("t:") or not str(raw).strip():
                continue
            _, metric, who = key.split(":", 2)
            try:
                value = float(str(raw).replace(",", "."))
            except ValueError:
                return await self._targets(request, error=i18n.gettext("A target is a number of 0 or more."),
                                           status=400)
            items.append({"metric": metric, "agent": int(who) if who.isdigit() else None, "value": value})
        try:
            await services.set_targets(request.user, items)
        except DomainError as exc:
            return await self._targets(request, error=exc.labelled, status=exc.status_code)
        return await self._targets(request, notice=i18n.gettext("KPI targets saved."))

    @get("/{name:str}")
    async def report(self, request: Req, name: FromPath[str], date: FromQuery[str | None] = None) -> Template:
        spec = services.spec_for(request.user, name)
        zone = await services.zone()
        params = extra(request)
        params.pop("date", None)
        ctx: dict[str, Any] = {"spec": spec, "zone": zone, "error": "", "report": None, "params": params,
                               "shown": shown, "query": _query(request), "groups": spec.groups,
                               "buckets": spec.buckets}
        status = 200
        try:
            period = kit.period(request.query_params.get("from"), request.query_params.get("to"), zone)
            built = await spec.build(period, params)
            ctx.update(report=built, period=period, data=kit.as_json(built, period),
                       query=_query(request, **{"from": period.first.isoformat(), "to": period.last.isoformat()}))
            if name == "agents":
                day = date or period.last.isoformat()
                timeline = await services.timeline_of(day)
                for agent in timeline["agents"]:
                    for span in agent["spans"]:
                        span["start_at"] = dt.datetime.fromisoformat(span["start"])
                        span["end_at"] = dt.datetime.fromisoformat(span["end"])
                ctx["timeline"] = timeline
        except DomainError as exc:
            ctx["error"], status = exc.labelled, exc.status_code
        return render_page(request, "pages/report.html", ctx, status_code=status)

    @get("/{name:str}/drill")
    async def drill(self, request: Req, name: FromPath[str], row: FromQuery[str], column: FromQuery[str]) -> Template:
        spec = services.spec_for(request.user, name)
        zone = await services.zone()
        ctx: dict[str, Any] = {"spec": spec, "zone": zone, "error": "", "rows": [], "columns": [], "shown": shown,
                               "query": _query(request), "row": row, "column": column}
        status = 200
        try:
            period = kit.period(request.query_params.get("from"), request.query_params.get("to"), zone)
            columns, rows = await spec.drill(period, extra(request), row, column)
            ctx.update(columns=columns, rows=rows, period=period,
                       back=_query(request, row="", column=""))
        except DomainError as exc:
            ctx["error"], status = exc.labelled, exc.status_code
        return render_page(request, "pages/report_drill.html", ctx, status_code=status)


def seconds_label(value: Any) -> str:
    """A duration as a person reads it: 45 s, 4:20 min, 1:02:03 h."""
    if value is None:
        return "—"
    total = round(float(value))
    if total < 60:
        return i18n.gettext("%(n)s s", n=total)
    if total < 3600:
        return i18n.gettext("%(m)s:%(s)s min", m=total // 60, s=str(total % 60).zfill(2))
    return i18n.gettext("%(h)s:%(m)s:%(s)s h", h=total // 3600, m=str(total % 3600 // 60).zfill(2),
                        s=str(total % 60).zfill(2))


def shown(value: Any, kind: str, currency: str = "") -> str:
    """A report cell as the table shows it (the CSV and JSON keep raw numbers). Money with a `currency` (the row's
    "currency" key) is integer minor units, shown in the viewer's locale ("$307.00", "307,00 €")."""
    if value is None or value == "":
        return "—" if kind != "text" else ""
    if kind == "money" and currency:
        return i18n.format_money(int(value), currency)
    if kind == "seconds":
        return seconds_label(value)
    if kind == "percent":
        return i18n.format_number(float(value), 1) + " %"
    if kind == "int":
        return i18n.format_number(int(value))
    if kind == "money":
        return i18n.format_number(float(value), 2)
    if kind == "datetime" and isinstance(value, dt.datetime):
        return i18n.format_datetime(value)
    return str(value)
