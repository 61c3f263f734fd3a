"""The browser side of a CSV import, the same for every kind: upload form, column mapping with a live preview,
start, progress and errors.csv. A domain describes its pages with an `ImportPages` and gets its admin-only
controller from `controller(...)`. The pages are one set of templates (pages/import_*.html,
_partials/import_{preview,progress}.html); what they say about a kind is in _partials/import_kinds/<section>.html."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template

from app.lib import import_csv
from app.lib.errors import DomainError
from app.lib.import_errors import errors_csv_response
from app.lib.imports import body_limit, max_bytes, too_large_message, upload_stream
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Any, Any, Any]
MappingForm = tuple[tuple[Any, ...], dict[str, Any]]
"""What a mapping form says: the arguments of `service.set_mapping` after (actor, import_id), and the same values
as they show on the import row (to render the form again with what the person chose)."""


TEMPLATES = {"upload": "pages/import_upload.html", "mapping": "pages/import_mapping.html",
             "status": "pages/import_status.html", "preview": "_partials/import_preview.html",
             "progress": "_partials/import_progress.html"}
"""One set of pages for every import kind."""


@dataclasses.dataclass(frozen=True)
class ImportPages:
    service: Any
    """The kind's import module: get, recent, sample, preview, set_mapping, start, errors, errors_csv, ERRORS_SHOWN."""
    section: str
    """Pages live under /t/{slug}/{section}/import."""
    choices: Callable[[], Awaitable[list[tuple[str, str]]]]
    """The fields a column can map to: (key, label)."""
    read_mapping: Callable[[Any, dict[str, Any]], MappingForm]
    """(form, import row) -> what the mapping form says."""
    dom: str = "import"
    """Prefix of the pages' element ids (`<dom>-preview`, `<dom>-progress`) and form test ids."""

    @property
    def kind(self) -> dict[str, str]:
        """What the templates need to know of the kind."""
        return {"section": self.section, "dom": self.dom, "words": f"_partials/import_kinds/{self.section}.html"}

    def __deepcopy__(self, memo: dict[int, Any]) -> ImportPages:
        # Frozen configuration holding a module: Litestar deep-copies a router when it mounts it; share this instead.
        return self

    def _url(self, slug: str, import_id: int) -> str:
        return f"/t/{slug}/{self.section}/import/{import_id}"

    def too_large(self, request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[Any]:
        return render_page(request, TEMPLATES["upload"], {"kind": self.kind, "error": too_large_message(),
                                                          "recent": [], "max_mb": max_bytes() >> 20}, status_code=413)

    async def upload_page(self, request: Req, error: str | None = None, status: int = 200) -> Template:
        return render_page(request, TEMPLATES["upload"], {
            "kind": self.kind, "error": error, "recent": await self.service.recent(), "max_mb": max_bytes() >> 20},
            status_code=status)

    async def _mapping_context(self, imp: dict[str, Any], error: str | None = None) -> dict[str, Any]:
        sample = await self.service.sample(imp["id"])
        examples = [[row[i] for row in sample if i < len(row) and row[i]][:3] for i in range(len(imp["header"]))]
        rows: list[dict[str, Any]] = []
        if error is None:
            try:
                rows = await self.service.preview(imp["id"])
            except DomainError as exc:
                error = exc.detail
        return {"kind": self.kind, "imp": imp, "examples": examples, "choices": await self.choices(),
                "preview": rows, "error": error,
                "encoding_label": import_csv.encoding_label(imp["encoding"]),
                "delimiter_label": import_csv.DELIMITER_NAMES.get(imp["delimiter"], imp["delimiter"])}

    async def _progress_context(self, imp: dict[str, Any]) -> dict[str, Any]:
        errors = await self.service.errors(imp["id"]) if imp["status"] in ("done", "failed") else []
        return {"kind": self.kind, "imp": imp, "errors": errors, "errors_shown": self.service.ERRORS_SHOWN}

    async def upload(self, request: Req, slug: str) -> Template | Redirect:
        form = await request.form()
        upload = form.get("file")
        try:
            row = await self.service.upload(request.user, *upload_stream(upload))
        except DomainError as exc:
            return await self.upload_page(request, exc.detail, exc.status_code)
        finally:
            if isinstance(upload, UploadFile):
                await upload.close()
        return Redirect(self._url(slug, row["id"]), status_code=303)

    async def show(self, request: Req, import_id: int) -> Template:
        imp = await self.service.get(import_id)
        if imp["status"] == "uploaded":
            return render_page(request, TEMPLATES["mapping"], await self._mapping_context(imp))
        return render_page(request, TEMPLATES["status"], await self._progress_context(imp))

    async def preview(self, request: Req, import_id: int) -> Template:
        """Save the mapping and show the preview again: the fragment for htmx, the whole page without it."""
        imp = await self.service.get(import_id)
        args, shown = self.read_mapping(await request.form(), imp)
        error, status = None, 200
        try:
            imp = await self.service.set_mapping(request.user, import_id, *args)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            error, status = exc.detail, exc.status_code
            imp = {**imp, **shown}
        ctx = await self._mapping_context(imp, error)
        template = TEMPLATES["preview" if request.headers.get("hx-request") else "mapping"]
        return render_page(request, template, ctx, status_code=status)

    async def start(self, request: Req, slug: str, import_id: int) -> Template | Redirect:
        """Start with the mapping of the form; for an import already started (the progress page's Resume), queue
        it again with its own mapping."""
        imp = await self.service.get(import_id)
        if imp["status"] != "uploaded":
            await self.service.start(request.user, import_id)  # a Conflict (a worker has it) is a 409 page
            return Redirect(self._url(slug, import_id), status_code=303)
        args, shown = self.read_mapping(await request.form(), imp)
        try:
            await self.service.set_mapping(request.user, import_id, *args)
            await self.service.start(request.user, import_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            ctx = await self._mapping_context({**imp, **shown}, exc.detail)
            return render_page(request, TEMPLATES["mapping"], ctx, status_code=exc.status_code)
        return Redirect(self._url(slug, import_id), status_code=303)

    async def progress(self, request: Req, import_id: int) -> Template:
        return render_page(request, TEMPLATES["progress"],
                           await self._progress_context(await self.service.get(import_id)))

    async def errors_csv(self, request: Req, import_id: int) -> Stream:
        return errors_csv_response(request, *await self.service.errors_csv(import_id))


def controller(name: str, pages: ImportPages, *, guards: list[Any]) -> type[Controller]:
    """The routes of `pages` under /t/{slug}/{section}/import, behind the domain's `guards` (admins, today)."""
    route_guards = guards

    class ImportViews(Controller):
        path = f"/{pages.section}/import"
        include_in_schema = False
        guards = route_guards
        exception_handlers = {RequestEntityTooLarge: pages.too_large}

        @get("/")
        async def index(self, request: Req) -> Template:
            return await pages.upload_page(request)

        @post("/", request_max_body_size=body_limit())
        async def upload(self, request: Req, slug: FromPath[str]) -> Template | Redirect:
            return await pages.upload(request, slug)

        @get("/{import_id:int}")
        async def show(self, request: Req, import_id: PathId) -> Template:
            return await pages.show(request, import_id)

        @post("/{import_id:int}/preview")
        async def preview(self, request: Req, import_id: PathId) -> Template:
            return await pages.preview(request, import_id)

        @post("/{import_id:int}/start")
        async def start(self, request: Req, slug: FromPath[str], import_id: PathId) -> Template | Redirect:
            return await pages.start(request, slug, import_id)

        @get("/{import_id:int}/progress")
        async def progress(self, request: Req, import_id: PathId) -> Template:
            return await pages.progress(request, import_id)

        @get("/{import_id:int}/errors.csv")
        async def errors_csv(self, request: Req, import_id: PathId) -> Stream:
            return await pages.errors_csv(request, import_id)

    ImportViews.__name__ = ImportViews.__qualname__ = name
    return ImportViews
