"""The operator console at /t/{slug}/console: live queue, my conversations, team presence, totals."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.conversations import console, services
from app.lib.errors import DomainError
from app.lib.templates import flash, render_page
from app.lib.wire import PathId
from realtime import current_id

Req = Request[Principal, Any, Any]


class ConsoleViews(Controller):
    path = "/console"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def page(self, request: Req) -> Template:
        ctx = await console.panel_context(request.scope["state"]["tenant"], request.user)
        ctx.update(live=True, last_event_id=await current_id())
        return render_page(request, "pages/console.html", ctx)

    @get("/panels/{name:str}")
    async def panel(self, request: Req, name: FromPath[str]) -> Template:
        """One panel, fresh: what a console reloads after a refresh order from the hub."""
        ctx = await console.panel_context(request.scope["state"]["tenant"], request.user)
        return render_page(request, f"_partials/console_{name if name in console.PANELS else 'queue'}.html", ctx)

    @post("/take/{conversation_id:int}")
    async def take(self, request: Req, conversation_id: PathId) -> Template:
        try:
            row = await services.accept(request.user, conversation_id)
        except DomainError as exc:
            # Keep the loser's answer a 200 fragment so htmx shows it; the message says what happened.
            return flash(request, exc.detail, ok=False)
        who = row["contact_name"] or row["from_address"] or "the customer"
        return flash(request, f"You took the {row['channel']} with {who}.", ok=True)

    @post("/wrapup/{conversation_id:int}")
    async def wrap_up(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            await services.wrap_up(request.user, conversation_id, code=str(form.get("code", "")),
                                   note=str(form.get("note", "")))
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, "Wrapped up.", ok=True)

    @post("/transfer/{conversation_id:int}")
    async def transfer(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            row = await services.transfer(request.user, conversation_id, queue_key=str(form.get("queue", "")))
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, f"Transferred to {row['queue_name']}.", ok=True)
