"""Privacy JSON API under /t/{slug}/api/v1: a contact's export and erasure, legal holds, the log of data requests,
an export's download, and retention policies with their dry run."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.lib.db import current_tenant
from app.lib.errors import NotFound
from app.lib.openapi import ErrorOut
from app.lib.storage import ObjectNotFound, get_storage
from app.lib.uploads import download_headers
from app.lib.wire import PathId, QueryId
from app.privacy import retention, services
from app.privacy.schemas import DryRunOut, HoldIn, HoldOut, PolicyIn, PolicyOut, PurgeOut, RequestOut

Req = Request[Principal, Any, Any]

DOWNLOAD_ERRORS = {
    409: ResponseSpec(data_container=ErrorOut, description="The export is not ready yet: poll the request.",
                      generate_examples=False),
    410: ResponseSpec(data_container=ErrorOut, description="The link has expired (7 days): ask for a new export.",
                      generate_examples=False),
}


def request_out(row: dict[str, Any]) -> RequestOut:
    out: RequestOut = to_struct(RequestOut, row)
    if row["kind"] == "export" and row.get("ready"):
        out.download_url = f"/t/{current_tenant().slug}/api/v1/privacy/requests/{row['id']}/download"
    return out


def hold_out(hold: dict[str, Any] | None) -> HoldOut:
    return HoldOut(held=False) if hold is None else HoldOut(held=True, **hold)


class PrivacyApi(Controller):
    path = "/api/v1"
    tags = ["privacy"]
    guards = [requires("supervisor")]

    @post("/contacts/{contact_id:int}/export", status_code=HTTP_202_ACCEPTED,
          summary="Export everything about a contact as one zip (a job builds it; poll the request, then download)")
    async def export(self, request: Req, contact_id: PathId) -> RequestOut:
        return request_out(await services.request_export(request.user, contact_id))

    @post("/contacts/{contact_id:int}/erase", guards=[requires("admin")], status_code=200,
          summary="Erase a contact's personal data now (tombstones; 409 under a legal hold)")
    async def erase(self, request: Req, contact_id: PathId) -> RequestOut:
        return request_out(await services.erase(request.user, contact_id))

    @get("/contacts/{contact_id:int}/legal-hold", summary="Whether a contact is under a legal hold, and why")
    async def hold(self, contact_id: PathId) -> HoldOut:
        await services._contact_exists(contact_id)
        return hold_out(await services.legal_hold(contact_id))

    @put("/contacts/{contact_id:int}/legal-hold", guards=[requires("admin")],
         summary="Put a contact under a legal hold (blocks erasure), with a reason; audited")
    async def set_hold(self, request: Req, contact_id: PathId, data: JSONBody[HoldIn]) -> HoldOut:
        return hold_out(await services.set_legal_hold(request.user, contact_id, data.reason))

    @post("/contacts/{contact_id:int}/legal-hold/release", guards=[requires("admin")], status_code=200,
          summary="Lift a contact's legal hold, with a reason; audited")
    async def release_hold(self, request: Req, contact_id: PathId, data: JSONBody[HoldIn]) -> HoldOut:
        await services.clear_legal_hold(request.user, contact_id, data.reason)
        return HoldOut(held=False)

    @get("/privacy/requests", guards=[requires("admin")],
         summary="Data requests (export, erase), newest first: who asked, when, due date, status, done at")
    async def requests(self, contact_id: QueryId = None) -> list[RequestOut]:
        return [request_out(r) for r in await services.list_requests(contact_id=contact_id)]

    @get("/privacy/requests/{request_id:int}", summary="One data request's status (an export's download link "
                                                       "once it is done)")
    async def one(self, request_id: PathId) -> RequestOut:
        return request_out(await services.get_request(request_id))

    @get("/privacy/requests/{request_id:int}/download", responses=DOWNLOAD_ERRORS,
         summary="The export's zip (signed-in supervisors and admins of this workspace; 410 after it expires)")
    async def download(self, request_id: PathId) -> Response[bytes]:
        key, filename = await services.download(request_id)
        try:
            body = await get_storage().read_all(key)
        except ObjectNotFound:
            raise NotFound("No export %(request_id)s.", request_id=request_id) from None
        headers = download_headers(filename, "application/zip")
        media_type = headers.pop("Content-Type")
        return Response(body, headers=headers, media_type=media_type)


class RetentionApi(Controller):
    path = "/api/v1/privacy/retention"
    tags = ["privacy"]
    guards = [requires("admin")]

    @get("/", summary="Retention policy per data class (keep N days, then delete or anonymise)")
    async def list_policies(self) -> list[PolicyOut]:
        return [to_struct(PolicyOut, p) for p in await retention.policies()]

    @get("/{data_class:str}/dry-run", summary="How many rows a policy would purge now, before enabling it")
    async def dry_run(self, data_class: FromPath[str],
                      keep_days: Annotated[int | None, QueryParameter(ge=1, le=36500)] = None) -> DryRunOut:
        return DryRunOut(data_class=data_class, keep_days=keep_days,
                         count=await retention.dry_run(data_class, keep_days))

    @put("/{data_class:str}", summary="Set a data class's policy; enabling it schedules the nightly purge")
    async def save(self, request: Req, data_class: FromPath[str], data: JSONBody[PolicyIn]) -> PolicyOut:
        return to_struct(PolicyOut, await retention.save(request.user, data_class, keep_days=data.keep_days,
                                                         action=data.action, enabled=data.enabled))

    @post("/{data_class:str}/purge", status_code=200,
          summary="Apply an enabled or disabled policy now (what the nightly job does); audited with its count")
    async def purge(self, request: Req, data_class: FromPath[str]) -> PurgeOut:
        return PurgeOut(data_class=data_class, count=await retention.purge(data_class, actor=request.user))
