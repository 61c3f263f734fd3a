"""Upsell JSON API under /t/{slug}/api/v1: a contact's suggestions, the pairs, suggestion events, the report and the
shop's thresholds."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.lib.wire import PathId, QueryInt
from app.upsell import services
from app.upsell.schemas import EventIn, EventOut, PairOut, ReportOut, SettingsIO, Suggestion

Req = Request[Principal, Any, Any]


class UpsellApi(Controller):
    path = "/api/v1"
    tags = ["upsell"]
    guards = [signed_in]

    @get("/contacts/{contact_id:int}/suggestions",
         summary="What to offer the contact next (due reorders, then 'bought X, also bought Y'), with the reason")
    async def suggestions(self, contact_id: PathId, limit: QueryInt = 3) -> list[Suggestion]:
        return await services.contact_suggestions(contact_id, limit)

    @get("/upsell/pairs", summary="Rules 'bought X, also bought Y' with support, confidence and lift (level: "
                                  "product or category)")
    async def pairs(self, level: FromQuery[str] = "product", limit: QueryInt = 100) -> list[PairOut]:
        return [to_struct(PairOut, r) for r in await services.pairs(level, limit)]

    @post("/upsell/events", summary="Record that a suggestion was shown or accepted (shown: once a day per contact "
                                    "and product)")
    async def event(self, data: JSONBody[EventIn]) -> EventOut:
        return EventOut(recorded=await services.record(data.contact_id, data.product_key, data.kind, data.source,
                                                       data.ref))

    @get("/upsell/report", summary="Suggestions shown, accepted and ordered in the last `days` days, the revenue "
                                   "they brought, and the pairs")
    async def report(self, days: QueryInt = 30) -> ReportOut:
        row = await services.report(days)
        return ReportOut(**{**row, "pairs": [to_struct(PairOut, p) for p in row["pairs"]]})

    @get("/upsell/settings", guards=[requires("admin")], summary="The shop's upsell thresholds")
    async def settings(self) -> SettingsIO:
        return SettingsIO(**await services.settings())

    @put("/upsell/settings", guards=[requires("admin")],
         summary="Set minimum support and confidence (0..1), minimum baskets, recent and attribution days")
    async def save_settings(self, data: JSONBody[SettingsIO]) -> SettingsIO:
        return SettingsIO(**await services.save_settings({f: getattr(data, f) for f in services.SETTINGS_FIELDS}))

    @post("/upsell/recompute", guards=[requires("admin")], status_code=200,
          summary="Recompute pairs and suggestions now (otherwise after order changes, debounced, and nightly)")
    async def recompute(self) -> dict[str, int]:
        return await services.recompute()
