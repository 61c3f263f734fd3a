"""Card fragments for attachments under /t/{slug}/contacts/{id}/files: list + upload form, download, delete."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Template
from markupsafe import escape

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import files
from app.contacts.files_api import download_response, upload_body_limit, upload_chunks
from app.lib.errors import DomainError, Invalid
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]
PARTIAL = "_partials/contact_files.html"


def too_large_fragment(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[Any]:
    return Response(f'<p class="error" role="alert" data-testid="error">{escape(files.too_large_message())}</p>',
                    status_code=413, media_type="text/html")


class ContactFileViews(Controller):
    path = "/contacts/{contact_id:int}/files"
    include_in_schema = False
    guards = [signed_in]
    exception_handlers = {RequestEntityTooLarge: too_large_fragment}

    async def _render(self, request: Req, contact_id: int, error: str | None = None, status: int = 200) -> Template:
        ctx = {"c": {"id": contact_id}, "files": await files.list_for(contact_id), "error": error,
               "max_mb": files.max_bytes() // (1024 * 1024)}
        return render_page(request, PARTIAL, ctx, status_code=status)

    @get("/")
    async def index(self, request: Req, contact_id: PathId) -> Template:
        return await self._render(request, contact_id)

    @post("/", request_max_body_size=upload_body_limit())
    async def upload(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise Invalid("Choose a file to attach.", field="file")
            await files.upload(request.user, contact_id, upload.filename, upload_chunks(upload))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._render(request, contact_id, exc.detail, exc.status_code)
        finally:
            if isinstance(upload, UploadFile):
                await upload.close()
        return await self._render(request, contact_id)

    @get("/{file_id:int}")
    async def download(self, contact_id: PathId, file_id: PathId) -> Response[bytes]:
        return await download_response(*await files.open_download(contact_id, file_id))

    @post("/{file_id:int}/delete", guards=[requires("admin")])
    async def remove(self, request: Req, contact_id: PathId, file_id: PathId) -> Template:
        await files.delete(request.user, contact_id, file_id)
        return await self._render(request, contact_id)
