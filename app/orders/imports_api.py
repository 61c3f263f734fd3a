"""Order import in the JSON API: /t/{slug}/api/v1/order-imports (admins). Upload a CSV, set the mapping (and a
default currency), preview, start; then poll for progress and the refused rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import JSONBody, MultipartBody
from litestar.response import Stream

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.import_errors import errors_csv_response
from app.lib.imports import UploadAnswer, body_limit, too_large_response, upload_stream
from app.lib.wire import PathId
from app.orders import import_mapping, imports

Req = Request[Principal, Any, Any]


class OrderImportError(msgspec.Struct):
    row: int
    """Row number as a spreadsheet shows it (the header is row 1); 0 for the file as a whole."""
    external_id: str
    field: str
    message: str


class OrderImportOut(msgspec.Struct):
    id: int
    filename: str
    status: str
    """uploaded (mapping can change) | queued | running | done | failed."""
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: list[str]
    currency: str | None
    """Currency of orders whose rows name none."""
    total: int
    """Data rows in the file."""
    processed: int
    orders_total: int
    orders_done: int
    created: int
    updated: int
    unchanged: int
    failed: int
    """Orders refused (a row of theirs could not be read or the order broke a rule); `errors` says why."""
    percent: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    errors: list[OrderImportError] = []


class OrderUploadOut(UploadAnswer):
    """An orders CSV as read: columns, a sample, the mapping guess and every field a column can map to."""


class OrderMappingIn(msgspec.Struct, forbid_unknown_fields=True):
    mapping: list[str]
    """One field per column: external_id, number, contact_phone, contact_email, contact_name, item_name, sku, category,
    quantity, price, currency, status, date or ignore."""
    currency: str | None = None


class OrderPreviewRow(msgspec.Struct):
    external_id: str
    rows: list[int]
    ok: bool
    action: str
    """create | update | skip."""
    order_id: int | None
    number: str | None
    customer: str
    items: list[str]
    total: str
    status: str | None
    errors: list[OrderImportError]


class OrderPreviewOut(msgspec.Struct):
    orders: list[OrderPreviewRow]


@dataclasses.dataclass
class CsvUpload:
    file: UploadFile


def import_out(row: dict[str, Any], errors: list[dict[str, Any]] | None = None) -> OrderImportOut:
    keys = ("id", "filename", "status", "encoding", "delimiter", "currency", "total", "processed", "orders_total",
            "orders_done", "created", "updated", "unchanged", "failed", "percent", "created_at", "finished_at")
    return OrderImportOut(**{k: row[k] for k in keys}, columns=row["header"], mapping=row["fields"],
                          errors=[OrderImportError(**e) for e in errors or []])


class OrderImportsApi(Controller):
    path = "/api/v1/order-imports"
    tags = ["orders"]
    guards = [requires("admin")]
    exception_handlers = {RequestEntityTooLarge: too_large_response}

    @post("/", summary="Upload an orders CSV (multipart field `file`): columns, a sample and a mapping guess",
          request_max_body_size=body_limit())
    async def upload(self, request: Req, data: MultipartBody[CsvUpload]) -> OrderUploadOut:
        try:
            row = await imports.upload(request.user, *upload_stream(data.file))
        finally:
            await data.file.close()
        return OrderUploadOut.of(row, [{"key": k, "label": v} for k, v in import_mapping.FIELDS])

    @get("/{import_id:int}", summary="Progress, counts and the refused rows with their reasons")
    async def read(self, import_id: PathId) -> OrderImportOut:
        return import_out(await imports.get(import_id), await imports.errors(import_id))

    @put("/{import_id:int}/mapping", summary="Choose a field per column and a default currency (before the start)")
    async def set_mapping(self, request: Req, import_id: PathId, data: JSONBody[OrderMappingIn]
                          ) -> OrderImportOut:
        return import_out(await imports.set_mapping(request.user, import_id, data.mapping, data.currency))

    @get("/{import_id:int}/preview", summary="The first orders as they would land, or why they would be refused")
    async def preview(self, import_id: PathId) -> OrderPreviewOut:
        rows = await imports.preview(import_id)
        return OrderPreviewOut(orders=[OrderPreviewRow(**{**r, "errors": [OrderImportError(**e) for e in r["errors"]]})
                                       for r in rows])

    @post("/{import_id:int}/start", status_code=202, summary="Start the import in the background")
    async def start(self, request: Req, import_id: PathId) -> OrderImportOut:
        return import_out(await imports.start(request.user, import_id))

    @get("/{import_id:int}/errors.csv", summary="Every refused row as in the file, plus an `error` column",
         media_type="text/csv")
    async def errors_csv(self, request: Req, import_id: PathId) -> Stream:
        return errors_csv_response(request, *await imports.errors_csv(import_id))
