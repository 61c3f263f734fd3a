"""The tasks' timed work, as jobs queued with `delay=` and a dedupe key per (task, kind, due time).

Each one is idempotent on its own: it locks the task row, checks that the due time it was queued for is still the
task's and that its mark (`reminded_at`, `overdue_at`, `routed_at`) is not set, then sets the mark in the same
transaction as its effect. A job that runs twice (two workers, a retry after a crash, a catch-up after downtime)
finds the mark and does nothing; a job queued for a time since changed finds another time and does nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lib import i18n, jobs, mail
from app.lib.db import current_tenant, current_uow, resolve_active, tenant_context
from app.lib.templates import render_text
from app.settings import get_settings
from app.tasks import services
from app.tasks.events import TASK_DUE, TASK_OVERDUE
from app.timeline import services as timeline
from realtime.publish import emit


async def _claim(task_id: int, due_at: str, mark: str) -> dict[str, Any] | None:
    """Lock the task and set `mark` now, if it is open, still due at `due_at` and not marked yet; else None."""
    row = await current_uow().connection.fetchrow(
        f"UPDATE task SET {mark} = now() WHERE id = $1 AND status = 'open' AND due_at = $2 "  # noqa: S608
        f"AND {mark} IS NULL RETURNING id, kind, title, contact, assignee, queue, due_at, created_by",
        task_id, dt.datetime.fromisoformat(due_at))
    return dict(row) if row else None


async def remind(payload: dict[str, Any]) -> None:
    """The reminder: `task.due` to the assignee's channel (their toast on every open page) and an email."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        row = await _claim(payload["task_id"], payload["due_at"], "reminded_at")
        if row is None:
            return
        await emit(TASK_DUE, task_id=row["id"], contact_id=row["contact"], kind=row["kind"],
                   assignee_id=row["assignee"], queue_id=row["queue"])
        if row["assignee"] is not None:
            await jobs.enqueue(services.EMAIL_JOB, {"task_id": row["id"], "user_id": row["assignee"],
                                                    "due_at": payload["due_at"]},
                               dedupe_key=services.job_key(services.EMAIL_JOB, row["id"], row["due_at"],
                                                           tenant.slug))


async def overdue(payload: dict[str, Any]) -> None:
    """Past due and still open: `task.overdue` (the assignee's and the supervisors' channels), on the timeline."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        row = await _claim(payload["task_id"], payload["due_at"], "overdue_at")
        if row is None:
            return
        await timeline.record(row["contact"], "system", "internal", "Task “%(title)s” is overdue",
                              params={"title": row["title"]}, links={"task_id": row["id"]},
                              payload={"event": "task_overdue", "task_id": row["id"]})
        await emit(TASK_OVERDUE, task_id=row["id"], contact_id=row["contact"], kind=row["kind"],
                   assignee_id=row["assignee"], queue_id=row["queue"])


async def route_callback(payload: dict[str, Any]) -> None:
    """A callback task at its time: a waiting call conversation in the task's queue, for routing to offer."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        row = await _claim(payload["task_id"], payload["due_at"], "routed_at")
        if row is None or row["queue"] is None:
            return
        await services.open_callback(row)


async def remind_email(payload: dict[str, Any]) -> None:
    """The reminder email, in the assignee's language and zone."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        task = await services.get(payload["task_id"])
        user = await current_uow().connection.fetchrow(
            "SELECT u.email, u.name, COALESCE(NULLIF(u.language, ''), w.language, '') AS language, "
            "COALESCE(NULLIF(u.timezone, ''), w.timezone, 'UTC') AS timezone "
            "FROM app_user u LEFT JOIN workspace w ON true WHERE u.id = $1 LIMIT 1", payload["user_id"])
        slug = current_tenant().slug
    if user is None or task["status"] != "open" or not user["email"]:
        return
    settings = get_settings()
    with i18n.viewing(user["language"], user["timezone"]):
        context = {"title": task["title"], "contact": task["contact_name"] or "",
                   "due": i18n.format_datetime(task["due_at"]) if task["due_at"] else "",
                   "url": f"{settings.app.base_url.rstrip('/')}/t/{slug}/tasks/{task['id']}"}
        message = mail.build_message(settings.mail.from_address, user["email"],
                                     i18n.gettext("Reminder: %(title)s at %(due)s", title=task["title"],
                                                  due=context["due"]),
                                     render_text("emails/task_reminder.txt", context))
    await mail.send(mail.SmtpAccount.platform(settings.mail), message)

