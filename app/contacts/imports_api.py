"""Contact import and export in the JSON API: /t/{slug}/api/v1/imports (admins), /contacts/export.csv (supervisors)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromQuery, JSONBody, MultipartBody
from litestar.response import Stream

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.contacts import export, fields, import_mapping, imports, services
from app.contacts.api import parse_custom_filter
from app.contacts.imports_schemas import ImportOut, ImportRowError, MappingIn, PreviewOut, PreviewRow, UploadOut
from app.contacts.queries import ContactFilter
from app.lib.clock import now
from app.lib.import_errors import errors_csv_response
from app.lib.imports import body_limit, too_large_response, upload_stream
from app.lib.uploads import download_headers
from app.lib.wire import PathId, QueryId, QueryMoney, QueryOptInt
from tenants.routing import STREAM_RESPONSE

Req = Request[Principal, Any, Any]

def import_out(row: dict[str, Any], errors: list[dict[str, Any]] | None = None) -> ImportOut:
    return ImportOut(
        id=row["id"], filename=row["filename"], status=row["status"], encoding=row["encoding"],
        delimiter=row["delimiter"], columns=row["header"], mapping=row["fields"], total=row["total"],
        processed=row["processed"], created=row["created"], updated=row["updated"], unchanged=row["unchanged"],
        failed=row["failed"], percent=row["percent"], created_at=row["created_at"], finished_at=row["finished_at"],
        errors=[ImportRowError(row=e["row"], field=e["field"], message=e["message"]) for e in errors or []])


@dataclasses.dataclass
class CsvUpload:
    file: UploadFile
    """The CSV file, as the `file` field of a multipart/form-data body."""


class ImportsApi(Controller):
    path = "/api/v1/imports"
    tags = ["contacts"]
    guards = [requires("admin")]
    exception_handlers = {RequestEntityTooLarge: too_large_response}

    @post("/", summary="Upload a CSV (multipart field `file`); answers its columns, a sample and a mapping guess",
          request_max_body_size=body_limit())
    async def upload(self, request: Req, data: MultipartBody[CsvUpload]) -> UploadOut:
        try:
            row = await imports.upload(request.user, *upload_stream(data.file))
        finally:
            await data.file.close()
        choices = import_mapping.targets(await fields.definitions())
        return UploadOut.of(row, [{"key": t.key, "label": t.label} for t in choices])

    @get("/{import_id:int}", summary="Progress, counts and the first refused rows")
    async def read(self, import_id: PathId) -> ImportOut:
        return import_out(await imports.get(import_id), await imports.errors(import_id))

    @put("/{import_id:int}/mapping", summary="Choose a field for each column (before the import starts)")
    async def set_mapping(self, request: Req, import_id: PathId, data: JSONBody[MappingIn]) -> ImportOut:
        return import_out(await imports.set_mapping(request.user, import_id, data.mapping))

    @get("/{import_id:int}/preview", summary="The first rows as they would land, with the reason for refused ones")
    async def preview(self, import_id: PathId) -> PreviewOut:
        return PreviewOut(rows=[PreviewRow(**r) for r in await imports.preview(import_id)])

    @post("/{import_id:int}/start", status_code=202, summary="Start the import in the background")
    async def start(self, request: Req, import_id: PathId) -> ImportOut:
        return import_out(await imports.start(request.user, import_id))

    @get("/{import_id:int}/errors.csv", summary="The refused rows as in the file, plus an `error` column",
         media_type="text/csv")
    async def errors_csv(self, request: Req, import_id: PathId) -> Stream:
        return errors_csv_response(request, *await imports.errors_csv(import_id))


class ContactExportApi(Controller):
    path = "/api/v1/contacts"
    tags = ["contacts"]
    guards = [requires("supervisor")]

    @get("/export.csv", summary="The filtered contact list as CSV (same filters as GET /contacts)",
         media_type="text/csv")
    async def export_csv(
        self, request: Req, q: FromQuery[str] = "", tag: FromQuery[str | None] = None,
        temperature: FromQuery[str | None] = None, owner_id: QueryId = None,
        custom: FromQuery[list[str] | None] = None, last_contact_from: FromQuery[dt.datetime | None] = None,
        last_contact_to: FromQuery[dt.datetime | None] = None, sort: FromQuery[str] = "updated",
        min_revenue: QueryMoney = None, min_orders: QueryOptInt = None,
    ) -> Stream:
        f = ContactFilter(q=q, tag=tag, temperature=temperature, owner_id=owner_id, custom=parse_custom_filter(custom),
                          last_contact_from=last_contact_from, last_contact_to=last_contact_to, sort=sort,
                          min_revenue=min_revenue, min_orders=min_orders)
        await services.prepare_filter(f)
        request.scope.setdefault("state", {})[STREAM_RESPONSE] = True
        name = f"contacts-{now():%Y-%m-%d}.csv"
        headers = download_headers(name, "text/plain; charset=utf-8")
        headers.pop("Content-Type")
        return Stream(export.csv_chunks(f), media_type="text/csv; charset=utf-8", headers=headers)
