"""Reports JSON API under /t/{slug}/api/v1/reports: every registered report as JSON or CSV, the rows behind any
number (drill-down), the agents' availability timeline and the KPI targets."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.errors import NotFound
from app.reports import kit, services
from app.reports.schemas import TargetsIn, TargetsOut

Req = Request[Principal, Any, Any]
DateParam = Annotated[str | None, QueryParameter(name="from", description="First day (YYYY-MM-DD, workspace's zone).")]
ToParam = Annotated[str | None, QueryParameter(name="to", description="Last day, inclusive (YYYY-MM-DD).")]
FormatParam = Annotated[str, QueryParameter(name="format", description="`json` (default) or `csv`.")]


def csv_response(text: str, filename: str) -> Response[bytes]:
    return Response(content=text.encode(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def extra(request: Req) -> dict[str, str]:
    """The report's own query parameters (group, bucket, agent, ...)."""
    return {k: v for k, v in request.query_params.items() if k not in ("from", "to", "format", "row", "column")}


async def spec_for(request: Req, name: str) -> kit.ReportSpec:
    return services.spec_for(request.user, name)


class ReportsApi(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [requires("supervisor")]

    @get("/", summary="The reports you may open")
    async def index(self, request: Req) -> list[dict[str, str]]:
        return [{"name": s.name, "title": services.gettext(s.title)} for s in services.visible_specs(request.user)]

    @get("/targets", summary="KPI targets per agent (agent null: the team's)")
    async def read_targets(self) -> TargetsOut:
        return services.targets_out(await services.targets())

    @put("/targets", summary="Replace the KPI targets (metric, agent or null for the team, value)")
    async def write_targets(self, request: Req, data: JSONBody[TargetsIn]) -> TargetsOut:
        return services.targets_out(await services.set_targets(
            request.user, [{"metric": t.metric, "agent": t.agent, "value": t.value} for t in data.targets]))

    @get("/{name:str}/timeline", summary="agents/timeline: each agent's states over one day of the workspace's zone")
    async def timeline(self, request: Req, name: FromPath[str],
                       date: Annotated[str | None, QueryParameter(name="date")] = None) -> dict[str, Any]:
        # One path shape with the report's: Litestar's router would not fall back from a static `agents` segment.
        if name != "agents":
            raise NotFound("No timeline for %(name)s.", name=name)
        await spec_for(request, name)
        return await services.timeline_of(date)

    @get("/{name:str}", summary="A report over a period (JSON, or CSV with format=csv): rows, totals, chart, "
                                "formulas and notes", media_type="application/json")
    async def report(self, request: Req, name: FromPath[str], first: DateParam = None, last: ToParam = None,
                     fmt: FormatParam = "json") -> Any:
        spec = await spec_for(request, name)
        period = kit.period(first, last, await services.zone())
        report = await spec.build(period, extra(request))
        if fmt == "csv":
            return csv_response(kit.to_csv(report), f"{name}_{period.first}_{period.last}.csv")
        return kit.as_json(report, period)

    @get("/{name:str}/drill", summary="The rows behind one number of a report (JSON, or CSV with format=csv)",
         media_type="application/json")
    async def drill(self, request: Req, name: FromPath[str], row: FromQuery[str], column: FromQuery[str],
                    first: DateParam = None, last: ToParam = None, fmt: FormatParam = "json") -> Any:
        spec = await spec_for(request, name)
        period = kit.period(first, last, await services.zone())
        columns, rows = await spec.drill(period, extra(request), row, column)
        if fmt == "csv":
            return csv_response(kit.drill_csv(columns, rows), f"{name}_{column}_{row}_{period.first}_{period.last}.csv")
        return {"columns": kit.columns_json(columns), "rows": rows}
