"""Consent JSON API under /t/{slug}/api/v1: a contact's ledger (newest first) and appending to it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.consent import services
from app.consent.schemas import ConsentIn, ConsentOut
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
