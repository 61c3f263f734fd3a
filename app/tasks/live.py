"""Live tasks: "My tasks" follows the user's own task events on every page with a socket, the reminder (task.due)
and the overdue notice arrive as a toast, and an open card's tasks panel follows its contact's tasks."""

from __future__ import annotations

from app.accounts.services import Principal
from app.lib.db import TenantRef
from app.lib.errors import NotFound
from app.lib.templates import render_text
from app.tasks import services, views
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED

NAMES = ("task.created", "task.updated", "task.completed", "task.due", "task.overdue")


@renders(*NAMES, audience=CONCERNED)
async def my_tasks(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The assignee's "My tasks" again, and for a reminder or an overdue task a toast (their user channel)."""
    if f"user:{user.user_id}" not in event.channels:
        return None
    ctx = {"tenant": tenant, "user": user, "oob": True, **await views.mine_context(user)}
    out = render_text("_partials/tasks_mine.html", ctx)
    if event.name in ("task.due", "task.overdue"):
        try:
            task = await services.get(int(event.data["task_id"]))
        except NotFound:
            return out
        if task["status"] == "open" and task["assignee_id"] == user.user_id:
            out += render_text("_partials/task_toast.html", {**ctx, "t": task, "overdue": event.name == "task.overdue"})
    return out


@renders(*NAMES, audience=BY_ROLE)
async def card_tasks(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """An open card of the task's contact: its tasks panel (the timeline follows by its own event)."""
    if f"contact:{event.data.get('contact_id')}" not in event.channels:
        return None
    try:
        card = await views.card_context(int(event.data["contact_id"]))
    except NotFound:  # the contact was deleted meanwhile
        return None
    return render_text("_partials/tasks_card.html", {"tenant": tenant, "user": user, "oob": True, **card})


def _is_the_assignee(event: Event, viewer: Principal) -> bool:
    return bool(viewer.user_id) and viewer.user_id == event.data.get("assignee_id")


@renders("task.overdue", audience=BY_ROLE.but(skip=_is_the_assignee))
async def supervisors_overdue(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """Supervisors (and above) are told of anyone's overdue task with a toast; the assignee has their own."""
    if not user.has_role("supervisor") or "role:supervisor" not in event.channels:
        return None
    try:
        task = await services.get(int(event.data["task_id"]))
    except NotFound:
        return None
    if task["status"] != "open":
        return None
    return render_text("_partials/task_toast.html", {"tenant": tenant, "user": user, "t": task, "overdue": True,
                                                     "supervisor": True})
