"""Duplicates and merge in the JSON API: suggestions for one contact, tenant-wide pairs, merge (admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import duplicates, merge
from app.contacts.schemas import ContactOut, DuplicateOut, DuplicatePairOut, MergeIn, MergeOut
from app.contacts.services import to_struct
from app.lib.wire import PathId, QueryInt

Req = Request[Principal, Any, Any]


class ContactMergeApi(Controller):
    path = "/api/v1"
    tags = ["contacts"]
    guards = [signed_in]

    @get("/contacts/{contact_id:int}/duplicates", summary="Likely duplicates of a contact, with the reasons")
    async def suggestions(self, contact_id: PathId, limit: QueryInt = 20) -> list[DuplicateOut]:
        rows = await duplicates.for_contact(contact_id, limit=min(max(limit, 1), 100))
        return [DuplicateOut(contact=to_struct(ContactOut, r["contact"]), reasons=r["reasons"], score=r["score"])
                for r in rows]

    @get("/duplicates", guards=[requires("admin")], summary="Pairs of contacts sharing a phone or an email")
    async def pairs(self, limit: QueryInt = 50) -> list[DuplicatePairOut]:
        return [to_struct(DuplicatePairOut, r) for r in await duplicates.pairs(limit=limit)]

    @post("/contacts/{contact_id:int}/merge", guards=[requires("admin")], status_code=200,
          summary="Merge `other_id` into this contact; everything of both ends up here")
    async def merge_contacts(self, request: Req, contact_id: PathId, data: JSONBody[MergeIn]) -> MergeOut:
        result = await merge.merge(request.user, contact_id, data.other_id)
        return MergeOut(contact=to_struct(ContactOut, result["contact"]), merged_id=result["merged_id"],
                        moved=result["moved"], filled=result["filled"], conflicts=result["conflicts"])
