"""Contacts JSON API under /t/{slug}/api/v1: cards, search, timeline, notes, custom field definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import fields, services
from app.contacts.queries import ContactFilter
from app.contacts.schemas import (
    ContactIn,
    ContactList,
    ContactOut,
    ContactPatch,
    CustomFieldIn,
    CustomFieldOut,
    InteractionOut,
    NoteIn,
    TimelinePage,
)
from app.contacts.services import to_struct
from app.lib.errors import Invalid
from app.lib.wire import PathId, QueryId, QueryInt, QueryMoney, QueryOptInt
from app.timeline import services as timeline

Req = Request[Principal, Any, Any]


def parse_custom_filter(custom: list[str] | None) -> dict[str, Any]:
    """`custom=key:value` pairs (repeatable) -> {key: value}."""
    out: dict[str, Any] = {}
    for item in custom or []:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise Invalid("custom filters are written key:value, e.g. custom=size:XL", field="custom")
        out[key] = value
    return out


class ContactsApi(Controller):
    path = "/api/v1"
    tags = ["contacts"]
    guards = [signed_in]

    @get("/contacts", summary="Search and filter contacts")
    async def list_contacts(
        self, q: FromQuery[str] = "", tag: FromQuery[str | None] = None, temperature: FromQuery[str | None] = None,
        owner_id: QueryId = None, custom: FromQuery[list[str] | None] = None,
        last_contact_from: FromQuery[dt.datetime | None] = None, last_contact_to: FromQuery[dt.datetime | None] = None,
        sort: FromQuery[str] = "updated", cursor: QueryInt = 0, limit: QueryInt = 50,
        min_revenue: QueryMoney = None, min_orders: QueryOptInt = None,
    ) -> ContactList:
        f = ContactFilter(q=q, tag=tag, temperature=temperature, owner_id=owner_id, custom=parse_custom_filter(custom),
                          last_contact_from=last_contact_from, last_contact_to=last_contact_to, sort=sort,
                          min_revenue=min_revenue, min_orders=min_orders)
        rows, nxt = await services.search(f, limit=limit, offset=cursor)
        return ContactList(items=[to_struct(ContactOut, r) for r in rows], next=str(nxt) if nxt is not None else None)

    @post("/contacts", summary="Create a contact")
    async def create(self, request: Req, data: JSONBody[ContactIn]) -> ContactOut:
        values = {f: getattr(data, f) for f in data.__struct_fields__}
        return to_struct(ContactOut, await services.create(request.user, values))

    @get("/contacts/{contact_id:int}")
    async def read(self, contact_id: PathId) -> ContactOut:
        return to_struct(ContactOut, await services.get(contact_id))

    @patch("/contacts/{contact_id:int}", summary="Change some fields; send `version` to refuse lost updates")
    async def update(self, request: Req, contact_id: PathId, data: JSONBody[ContactPatch]) -> ContactOut:
        version = data.version if isinstance(data.version, int) else None
        return to_struct(ContactOut, await services.update(request.user, contact_id, data.changes(), version=version))

    @delete("/contacts/{contact_id:int}", guards=[requires("admin")])
    async def remove(self, request: Req, contact_id: PathId) -> None:
        await services.delete(request.user, contact_id)

    @get("/contacts/{contact_id:int}/timeline", summary="Every interaction, newest first")
    async def timeline(self, contact_id: PathId, channel: FromQuery[str | None] = None,
                       before: FromQuery[str | None] = None, limit: QueryInt = 50) -> TimelinePage:
        rows, nxt = await timeline.page(contact_id, channel=channel, before=before, limit=limit)
        return TimelinePage(items=[to_struct(InteractionOut, r) for r in rows], next=nxt)

    @post("/contacts/{contact_id:int}/notes", summary="Add a note (markdown) to the card and the timeline")
    async def add_note(self, request: Req, contact_id: PathId, data: JSONBody[NoteIn]) -> dict[str, Any]:
        return await services.add_note(request.user, contact_id, data.body)

    @get("/custom-fields", summary="Custom field definitions")
    async def custom_fields(self) -> list[CustomFieldOut]:
        return [to_struct(CustomFieldOut, r) for r in await fields.definitions()]

    @post("/custom-fields", guards=[requires("admin")], summary="Define a custom field")
    async def create_custom_field(self, request: Req, data: JSONBody[CustomFieldIn]) -> CustomFieldOut:
        row = await fields.create(request.user, key=data.key, label=data.label, kind=data.kind, options=data.options,
                                  required=data.required, unique=data.unique, position=data.position)
        return to_struct(CustomFieldOut, row)

    @delete("/custom-fields/{field_id:int}", guards=[requires("admin")], summary="Archive a custom field")
    async def archive_custom_field(self, request: Req, field_id: PathId) -> None:
        await fields.archive(request.user, field_id)
