"""The console's call buttons (htmx): hang up, hold/resume, transfer; each answers a flash fragment."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import Template

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.lib.errors import DomainError
from app.lib.templates import render_page
from telephony import controls

Req = Request[Principal, Any, Any]


def _flash(request: Req, message: str, *, ok: bool, status: int = 200) -> Template:
    return render_page(request, "_partials/messages.html", {"notice" if ok else "error": message},
                       status_code=status)


class CallConsoleViews(Controller):
    path = "/t/{slug:str}/console/calls/{conversation_id:int}"
    include_in_schema = False
    guards = [signed_in]

    @post("/hangup")
    async def hang_up(self, request: Req, slug: FromPath[str], conversation_id: FromPath[int]) -> Template:
        try:
            await controls.hang_up(request.user, conversation_id)
        except DomainError as exc:
            return _flash(request, exc.detail, ok=False, status=exc.status_code)
        return _flash(request, "Call ended.", ok=True)

    @post("/hold")
    async def hold(self, request: Req, slug: FromPath[str], conversation_id: FromPath[int]) -> Template:
        on = str((await request.form()).get("on", "1")) == "1"
        try:
            await controls.hold(request.user, conversation_id, on)
        except DomainError as exc:
            return _flash(request, exc.detail, ok=False, status=exc.status_code)
        return _flash(request, "The caller is on hold." if on else "Resumed: your phone rings.", ok=True)

    @post("/transfer")
    async def transfer(self, request: Req, slug: FromPath[str], conversation_id: FromPath[int]) -> Template:
        target = str((await request.form()).get("target", ""))
        kind, _, value = target.partition(":")
        try:
            if kind == "user" and value.isdigit():
                await controls.transfer(request.user, conversation_id, user_id=int(value))
            else:
                await controls.transfer(request.user, conversation_id, queue_key=value if kind == "queue" else None)
        except DomainError as exc:
            return _flash(request, exc.detail, ok=False, status=exc.status_code)
        return _flash(request, "Transferred.", ok=True)
