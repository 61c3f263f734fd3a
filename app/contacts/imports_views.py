"""Import pages under /t/{slug}/contacts/import: upload form, column mapping with a live preview, progress."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.contacts import fields, import_csv, import_mapping, imports
from app.contacts.imports_api import body_limit, errors_csv_response, read_upload
from app.lib.errors import DomainError
from app.lib.templates import render_page

Req = Request[Principal, Any, Any]
PROGRESS = "_partials/import_progress.html"
PREVIEW = "_partials/import_preview.html"


def too_large_page(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[Any]:
    return render_page(request, "pages/import_upload.html",
                       {"error": imports.too_large_message(), "recent": [], "max_mb": imports.max_bytes() >> 20},
                       status_code=413)


class ImportViews(Controller):
    path = "/t/{slug:str}/contacts/import"
    include_in_schema = False
    guards = [requires("admin")]
    exception_handlers = {RequestEntityTooLarge: too_large_page}

    async def _upload_page(self, request: Req, error: str | None = None, status: int = 200) -> Template:
        return render_page(request, "pages/import_upload.html",
                           {"error": error, "recent": await imports.recent(), "max_mb": imports.max_bytes() >> 20},
                           status_code=status)

    async def _mapping_context(self, imp: dict[str, Any], error: str | None = None) -> dict[str, Any]:
        defs = await fields.definitions()
        sample = await imports.sample(imp["id"])
        examples = [[row[i] for row in sample if i < len(row) and row[i]][:3] for i in range(len(imp["header"]))]
        rows, preview_error = [], error
        if preview_error is None:
            try:
                rows = await imports.preview(imp["id"])
            except DomainError as exc:
                preview_error = exc.detail
        return {"imp": imp, "examples": examples, "choices": import_mapping.targets(defs), "preview": rows,
                "error": preview_error, "encoding_label": import_csv.encoding_label(imp["encoding"]),
                "delimiter_label": import_csv.DELIMITER_NAMES.get(imp["delimiter"], imp["delimiter"])}

    @get("/")
    async def index(self, request: Req) -> Template:
        return await self._upload_page(request)

    @post("/", request_max_body_size=body_limit())
    async def upload(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
        form = await request.form()
        upload = form.get("file")
        try:
            filename, content = await read_upload(upload)
            row = await imports.upload(request.user, filename, content)
        except DomainError as exc:
            return await self._upload_page(request, exc.detail, exc.status_code)
        finally:
            if isinstance(upload, UploadFile):
                await upload.close()
        return Redirect(f"/t/{slug}/contacts/import/{row['id']}", status_code=303)

    @get("/{import_id:int}")
    async def show(self, request: Req, import_id: FromPath[int]) -> Template:
        imp = await imports.get(import_id)
        if imp["status"] == "uploaded":
            return render_page(request, "pages/import_mapping.html", await self._mapping_context(imp))
        return render_page(request, "pages/import_status.html", await self._progress_context(imp))

    async def _read_mapping(self, request: Req, imp: dict[str, Any]) -> list[str]:
        form = await request.form()
        return [str(form.get(f"col_{i}", import_mapping.IGNORE)) for i in range(len(imp["header"]))]

    @post("/{import_id:int}/preview")
    async def preview(self, request: Req, import_id: FromPath[int]) -> Template:
        """Save the mapping and show the preview again: the fragment for htmx, the whole page without it."""
        imp = await imports.get(import_id)
        error, status = None, 200
        try:
            imp = await imports.set_mapping(request.user, import_id, await self._read_mapping(request, imp))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            error, status = exc.detail, exc.status_code
            imp = {**imp, "fields": await self._read_mapping(request, imp)}
        ctx = await self._mapping_context(imp, error)
        template = PREVIEW if request.headers.get("hx-request") else "pages/import_mapping.html"
        return render_page(request, template, ctx, status_code=status)

    @post("/{import_id:int}/start")
    async def start(self, request: Req, slug: FromPath[str], import_id: FromPath[int]) -> Template | Redirect:
        imp = await imports.get(import_id)
        try:
            await imports.set_mapping(request.user, import_id, await self._read_mapping(request, imp))
            await imports.start(request.user, import_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            ctx = await self._mapping_context({**imp, "fields": await self._read_mapping(request, imp)}, exc.detail)
            return render_page(request, "pages/import_mapping.html", ctx, status_code=exc.status_code)
        return Redirect(f"/t/{slug}/contacts/import/{import_id}", status_code=303)

    async def _progress_context(self, imp: dict[str, Any]) -> dict[str, Any]:
        errors = await imports.errors(imp["id"]) if imp["status"] in ("done", "failed") else []
        return {"imp": imp, "errors": errors, "errors_shown": imports.ERRORS_SHOWN}

    @get("/{import_id:int}/progress")
    async def progress(self, request: Req, import_id: FromPath[int]) -> Template:
        return render_page(request, PROGRESS, await self._progress_context(await imports.get(import_id)))

    @get("/{import_id:int}/errors.csv")
    async def errors_csv(self, import_id: FromPath[int]) -> Response[bytes]:
        return errors_csv_response(*await imports.errors_csv(import_id))
