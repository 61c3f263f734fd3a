"""Card fragments for duplicates and merge, and the admin review page of duplicate pairs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts import duplicates, merge
from app.lib.errors import DomainError, Invalid
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]


class ContactMergeViews(Controller):
    path = "/"
    include_in_schema = False
    guards = [signed_in]

    async def _suggestions(self, request: Req, contact_id: int, error: str | None = None,
                           status: int = 200) -> Template:
        ctx = {"c": {"id": contact_id}, "duplicates": await duplicates.for_contact(contact_id), "error": error}
        return render_page(request, "_partials/duplicates.html", ctx, status_code=status)

    @get("/contacts/{contact_id:int}/duplicates")
    async def suggestions(self, request: Req, contact_id: PathId) -> Template:
        return await self._suggestions(request, contact_id)

    @post("/contacts/{contact_id:int}/merge", guards=[requires("admin")])
    async def merge_contacts(self, request: Req, slug: FromPath[str], contact_id: PathId) -> Response[Any]:
        form = await request.form()
        raw = str(form.get("other_id", "")).strip()
        try:
            if not raw.isdigit():
                raise Invalid("Choose the contact to merge into this one.", field="other_id")
            await merge.merge(request.user, contact_id, int(raw))
        except DomainError as exc:
            if form.get("back") == "review":
                return await self._review(request, exc.detail, exc.status_code)
            return await self._suggestions(request, contact_id, exc.detail, exc.status_code)
        target = f"/t/{slug}/duplicates" if form.get("back") == "review" else f"/t/{slug}/contacts/{contact_id}"
        if request.headers.get("hx-request"):
            return Response(b"", status_code=200, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)

    async def _review(self, request: Req, error: str | None = None, status: int = 200) -> Template:
        return render_page(request, "pages/duplicates.html", {"pairs": await duplicates.pairs(limit=100),
                                                              "error": error}, status_code=status)

    @get("/duplicates", guards=[requires("admin")])
    async def review(self, request: Req) -> Template:
        return await self._review(request)
