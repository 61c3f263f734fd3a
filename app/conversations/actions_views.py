"""Conversation actions as forms: htmx posts under /t/{slug}/conversations/{id}/... answer with the re-rendered
`_partials/conversation_actions.html` (a notice, or the error with its 4xx status); the events they emit refresh every
console and workspace. And the admin's blocked addresses page at /t/{slug}/settings/blocked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.conversations import actions, services
from app.lib import i18n
from app.lib.clock import now
from app.lib.errors import DomainError, Invalid
from app.lib.forms import optional_int
from app.lib.templates import render_page
from app.lib.wire import INT32_MAX, PathId

Req = Request[Principal, Any, Any]
PARTIAL = "_partials/conversation_actions.html"
PRESETS = ("1h", "4h", "tomorrow", "next_week")


async def actions_context(user: Principal, conversation: dict[str, Any]) -> dict[str, Any]:
    """What the actions partial needs besides the conversation: the queues and colleagues the user may pick, and
    the same client's other conversations (to merge)."""
    queues = [q for q in await services.queues() if services.visible(q, user)]
    queue = next((q for q in await services.queues(include_archived=True) if q["id"] == conversation["queue_id"]),
                 None)
    team = [{"id": u["id"], "name": u["name"], "role": u["role"]} for u in await accounts.list_users()
            if u["status"] == "active" and (queue is None or actions.user_sees(queue, u["role"]))]
    siblings = await actions.siblings(conversation)
    return {"conversation": conversation, "queues": queues, "team": team, "siblings": siblings}


def _form_id(raw: Any, field: str) -> int | None:
    value = optional_int(str(raw or "").strip().lstrip("#"))
    if value is not None and not 1 <= value <= INT32_MAX:
        raise Invalid("No such number here.", field=field)
    return value


def snooze_until(form: Any) -> dt.datetime:
    """The form's time: a preset, or a `datetime-local` value read in the viewer's time zone."""
    zone = i18n.current().zone
    preset = str(form.get("preset") or "")
    local_now = now().astimezone(zone)
    if preset == "1h":
        return now() + dt.timedelta(hours=1)
    if preset == "4h":
        return now() + dt.timedelta(hours=4)
    if preset in ("tomorrow", "next_week"):
        days = 1 if preset == "tomorrow" else 7 - local_now.weekday()
        day = (local_now + dt.timedelta(days=days)).date()
        return dt.datetime.combine(day, dt.time(9, 0), tzinfo=zone)
    raw = str(form.get("until") or "").strip()
    if not raw:
        raise Invalid("Choose when the conversation comes back.", field="until")
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("Give the time as YYYY-MM-DD HH:MM.", field="until") from None
    return when if when.tzinfo else when.replace(tzinfo=zone)


class ConversationActionViews(Controller):
    path = "/conversations"
    include_in_schema = False
    guards = [signed_in]

    async def _answer(self, request: Req, conversation_id: int, *, notice: str | None = None,
                      error: DomainError | None = None) -> Template:
        row = await services.get(conversation_id)
        ctx = await actions_context(request.user, row)
        ctx.update(notice=notice, error=error.detail if error else None)
        return render_page(request, PARTIAL, ctx, status_code=error.status_code if error else 200)

    async def _run(self, request: Req, conversation_id: int, act: Any, notice: str | Any) -> Template:
        """`act()`, then the panel with `notice` (or `notice()`, worded after the act), or with the error."""
        try:
            await actions.visible(request.user, conversation_id)
            await act()
        except DomainError as exc:
            if exc.status_code == 404:  # no partial for a conversation the user may not see
                return render_page(request, "_partials/messages.html", {"error": exc.detail}, status_code=404)
            return await self._answer(request, conversation_id, error=exc)
        return await self._answer(request, conversation_id, notice=notice if isinstance(notice, str) else notice())

    @get("/{conversation_id:int}/actions")
    async def panel(self, request: Req, conversation_id: PathId) -> Template:
        row = await actions.visible(request.user, conversation_id)
        return render_page(request, PARTIAL, await actions_context(request.user, row))

    @post("/{conversation_id:int}/assign")
    async def assign(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()
        queue = str(form.get("queue") or "")

        warnings: list[str] = []

        async def act() -> None:
            user_id = _form_id(form.get("user_id"), "user_id")
            if user_id is not None:
                warnings.extend((await actions.assign(request.user, conversation_id, user_id))["warnings"])
            elif queue:
                await actions.move(request.user, conversation_id, queue)
            else:
                raise Invalid("Choose a colleague or a queue.", field="user_id")

        return await self._run(request, conversation_id, act,
                               lambda: " ".join([i18n.gettext("Assigned."), *warnings]))

    @post("/{conversation_id:int}/snooze")
    async def snooze(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            await actions.snooze(request.user, conversation_id, snooze_until(form))

        return await self._run(request, conversation_id, act, i18n.gettext("Snoozed."))

    @post("/{conversation_id:int}/close")
    async def close(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            await actions.close(request.user, conversation_id, note=str(form.get("note") or ""))

        return await self._run(request, conversation_id, act, i18n.gettext("Closed."))

    @post("/{conversation_id:int}/reopen")
    async def reopen(self, request: Req, conversation_id: PathId) -> Template:
        async def act() -> None:
            await actions.reopen(request.user, conversation_id)

        return await self._run(request, conversation_id, act, i18n.gettext("Reopened."))

    @post("/{conversation_id:int}/merge")
    async def merge(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            other = _form_id(form.get("other_id"), "other_id")
            if other is None:
                raise Invalid("Give the number of the conversation to merge into this one.", field="other_id")
            await actions.merge(request.user, conversation_id, other)

        return await self._run(request, conversation_id, act, i18n.gettext("Merged."))

    @post("/{conversation_id:int}/block")
    async def block(self, request: Req, conversation_id: PathId) -> Template:
        form = await request.form()

        async def act() -> None:
            await actions.block(request.user, conversation_id=conversation_id, reason=str(form.get("reason") or ""))

        return await self._run(request, conversation_id, act,
                               i18n.gettext("Sender blocked; the conversation is closed."))


class BlockedSettingsViews(Controller):
    path = "/settings/blocked"
    include_in_schema = False
    guards = [requires("admin")]

    async def _page(self, request: Req, *, error: str | None = None, notice: str | None = None,
                    status: int = 200) -> Template:
        return render_page(request, "pages/blocked.html", {"blocked": await actions.blocked_list(), "error": error,
                                                           "notice": notice}, status_code=status)

    @get("/")
    async def page(self, request: Req) -> Template:
        return await self._page(request)

    @post("/")
    async def add(self, request: Req) -> Template:
        form = await request.form()
        try:
            row = await actions.block(request.user, address=str(form.get("address") or ""),
                                      reason=str(form.get("reason") or ""))
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("%(address)s is blocked.", address=row["address"]))

    @post("/{blocked_id:int}/delete")
    async def remove(self, request: Req, blocked_id: PathId) -> Template:
        try:
            await actions.unblock(request.user, blocked_id)
        except DomainError as exc:
            return await self._page(request, error=exc.detail, status=exc.status_code)
        return await self._page(request, notice=i18n.gettext("Unblocked."))
