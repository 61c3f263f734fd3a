"""Segments JSON API under /t/{slug}/api/v1: segments (dynamic and static), their contacts, the live count of an
unsaved definition, static list members, the CSV export, and the shop's temperature rules."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromQuery, JSONBody, MultipartBody
from litestar.response import Stream

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import export
from app.contacts import services as contacts
from app.contacts.queries import ContactFilter
from app.lib.clock import now
from app.lib.imports import body_limit, read_upload, too_large_response
from app.lib.uploads import download_headers
from app.lib.wire import PathId, QueryInt
from app.segments import services, temperature
from app.segments.schemas import (
    MembersIn,
    MembersOut,
    PreviewIn,
    PreviewOut,
    SegmentContact,
    SegmentContactPage,
    SegmentIn,
    SegmentOut,
    SegmentPatch,
    TemperatureRulesIn,
    TemperatureRulesOut,
)
from tenants.routing import STREAM_RESPONSE

Req = Request[Principal, Any, Any]


async def segment_out(row: dict[str, Any]) -> SegmentOut:
    return SegmentOut(id=row["id"], name=row["name"], kind=row["kind"], definition=row["definition"],
                      description=row["description"], count=await services.count(row["id"]),
                      created_at=row["created_at"], updated_at=row["updated_at"], created_by_id=row["created_by"])


@dataclasses.dataclass
class ListUpload:
    file: UploadFile
    """A CSV (or one value a line) of phones and emails, as the `file` field of a multipart/form-data body."""


class SegmentsApi(Controller):
    path = "/api/v1/segments"
    tags = ["segments"]
    guards = [signed_in]
    exception_handlers = {RequestEntityTooLarge: too_large_response}

    @get("/", summary="Every saved segment with its count")
    async def list_segments(self) -> list[SegmentOut]:
        return [await segment_out(r) for r in await services.list_segments()]

    @post("/", guards=[requires("supervisor")],
          summary="Save a segment: {name, definition} (a condition tree) or {name, kind: static}; answers its count")
    async def create(self, request: Req, data: JSONBody[SegmentIn]) -> SegmentOut:
        row = await services.create(request.user, name=data.name, definition=data.definition, kind=data.kind,
                                    description=data.description)
        return await segment_out(row)

    @post("/preview", status_code=200, summary="How many contacts a definition holds, without saving it")
    async def preview(self, data: JSONBody[PreviewIn]) -> PreviewOut:
        return PreviewOut(count=await services.preview(data.definition))

    @get("/{segment_id:int}")
    async def read(self, segment_id: PathId) -> SegmentOut:
        return await segment_out(await services.get(segment_id))

    @patch("/{segment_id:int}", guards=[requires("supervisor")], summary="Rename, describe or redefine a segment")
    async def update(self, request: Req, segment_id: PathId, data: JSONBody[SegmentPatch]) -> SegmentOut:
        return await segment_out(await services.update(request.user, segment_id, data.changes()))

    @delete("/{segment_id:int}", guards=[requires("supervisor")])
    async def remove(self, request: Req, segment_id: PathId) -> None:
        await services.delete(request.user, segment_id)

    @get("/{segment_id:int}/contacts", summary="The segment's contacts in id order, a page at a time")
    async def contacts(self, segment_id: PathId, cursor: QueryInt = 0, limit: QueryInt = 50) -> SegmentContactPage:
        ids, nxt = await services.contact_page(segment_id, limit=limit, after=cursor)
        cards = await contacts.cards(ids)
        return SegmentContactPage(items=[SegmentContact(id=c["id"], name=c["name"], temperature=c["temperature"],
                                                        phones=c["phones"], emails=c["emails"]) for c in cards],
                                  next=str(nxt) if nxt is not None else None)

    @post("/{segment_id:int}/members", status_code=200, guards=[requires("supervisor")],
          summary="Add contacts to a static list")
    async def add_members(self, request: Req, segment_id: PathId, data: JSONBody[MembersIn]) -> MembersOut:
        changed = await services.add_members(request.user, segment_id, data.contact_ids, "api")
        return MembersOut(changed=changed, count=await services.count(segment_id))

    @post("/{segment_id:int}/members/remove", status_code=200, guards=[requires("supervisor")],
          summary="Take contacts off a static list")
    async def remove_members(self, request: Req, segment_id: PathId, data: JSONBody[MembersIn]) -> MembersOut:
        changed = await services.remove_members(request.user, segment_id, data.contact_ids)
        return MembersOut(changed=changed, count=await services.count(segment_id))

    @post("/{segment_id:int}/members/import", status_code=200, guards=[requires("supervisor")],
          request_max_body_size=body_limit(),
          summary="Add the contacts named by a CSV of phones and emails (multipart field `file`) to a static list")
    async def import_members(self, request: Req, segment_id: PathId,
                             data: MultipartBody[ListUpload]) -> dict[str, int]:
        try:
            _, content = await read_upload(data.file)
        finally:
            await data.file.close()
        return await services.import_members(request.user, segment_id, content)

    @get("/{segment_id:int}/export.csv", guards=[requires("supervisor")], media_type="text/csv",
         summary="The segment's contacts as CSV (the contact export's columns)")
    async def export_csv(self, request: Req, segment_id: PathId, sort: FromQuery[str] = "updated") -> Stream:
        seg = await services.get(segment_id)
        f = ContactFilter(segment=seg["id"], sort=sort)
        await contacts.prepare_filter(f)
        request.scope.setdefault("state", {})[STREAM_RESPONSE] = True
        headers = download_headers(f"segment-{seg['id']}-{now():%Y-%m-%d}.csv", "text/plain; charset=utf-8")
        headers.pop("Content-Type")
        return Stream(export.csv_chunks(f), media_type="text/csv; charset=utf-8", headers=headers)


class TemperatureRulesApi(Controller):
    path = "/api/v1/temperature-rules"
    tags = ["segments"]
    guards = [signed_in]

    @get("/", summary="The shop's rules that set temperature from recency, frequency and money")
    async def read(self) -> TemperatureRulesOut:
        return TemperatureRulesOut(**await temperature.rules())

    @put("/", guards=[requires("admin")], summary="Change the rules; enabled rules recompute every buyer now")
    async def save(self, request: Req, data: JSONBody[TemperatureRulesIn]) -> TemperatureRulesOut:
        return TemperatureRulesOut(**await temperature.save_rules(request.user, data.changes()))

    @post("/contacts/{contact_id:int}/automatic", status_code=200, guards=[requires("operator")],
          summary="Hand a contact's hand-set temperature back to the rules")
    async def automatic(self, request: Req, contact_id: PathId) -> dict[str, Any]:
        card = await temperature.set_automatic(request.user, contact_id)
        return {"id": card["id"], "temperature": card["temperature"], "temperature_manual": card["temperature_manual"]}
