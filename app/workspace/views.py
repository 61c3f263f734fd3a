"""The operator's workspace at /t/{slug}/workspace: three panes, one page. Opening a conversation swaps the centre
and right panes (`#ws-main`) and pushes /workspace/{id}; every action answers with the re-rendered pane or a
one-line notice, so the operator never leaves the page from first message to wrap-up."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.conversations import actions as conversation_actions
from app.conversations import dispositions as conversation_dispositions
from app.conversations import services as conversations
from app.email import templates as email_templates
from app.lib.errors import DomainError
from app.lib.i18n import gettext as _
from app.lib.templates import flash, render_page
from app.lib.wire import PathId
from app.orders import api as orders_api
from app.workspace import client, services
from realtime import current_id

Req = Request[Principal, Any, Any]


def _partial(request: Req) -> bool:
    """An htmx swap of the panes (not a history restore, which needs the whole page)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-history-restore-request")


async def _codes(row: dict[str, Any]) -> dict[str, Any]:
    """The wrap-up form's codes: the queue's own (a closed list) or suggestions (any short code)."""
    own = await conversation_dispositions.of_queue(row["queue_id"])
    if own:
        return {"fixed": True, "codes": own}
    return {"fixed": False, "codes": [{"code": c, "label": c} for c in conversation_dispositions.SUGGESTED]}


async def main_context(request: Req, conversation_id: int, *, before: str | None = None) -> dict[str, Any]:
    """Centre and right panes of one conversation, reloaded (the actor's access checked, their read marker set)."""
    user = request.user
    row = await services.conversation_for(user, conversation_id)
    await services.mark_seen(user, conversation_id)
    items, earlier = await services.thread(row["contact_id"], before=before)
    ctx = await client.context(row)
    team = [u for u in await accounts.list_users() if u["status"] == "active"]
    ctx.update(conv=row, thread=items, earlier=earlier, team=team, wrapup_codes=await _codes(row),
               reply_channels=await services.reply_channels(row, ctx["c"]),
               queues=[q for q in await conversations.queues() if conversations.visible(q, user)],
               conversation=row, is_mine=row["assigned_to_id"] == user.user_id,
               canned=await email_templates.canned_for_picker(), siblings=await conversation_actions.siblings(row))
    if ctx["unknown"]:
        ctx["suggestions"] = await client.suggestions(row)
    ctx.update(await services.channel_extras(row, user))
    return ctx


class WorkspaceViews(Controller):
    path = "/workspace"
    include_in_schema = False
    guards = [signed_in]

    async def _page(self, request: Req, conversation_id: int | None) -> Template:
        ctx: dict[str, Any] = {}
        if conversation_id is not None:
            ctx.update(await main_context(request, conversation_id))
        ctx.update(await services.left_list(request.user))
        ctx["mentions"] = await services.mentions(request.user.user_id)
        ctx.update(live=True, last_event_id=await current_id(), selected=conversation_id)
        return render_page(request, "pages/workspace.html", ctx)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request, None)

    @get("/{conversation_id:int}")
    async def open(self, request: Req, conversation_id: PathId) -> Template:
        """The whole page on a first load or reload; only the panes when the list swaps them in."""
        if not _partial(request):
            return await self._page(request, conversation_id)
        return await self._main(request, conversation_id)

    async def _main(self, request: Req, conversation_id: int, *, notice: str = "", error: str = "",
                    status: int = 200) -> Template:
        ctx = await main_context(request, conversation_id)
        ctx.update(await services.left_list(request.user))
        ctx.update(notice=notice, error=error, selected=conversation_id, oob_list=True)
        return render_page(request, "_partials/ws_main.html", ctx, status_code=status)

    @get("/list")
    async def list_panel(self, request: Req, selected: FromQuery[int | None] = None) -> Template:
        ctx = await services.left_list(request.user)
        return render_page(request, "_partials/ws_list.html", {**ctx, "selected": selected})

    @get("/mentions")
    async def mentions(self, request: Req) -> Template:
        return render_page(request, "_partials/ws_mentions.html",
                           {"mentions": await services.mentions(request.user.user_id)})

    @get("/{conversation_id:int}/thread")
    async def earlier(self, request: Req, conversation_id: PathId, before: FromQuery[str] = "") -> Template:
        """The page of the thread before `before` ("load earlier")."""
        row = await services.conversation_for(request.user, conversation_id)
        items, earlier = await services.thread(row["contact_id"], before=before or None)
        return render_page(request, "_partials/ws_thread_items.html",
                           {"items": items, "earlier": earlier, "conv": row, "paged": True})

    @post("/{conversation_id:int}/take")
    async def take(self, request: Req, conversation_id: PathId) -> Template:
        try:
            await services.conversation_for(request.user, conversation_id)
            await conversations.accept(request.user, conversation_id)
        except DomainError as exc:
            return await self._main_or_flash(request, conversation_id, exc)
        return await self._main(request, conversation_id)

    async def _main_or_flash(self, request: Req, conversation_id: int, exc: DomainError) -> Template:
        try:
            return await self._main(request, conversation_id, error=exc.detail, status=exc.status_code)
        except DomainError:
            return flash(request, exc.detail, ok=False, status=exc.status_code)

    @post("/{conversation_id:int}/wrapup")
    async def wrap_up(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            await services.conversation_for(request.user, conversation_id)
            await conversations.wrap_up(request.user, conversation_id, code=str(form.get("code", "")),
                                        note=str(form.get("note", "")))
        except DomainError as exc:
            return await self._main_or_flash(request, conversation_id, exc)
        return await self._main(request, conversation_id, notice=_("Wrapped up."))

    @post("/{conversation_id:int}/transfer")
    async def transfer(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        target = str(form.get("target", ""))
        kind, _, value = target.partition(":")
        try:
            await services.conversation_for(request.user, conversation_id)
            if kind == "user" and value.isdigit():
                await conversations.transfer(request.user, conversation_id, user_id=int(value))
            else:
                await conversations.transfer(request.user, conversation_id, queue_key=value or target)
        except DomainError as exc:
            return await self._main_or_flash(request, conversation_id, exc)
        return await self._main(request, conversation_id, notice=_("Transferred."))

    @post("/{conversation_id:int}/reply")
    async def reply(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        upload = form.get("file")
        files = []
        try:
            if upload is not None and getattr(upload, "filename", ""):
                files.append((str(upload.filename), str(upload.content_type or ""), await upload.read()))
            await services.reply(request.user, conversation_id, channel=str(form.get("channel", "")),
                                 body=str(form.get("body", "")), subject=str(form.get("subject", "")),
                                 files=files)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("Sent."), ok=True)

    @post("/{conversation_id:int}/note")
    async def note(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            note = await services.add_note(request.user, conversation_id, str(form.get("body", "")))
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("Note added.") if not note["mentioned"] else _("Note added; your teammates were told."),
                     ok=True)

    @get("/{conversation_id:int}/contacts")
    async def search(self, request: Req, conversation_id: PathId, q: FromQuery[str] = "") -> Template:
        row = await services.conversation_for(request.user, conversation_id)
        return render_page(request, "_partials/ws_link_results.html",
                           {"results": await client.search(q), "conv": row, "q": q})

    @post("/{conversation_id:int}/contact/link")
    async def link(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        raw = str(form.get("contact_id", ""))
        try:
            if not raw.isdigit():
                return flash(request, _("Choose a contact to link."), ok=False, status=400)
            await client.link(request.user, conversation_id, int(raw))
        except DomainError as exc:
            return await self._main_or_flash(request, conversation_id, exc)
        return await self._main(request, conversation_id, notice=_("Linked to the contact."))

    @post("/{conversation_id:int}/contact/create")
    async def create_contact(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        try:
            await client.create(request.user, conversation_id, {k: str(form.get(k, "")) for k in (
                "name", "company", "phone", "email")})
        except DomainError as exc:
            return await self._main_or_flash(request, conversation_id, exc)
        return await self._main(request, conversation_id, notice=_("Contact saved."))

    @post("/{conversation_id:int}/orders/{order_id:int}/portal")
    async def portal_link(self, request: Req, conversation_id: PathId, order_id: PathId) -> Template:
        """Send the client the portal link of one of their open orders, by SMS or email."""
        form = await request.form()
        try:
            row = await services.conversation_for(request.user, conversation_id)
            order = await client.order_of(row, order_id)
            await orders_api.send_portal_link(request.user, order["id"], str(form.get("channel", "sms")), None)
        except DomainError as exc:
            return flash(request, exc.detail, ok=False, status=exc.status_code)
        return flash(request, _("Portal link sent."), ok=True)

