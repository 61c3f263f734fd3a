"""Web chat pages: the admin's chat settings (allowed origins, greeting, the snippet) and the console's reply,
typing and seen actions on a chat pane."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from app import channels
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.chat import services
from app.chat.api import snippet
from app.conversations import services as conversations
from app.lib import i18n
from app.lib.errors import DomainError
from app.lib.templates import render_page
from app.lib.wire import PathId

Req = Request[Principal, Any, Any]
SETTINGS_PAGE = "pages/chat_settings.html"


class ChatSettingsViews(Controller):
    path = "/settings/chat"
    include_in_schema = False
    guards = [requires("admin")]

    async def _context(self, slug: str, *, error: str | None = None, notice: str | None = None,
                       form: dict[str, Any] | None = None) -> dict[str, Any]:
        row = await services.get_settings()
        return {"cfg": row, "snippet": snippet(slug), "error": error, "notice": notice,
                "form": form or {"allowed_origins": "\n".join(row["allowed_origins"]), "greeting": row["greeting"]}}

    @get("/")
    async def page(self, request: Req, slug: FromPath[str]) -> Template:
        return render_page(request, SETTINGS_PAGE, await self._context(slug))

    @post("/")
    async def save(self, request: Req, slug: FromPath[str]) -> Template:
        form = await request.form()
        values = {"allowed_origins": str(form.get("allowed_origins", "")), "greeting": str(form.get("greeting", ""))}
        try:
            await services.update_settings(request.user, allowed_origins=values["allowed_origins"].split(),
                                           greeting=values["greeting"])
        except DomainError as exc:
            return render_page(request, SETTINGS_PAGE, await self._context(slug, error=exc.detail, form=values),
                               status_code=exc.status_code)
        return render_page(request, SETTINGS_PAGE, await self._context(slug, notice=i18n.gettext("Saved.")))


async def pane_context(conversation_id: int, **extra: Any) -> dict[str, Any]:
    conv = await conversations.get(conversation_id)
    chat = (await services.console_view([conversation_id])).get(conversation_id)
    return {"c": conv, "chat": chat or {"session": None, "messages": []}, **extra}


class ChatConsoleViews(Controller):
    path = "/console/chat/{conversation_id:int}"
    include_in_schema = False
    guards = [signed_in]

    @post("/")
    async def reply(self, request: Req, conversation_id: PathId) -> Template:
        """Send; answers with the fresh message list (the pushed one follows for the other consoles)."""
        form = await request.form()
        error, status = None, 200
        try:
            await channels.get("chat").send(request.user, conversation_id, str(form.get("body", "")))
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        return render_page(request, "_partials/console_chat_log.html",
                           await pane_context(conversation_id, chat_error=error), status_code=status)

    @post("/typing", status_code=204)
    async def typing(self, request: Req, slug: FromPath[str], conversation_id: PathId) -> Response[None]:
        try:
            await services.operator_typing(request.user, conversation_id, tenant_slug=slug)
        except DomainError:
            pass  # typing in a chat one no longer handles is not worth an error
        return Response(None, status_code=204)

    @post("/seen", status_code=204)
    async def seen(self, request: Req, conversation_id: PathId) -> Response[None]:
        form = await request.form()
        upto = str(form.get("upto", ""))
        if upto.isdigit():
            await services.operator_seen(request.user, conversation_id, int(upto))
        return Response(None, status_code=204)
