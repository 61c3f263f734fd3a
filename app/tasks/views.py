"""Task pages: the list with filters, one task, "My tasks" (console and home), the card's tasks panel, the console's
quick callback form at wrap-up, and the admin's view of what the scheduler will run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.conversations import services as conversations
from app.lib import forms, i18n
from app.lib.clock import now
from app.lib.db import current_tenant
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.templates import render_page
from app.lib.wire import PathId
from app.tasks import services
from app.tasks.tables import KINDS, STATUSES
from realtime import current_id

Req = Request[Principal, Any, Any]

KIND_LABELS = {"callback": N_("Callback"), "follow_up": N_("Follow-up"), "todo": N_("To-do")}
STATUS_LABELS = {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled"), "missed": N_("Missed")}
PRIORITY_LABELS = {0: N_("Normal"), 1: N_("Raised"), 2: N_("High"), 3: N_("Urgent")}


def labels() -> dict[str, Any]:
    """The vocabulary of the task templates, in the viewer's language."""
    t = i18n.gettext
    return {"kinds": [(k, t(KIND_LABELS[k])) for k in KINDS], "statuses": [(s, t(STATUS_LABELS[s])) for s in STATUSES],
            "priorities": [(p, t(label)) for p, label in PRIORITY_LABELS.items()],
            "kind_label": {k: t(v) for k, v in KIND_LABELS.items()},
            "status_label": {k: t(v) for k, v in STATUS_LABELS.items()}}


def _int(raw: Any, field: str) -> int | None:
    value = str(raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 <= int(value) < 2**31:
        raise Invalid("%(name)s must be a number.", field=field, name=field)
    return int(value)


def tomorrow_at_ten() -> dt.datetime:
    """The quick form's default: tomorrow at 10:00 in the viewer's zone."""
    local = now().astimezone(i18n.current().zone)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(10, 0), tzinfo=i18n.current().zone)


async def create_from_form(user: Principal, form: Any, *, contact_id: int | None = None) -> dict[str, Any]:
    contact = contact_id if contact_id is not None else _int(form.get("contact_id"), "contact_id")
    if contact is None:
        raise Invalid("Choose the contact the task is about.", field="contact_id")
    return await services.create(
        user, contact_id=contact, title=str(form.get("title", "")), kind=str(form.get("kind") or "todo"),
        due_at=forms.local_time(str(form.get("due_at", "")), "due_at"),
        assignee_id=_int(form.get("assignee_id"), "assignee_id"),
        queue_id=_int(form.get("queue_id"), "queue_id"), priority=_int(form.get("priority"), "priority") or 0,
        conversation_id=_int(form.get("conversation_id"), "conversation_id"), note=str(form.get("note", "")),
        rrule=str(form.get("rrule", "")),
        remind_before=_int(form.get("remind_before"), "remind_before") if form.get("remind_before") else 15)


async def mine_context(user: Principal) -> dict[str, Any]:
    return {"my_tasks": await services.mine(user.user_id), **labels()}


async def card_context(contact_id: int) -> dict[str, Any]:
    return {"contact_id": contact_id, "tasks": await services.contact_tasks(contact_id),
            "users": [u for u in await accounts.list_users() if u["status"] == "active"],
            "queues": await conversations.queues(), "default_due": tomorrow_at_ten(), **labels()}


class TaskViews(Controller):
    path = "/tasks"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def index(self, request: Req, status: FromQuery[str] = "open", assignee: FromQuery[str] = "me",
                    kind: FromQuery[str] = "", due_from: FromQuery[str] = "", due_to: FromQuery[str] = "") -> Template:
        error = None
        filters = {"status": status, "assignee": assignee, "kind": kind, "due_from": due_from, "due_to": due_to}
        try:
            rows = await services.search(
                status=status or None, kind=kind or None,
                assignee_id=request.user.user_id if assignee == "me" else _int(assignee, "assignee"),
                due_from=forms.local_time(due_from, "due_from"), due_to=forms.local_time(due_to, "due_to"))
        except DomainError as exc:
            rows, error = [], exc.detail
        ctx = {"tasks": rows, "filters": filters, "error": error, "users": await accounts.list_users(), **labels(),
               "live": True, "last_event_id": await current_id()}
        return render_page(request, "pages/tasks.html", ctx, status_code=400 if error else 200)

    @get("/mine")
    async def mine(self, request: Req) -> Template:
        return render_page(request, "_partials/tasks_mine.html", await mine_context(request.user))

    @get("/{task_id:int}")
    async def read(self, request: Req, task_id: PathId) -> Template:
        return render_page(request, "pages/task.html", {"t": await services.get(task_id), **labels(),
                                                         "live": True, "last_event_id": await current_id()})

    @post("/{task_id:int}/done")
    async def done(self, request: Req, task_id: PathId) -> Template:
        """Complete from a list (My tasks, the card, the task page); answers with the panel it was pressed in."""
        form = await request.form()
        error = None
        try:
            await services.complete(request.user, task_id, outcome=str(form.get("outcome", "")))
        except DomainError as exc:
            error = exc.detail
        return await self._panel(request, str(form.get("panel", "mine")), task_id, error)

    @post("/{task_id:int}/reschedule")
    async def reschedule(self, request: Req, task_id: PathId) -> Template:
        form = await request.form()
        error = None
        try:
            due = forms.local_time(str(form.get("due_at", "")), "due_at")
            if due is None:
                raise Invalid("Choose the new due time.", field="due_at")
            await services.update(request.user, task_id, due_at=due)
        except DomainError as exc:
            error = exc.detail
        return await self._panel(request, str(form.get("panel", "task")), task_id, error)

    @post("/{task_id:int}/cancel")
    async def cancel(self, request: Req, task_id: PathId) -> Template:
        """Cancel, or (`status=missed`) give up: the customer could not be reached."""
        form = await request.form()
        error = None
        try:
            status = "missed" if form.get("status") == "missed" else "cancelled"
            await services.update(request.user, task_id, status=status, outcome=str(form.get("outcome", "")))
        except DomainError as exc:
            error = exc.detail
        return await self._panel(request, str(form.get("panel", "task")), task_id, error)

    async def _panel(self, request: Req, panel: str, task_id: int, error: str | None) -> Template:
        status = 400 if error else 200
        if panel == "card":
            task = await services.get(task_id)
            return render_page(request, "_partials/tasks_card.html",
                               {**await card_context(task["contact_id"]), "error": error}, status_code=status)
        if panel == "task":
            return render_page(request, "pages/task.html", {"t": await services.get(task_id), **labels(),
                                                             "error": error}, status_code=status)
        return render_page(request, "_partials/tasks_mine.html", {**await mine_context(request.user),
                                                                  "error": error}, status_code=status)

    @post("/quick")
    async def quick(self, request: Req) -> Template:
        """The console's "call back at …" form beside a conversation's wrap-up: a callback task for its contact,
        assigned to the operator, in the conversation's queue when it has one."""
        form = await request.form()
        try:
            conversation = await conversations.get(_int(form.get("conversation_id"), "conversation_id") or 0)
            if conversation["contact_id"] is None:
                raise Invalid("This conversation has no contact to call back.", field="conversation_id")
            title = str(form.get("title") or "").strip() or i18n.gettext(
                "Call back %(name)s", name=conversation["contact_name"] or conversation["from_address"])
            await services.create(request.user, contact_id=conversation["contact_id"], title=title,
                                  kind=str(form.get("kind") or "callback"),
                                  due_at=forms.local_time(str(form.get("due_at", "")), "due_at") or tomorrow_at_ten(),
                                  assignee_id=request.user.user_id, conversation_id=conversation["id"],
                                  note=str(form.get("note", "")))
        except DomainError as exc:
            return render_page(request, "_partials/messages.html", {"error": exc.detail},
                               status_code=exc.status_code)
        return render_page(request, "_partials/messages.html",
                           {"notice": i18n.gettext("Task created: %(title)s", title=title)})


class ContactTaskViews(Controller):
    """The tasks panel of a contact's card, and its "new task" form."""

    path = "/contacts/{contact_id:int}/tasks"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        return render_page(request, "_partials/tasks_card.html", await card_context(contact_id))

    @post("/")
    async def create(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        try:
            await create_from_form(request.user, form, contact_id=contact_id)
        except DomainError as exc:
            return render_page(request, "_partials/tasks_card.html",
                               {**await card_context(contact_id), "error": exc.detail, "form": dict(form)},
                               status_code=exc.status_code)
        return render_page(request, "_partials/tasks_card.html", await card_context(contact_id))


class ScheduleViews(Controller):
    """Admins see what the scheduler will run for the workspace: every queued, running or held job."""

    path = "/settings/scheduled"
    include_in_schema = False
    guards = [requires("admin")]

    @get("/")
    async def index(self, request: Req) -> Template:
        states = {"queued": i18n.gettext(N_("waiting")), "picked": i18n.gettext(N_("running")),
                  "failed": i18n.gettext(N_("held after its last attempt"))}
        return render_page(request, "pages/scheduled.html",
                           {"jobs": await services.scheduled_jobs(current_tenant().slug), "states": states})
