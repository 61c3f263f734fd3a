"""Service-level settings in the JSON API: `GET/PUT /t/{slug}/api/v1/reports/settings` (admins change them)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.params import JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib import i18n
from app.reports import service_level
from app.reports.service_level import FormulaOut, SettingsIn, SettingsOut

Req = Request[Principal, Any, Any]


async def settings_out() -> SettingsOut:
    row = await service_level.get_settings()
    return SettingsOut(**row, formula=i18n.gettext(service_level.FORMULAS[row["service_level_formula"]]),
                       formulas=[FormulaOut(key, i18n.gettext(text)) for key, text in service_level.FORMULAS.items()])


class ServiceLevelApi(Controller):
    path = "/api/v1/reports/settings"
    tags = ["reports"]
    guards = [requires("supervisor")]

    @get("/", summary="How service level is computed: the formula, the threshold T and the short-abandon limit")
    async def read(self) -> SettingsOut:
        return await settings_out()

    @put("/", guards=[requires("admin")],
         summary="Choose the service-level formula, T and the short-abandon limit (seconds); audited")
    async def write(self, request: Req, data: JSONBody[SettingsIn]) -> SettingsOut:
        await service_level.update_settings(request.user, data)
        return await settings_out()
