"""Consent JSON API under /t/{slug}/api/v1: a contact's ledger (newest first) and appending to it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.consent import services
from app.consent.schemas import ConsentIn, ConsentOut, ConsentSettingsIn, ConsentSettingsOut
from app.contacts.services import to_struct
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


class ConsentApi(Controller):
    path = "/api/v1/contacts/{contact_id:int}/consent"
    tags = ["consent"]
    guards = [signed_in]

    @get("/", summary="A contact's consent ledger, newest first: {channel, purpose, status, source, at}")
    async def ledger(self, contact_id: PathId) -> list[ConsentOut]:
        return [to_struct(ConsentOut, r) for r in await services.ledger(contact_id)]

    @post("/", summary="Append an opt-in or opt-out (a marketing opt-out suppresses the contact's addresses)")
    async def record(self, request: Req, contact_id: PathId, data: JSONBody[ConsentIn]) -> ConsentOut:
        row = await services.record(contact_id, data.channel, data.purpose, data.status, data.source, data.evidence,
                                    recorded_by=request.user.user_id)
        return to_struct(ConsentOut, row)


def settings_out(row: dict[str, Any]) -> ConsentSettingsOut:
    return ConsentSettingsOut(
        marketing_needs_opt_in=row["marketing_needs_opt_in"], stop_words=list(row["stop_words"]),
        start_words=list(row["start_words"]), standard_stop_words=list(services.STANDARD_STOP_WORDS),
        standard_start_words=list(services.STANDARD_START_WORDS))


class ConsentSettingsApi(Controller):
    path = "/api/v1/consent/settings"
    tags = ["consent"]
    guards = [requires("admin")]

    @get("/", summary="The shop's consent rules: marketing needs an opt-in?, its own SMS stop/start words")
    async def get_settings(self) -> ConsentSettingsOut:
        return settings_out(await services.settings())

    @put("/", summary="Save the shop's consent rules")
    async def save(self, request: Req, data: JSONBody[ConsentSettingsIn]) -> ConsentSettingsOut:
        return settings_out(await services.save_settings(
            request.user, marketing_needs_opt_in=data.marketing_needs_opt_in, stop_words=data.stop_words,
            start_words=data.start_words))
