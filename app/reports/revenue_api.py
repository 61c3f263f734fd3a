"""The revenue reports' settings under /t/{slug}/api/v1/revenue-report/settings: the last-touch window and the
rule for clients who stopped buying (admins). The reports themselves are served by app.reports.api (not under
/reports/revenue/...: a static segment there would shadow the generic /reports/{name} routes)."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Controller, Request, get, put
from litestar.params import JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.reports import revenue_facts
from app.reports.revenue_schemas import RevenueSettingsIn, RevenueSettingsOut

Req = Request[Principal, Any, Any]


def _out(settings: revenue_facts.RevenueSettings) -> RevenueSettingsOut:
    return RevenueSettingsOut(**dataclasses.asdict(settings))


class RevenueSettingsApi(Controller):
    path = "/api/v1/revenue-report/settings"
    tags = ["reports"]
    guards = [requires("admin")]

    @get("/", summary="The revenue reports' rules: last-touch window, when a repeat client has stopped buying")
    async def read(self) -> RevenueSettingsOut:
        return _out(await revenue_facts.settings())

    @put("/", summary="Change the revenue reports' rules")
    async def write(self, request: Req, data: JSONBody[RevenueSettingsIn]) -> RevenueSettingsOut:
        return _out(await revenue_facts.configure(request.user, touch_days=data.touch_days,
                                                  lapsed_factor=data.lapsed_factor, lapsed_days=data.lapsed_days))
