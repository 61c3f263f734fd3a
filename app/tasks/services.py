"""Task rules: create (from the card, the console's wrap-up, the API and automations), list, complete (a recurring
task opens its next occurrence), reschedule, cancel; and the timed work behind them (reminder, overdue check,
callback routing) scheduled as jobs that fire once per (task, kind, due time).

Every function runs inside the caller's unit of work. A change of `due_at` schedules new jobs under new dedupe keys;
the jobs already queued for the old time find the time changed when they run and do nothing."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from dateutil.rrule import rrulestr

from app.accounts.services import Principal, workspace_zone
from app.accounts.tables import User
from app.contacts.tables import Contact, ContactPhone
from app.conversations import services as conversations
from app.conversations.tables import Conversation, Queue
from app.lib import i18n, jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Forbidden, Invalid, NotFound
from app.lib.i18n import N_
from app.tasks.events import TASK_COMPLETED, TASK_CREATED, TASK_UPDATED
from app.tasks.tables import KINDS, STATUSES, Task
from app.timeline import services as timeline
from realtime.publish import emit

REMIND_JOB = "tasks.remind"
OVERDUE_JOB = "tasks.overdue"
ROUTE_JOB = "tasks.route_callback"
EMAIL_JOB = "tasks.remind_email"
MAX_REMIND_BEFORE = 7 * 24 * 60
MAX_PRIORITY = 3

COLUMNS = (Task.id, Task.kind, Task.title, Task.note, Task.contact.as_alias("contact_id"),
           Task.contact.name.as_alias("contact_name"), Task.conversation.as_alias("conversation_id"),
           Task.shop_order.as_alias("order_id"), Task.deal.as_alias("deal_id"), Task.assignee.as_alias("assignee_id"),
           Task.assignee.name.as_alias("assignee_name"), Task.queue.as_alias("queue_id"),
           Task.queue.name.as_alias("queue_name"), Task.due_at, Task.remind_before, Task.priority, Task.status,
           Task.outcome, Task.rrule, Task.previous.as_alias("previous_id"), Task.created_by.as_alias("created_by_id"),
           Task.created_at, Task.updated_at, Task.completed_at, Task.reminded_at, Task.overdue_at, Task.routed_at)


def _actor_fields(actor: Principal | None) -> dict[str, Any]:
    if actor is None:
        return {"actor_type": "system", "actor_id": None, "actor_label": "automation"}
    return {"actor_type": "user", "actor_id": actor.user_id, "actor_label": actor.label}


def check_rrule(rrule: str, due_at: dt.datetime | None) -> str:
    rrule = (rrule or "").strip()
    if rrule.upper().startswith("RRULE:"):
        rrule = rrule[6:]
    if not rrule:
        return ""
    if due_at is None:
        raise Invalid("A recurring task needs a due time.", field="due_at")
    if len(rrule) > 500:
        raise Invalid("rrule must be at most 500 characters.", field="rrule")
    try:
        rrulestr(rrule, dtstart=due_at)
    except (ValueError, TypeError) as exc:
        raise Invalid("rrule is not a valid RRULE (%(error)s); for example FREQ=WEEKLY;BYDAY=MO.", field="rrule",
                      error=str(exc)[:100]) from None
    return rrule


def next_occurrence(rrule: str, start: dt.datetime, after: dt.datetime,
                    zone: zoneinfo.ZoneInfo | None = None) -> dt.datetime | None:
    """The first occurrence of `rrule` (its series started at `start`) after `after`, or None when it has ended.
    The rule runs on the wall clock of `zone` (the assignee's): "Mondays at 10:00" stays at 10:00 across a change
    to or from summer time. A rule whose UNTIL is in UTC runs in UTC (dateutil wants both or neither aware)."""
    if zone is not None:
        try:
            local = rrulestr(rrule, dtstart=start.astimezone(zone).replace(tzinfo=None))
            following = local.after(after.astimezone(zone).replace(tzinfo=None), inc=False)  # type: ignore[union-attr]
        except (ValueError, TypeError):
            pass
        else:
            if not isinstance(following, dt.datetime):
                return None
            return following.replace(tzinfo=zone).astimezone(dt.UTC)
    rule = rrulestr(rrule, dtstart=start)
    following = rule.after(after, inc=False)  # type: ignore[union-attr]
    return following if isinstance(following, dt.datetime) else None


async def zone_of(user_id: int | None) -> zoneinfo.ZoneInfo:
    """The time zone a user's tasks recur in: theirs, else the workspace's, else UTC."""
    name = await current_uow().connection.fetchval("SELECT timezone FROM app_user WHERE id = $1", user_id)
    return i18n.to_zone(name) or await workspace_zone()


async def _check_links(*, contact_id: int, assignee_id: int | None, queue_id: int | None,
                       conversation_id: int | None, order_id: int | None, deal_id: int | None) -> None:
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise Invalid("No contact %(contact_id)s.", field="contact_id", contact_id=contact_id)
    if assignee_id is not None and not await User.exists().where(User.id == assignee_id):
        raise Invalid("No user %(assignee_id)s.", field="assignee_id", assignee_id=assignee_id)
    if queue_id is not None and not await Queue.exists().where((Queue.id == queue_id) & (Queue.archived == False)):  # noqa: E712
        raise Invalid("No queue %(queue_id)s.", field="queue_id", queue_id=queue_id)
    if conversation_id is not None and not await Conversation.exists().where(Conversation.id == conversation_id):
        raise Invalid("No conversation %(conversation_id)s.", field="conversation_id",
                      conversation_id=conversation_id)
    conn = current_uow().connection
    # Orders and deals sit above tasks in the layers: their rows are read by SQL, not through their tables.
    if order_id is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM shop_order WHERE id = $1 AND contact = $2)", order_id, contact_id):
        raise Invalid("No order %(order_id)s of this contact.", field="order_id", order_id=order_id)
    if deal_id is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM deal WHERE id = $1 AND contact = $2)", deal_id, contact_id):
        raise Invalid("No deal %(deal_id)s of this contact.", field="deal_id", deal_id=deal_id)


def _check_fields(*, title: str, kind: str, priority: int, note: str, remind_before: int) -> str:
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise Invalid("title must be 1 to 200 characters.", field="title")
    if kind not in KINDS:
        raise Invalid("kind must be one of: %(choices)s.", field="kind", choices=", ".join(KINDS))
    if not 0 <= priority <= MAX_PRIORITY:
        raise Invalid("priority must be from 0 (normal) to %(max)s (urgent).", field="priority", max=MAX_PRIORITY)
    if len(note or "") > 5000:
        raise Invalid("note must be at most 5000 characters.", field="note")
    if not 0 <= remind_before <= MAX_REMIND_BEFORE:
        raise Invalid("remind_before must be 0 to %(max)s minutes.", field="remind_before", max=MAX_REMIND_BEFORE)
    return title


def _utc(value: dt.datetime | None, field: str = "due_at") -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Invalid("%(name)s needs a time zone (for example 2026-12-01T10:00:00+02:00).", field=field,
                      name=field)
    return value.astimezone(dt.UTC)


async def create(actor: Principal | None, *, contact_id: int, title: str, kind: str = "todo",
                 due_at: dt.datetime | None = None, assignee_id: int | None = None, queue_id: int | None = None,
                 priority: int = 0, conversation_id: int | None = None, order_id: int | None = None,
                 deal_id: int | None = None, note: str = "", rrule: str = "", remind_before: int = 15,
                 previous_id: int | None = None, series_start: dt.datetime | None = None) -> dict[str, Any]:
    """Create a task inside the caller's unit of work and schedule its reminder, overdue check and (for a callback
    with a queue) its routing. `actor` None is an automation. With neither assignee nor queue, the task is the
    actor's own."""
    title = _check_fields(title=title, kind=kind, priority=priority, note=note, remind_before=remind_before)
    due_at = _utc(due_at)
    rrule = check_rrule(rrule, due_at)
    if assignee_id is None and queue_id is None and actor is not None:
        assignee_id = actor.user_id
    await _check_links(contact_id=contact_id, assignee_id=assignee_id, queue_id=queue_id,
                       conversation_id=conversation_id, order_id=order_id, deal_id=deal_id)
    rows = await Task.insert(Task(
        kind=kind, title=title, note=note or "", contact=contact_id, conversation=conversation_id,
        shop_order=order_id, deal=deal_id, assignee=assignee_id, queue=queue_id, due_at=due_at,
        remind_before=remind_before, priority=priority, rrule=rrule, previous=previous_id,
        series_start=(series_start or due_at) if rrule else None,
        created_by=actor.user_id if actor else None)).returning(Task.id)
    task_id = rows[0]["id"]
    await timeline.record(contact_id, "system", "internal", "Task “%(title)s” created", params={"title": title},
                          links={"task_id": task_id}, **_actor_fields(actor),
                          payload={"event": "task_created", "task_id": task_id, "kind": kind})
    await schedule(task_id)
    await emit(TASK_CREATED, task_id=task_id, contact_id=contact_id, kind=kind, assignee_id=assignee_id,
               queue_id=queue_id)
    return await get(task_id)


def job_key(kind: str, task_id: int, due_at: dt.datetime, tenant_slug: str) -> str:
    """One job per (tenant, task, kind, due time): enqueued twice, it is still queued once."""
    return f"tasks:{tenant_slug}:{kind}:{task_id}:{due_at.astimezone(dt.UTC).isoformat()}"


async def schedule(task_id: int) -> None:
    """Queue the task's timed work for its current due time (nothing for a task without one, or not open)."""
    row = await Task.select(Task.id, Task.kind, Task.due_at, Task.remind_before, Task.queue, Task.status).where(
        Task.id == task_id).first()
    if row is None or row["due_at"] is None or row["status"] != "open":
        return
    due: dt.datetime = row["due_at"]
    slug = current_tenant().slug
    at = now()
    payload = {"task_id": task_id, "due_at": due.isoformat()}
    plan = [(REMIND_JOB, due - dt.timedelta(minutes=row["remind_before"])), (OVERDUE_JOB, due)]
    if row["kind"] == "callback" and row["queue"] is not None:
        plan.append((ROUTE_JOB, due))
    for entrypoint, when in plan:
        await jobs.enqueue(entrypoint, payload, delay=max(when - at, dt.timedelta(0)),
                           dedupe_key=job_key(entrypoint, task_id, due, slug))


async def contact_tasks(contact_id: int) -> list[dict[str, Any]]:
    """A contact's open tasks (its card); another shop's contact id, or a deleted one, is not found."""
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise NotFound("No contact %(contact_id)s.", contact_id=contact_id)
    return await search(contact_id=contact_id, status="open")


async def unschedule(task_id: int, due_at: dt.datetime | None) -> None:
    """Take the task's waiting jobs for `due_at` off the queue (done, cancelled or moved: they would only find that
    out when they ran, and the scheduled jobs page would list them meanwhile). A job already running finishes and
    finds out. By their exact dedupe keys, which PgQueuer indexes."""
    if due_at is None:
        return
    slug = current_tenant().slug
    keys = [job_key(entrypoint, task_id, due_at, slug) for entrypoint in (REMIND_JOB, OVERDUE_JOB, ROUTE_JOB)]
    await current_uow().connection.execute(
        "".join(("DELETE FROM ", jobs.QUEUE_TABLE, " WHERE dedupe_key = ANY($1::text[]) AND status = 'queued'")),
        keys)


async def get(task_id: int) -> dict[str, Any]:
    row = await Task.select(*COLUMNS).where(Task.id == task_id).first()
    if row is None:
        raise NotFound("No task %(task_id)s.", task_id=task_id)
    return _shaped(row)


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    overdue = row["status"] == "open" and row["due_at"] is not None and row["due_at"] < now()
    return {**row, "overdue": overdue}


async def search(*, status: str | None = None, assignee_id: int | None = None, kind: str | None = None,
                 contact_id: int | None = None, due_from: dt.datetime | None = None,
                 due_to: dt.datetime | None = None, queue_id: int | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Tasks by filters, the soonest due first (those without a due time last: PostgreSQL sorts NULL last ascending)."""
    if status is not None and status not in STATUSES:
        raise Invalid("status must be one of: %(choices)s.", field="status", choices=", ".join(STATUSES))
    if kind is not None and kind not in KINDS:
        raise Invalid("kind must be one of: %(choices)s.", field="kind", choices=", ".join(KINDS))
    due_from, due_to = _utc(due_from, "due_from"), _utc(due_to, "due_to")
    query = Task.select(*COLUMNS)
    clauses: list[Any] = []
    if status is not None:
        clauses.append(Task.status == status)
    if assignee_id is not None:
        clauses.append(Task.assignee == assignee_id)
    if kind is not None:
        clauses.append(Task.kind == kind)
    if contact_id is not None:
        clauses.append(Task.contact == contact_id)
    if queue_id is not None:
        clauses.append(Task.queue == queue_id)
    if due_from is not None:
        clauses.append(Task.due_at >= due_from)
    if due_to is not None:
        clauses.append(Task.due_at < due_to)
    for clause in clauses:
        query = query.where(clause)
    rows = await query.order_by(Task.due_at).order_by(Task.id).limit(max(1, min(limit, 1000)))
    return [_shaped(r) for r in rows]


async def mine(user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A user's open tasks, the soonest due first: the console's and the home page's "My tasks"."""
    return await search(status="open", assignee_id=user_id, limit=limit)


async def _locked(task_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        "SELECT id, kind, title, contact, assignee, queue, status, due_at, rrule, remind_before, priority, note, "
        "conversation, shop_order, deal, created_by, series_start FROM task WHERE id = $1 FOR UPDATE", task_id)
    if row is None:
        raise NotFound("No task %(task_id)s.", task_id=task_id)
    return dict(row)


def _may_change(actor: Principal | None, row: dict[str, Any]) -> None:
    if actor is None or actor.has_role("supervisor") or row["assignee"] in (None, actor.user_id) \
            or row["created_by"] == actor.user_id:
        return
    raise Forbidden("Only the assignee, the task's author or a supervisor can change this task.")


async def complete(actor: Principal | None, task_id: int, *, outcome: str = "") -> dict[str, Any]:
    """Mark an open task done; a recurring one opens its next occurrence (once: a unique index on `previous`)."""
    row = await _locked(task_id)
    _may_change(actor, row)
    if row["status"] != "open":
        raise Invalid("This task is %(status)s already; only an open task can be completed.", field="status",
                      status=row["status"])
    outcome = (outcome or "").strip()
    if len(outcome) > 2000:
        raise Invalid("outcome must be at most 2000 characters.", field="outcome")
    at = now()
    await Task.update({Task.status: "done", Task.outcome: outcome, Task.completed_at: at, Task.updated_at: at}).where(
        Task.id == task_id)
    await timeline.record(row["contact"], "system", "internal",
                          "Task “%(title)s” done: %(outcome)s" if outcome else "Task “%(title)s” done",
                          params={"title": row["title"], **({"outcome": outcome} if outcome else {})},
                          links={"task_id": task_id}, **_actor_fields(actor),
                          payload={"event": "task_done", "task_id": task_id, "outcome": outcome})
    await unschedule(task_id, row["due_at"])
    await emit(TASK_COMPLETED, task_id=task_id, contact_id=row["contact"], kind=row["kind"],
               assignee_id=row["assignee"], queue_id=row["queue"], status="done")
    result = await get(task_id)
    if row["rrule"] and row["due_at"] is not None:
        # The next occurrence after the later of its due time and now: one done late opens no overdue backlog.
        following = next_occurrence(row["rrule"], row["series_start"] or row["due_at"], max(row["due_at"], now()),
                                    await zone_of(row["assignee"]))
        if following is not None:
            nxt = await create(actor, contact_id=row["contact"], title=row["title"], kind=row["kind"],
                               due_at=following, assignee_id=row["assignee"], queue_id=row["queue"],
                               priority=row["priority"], conversation_id=row["conversation"],
                               order_id=row["shop_order"], deal_id=row["deal"], note=row["note"],
                               rrule=row["rrule"], remind_before=row["remind_before"], previous_id=task_id,
                               series_start=row["series_start"])
            result["next_id"] = nxt["id"]
    return result


async def update(actor: Principal | None, task_id: int, *, due_at: dt.datetime | None = None,
                 assignee_id: int | None = None, priority: int | None = None, title: str | None = None,
                 remind_before: int | None = None, status: str | None = None,
                 outcome: str | None = None) -> dict[str, Any]:
    """Reschedule, reassign, retitle, cancel (status `cancelled`) or give up on (status `missed`: the customer could
    not be reached); `status: done` completes (with `outcome`)."""
    if status == "done":
        if any(v is not None for v in (due_at, assignee_id, priority, title, remind_before)):
            raise Invalid("Complete a task on its own; change it in a separate request.", field="status")
        return await complete(actor, task_id, outcome=outcome or "")
    row = await _locked(task_id)
    _may_change(actor, row)
    if row["status"] != "open":
        raise Invalid("This task is %(status)s; only an open task can be changed.", field="status",
                      status=row["status"])
    if status is not None and status not in ("cancelled", "missed"):
        raise Invalid("status can be set to done, missed or cancelled.", field="status")
    changes: dict[Any, Any] = {Task.updated_at: now()}
    params: dict[str, Any] = {"title": row["title"]}
    new_due = _utc(due_at)
    if new_due is not None:
        check_rrule(row["rrule"], new_due)
        changes.update({Task.due_at: new_due, Task.reminded_at: None, Task.overdue_at: None, Task.routed_at: None})
    if assignee_id is not None:
        await _check_links(contact_id=row["contact"], assignee_id=assignee_id, queue_id=None, conversation_id=None,
                           order_id=None, deal_id=None)
        changes[Task.assignee] = assignee_id
    if priority is not None or title is not None or remind_before is not None:
        new_title = _check_fields(title=title if title is not None else row["title"], kind=row["kind"],
                                  priority=priority if priority is not None else row["priority"], note="",
                                  remind_before=remind_before if remind_before is not None else row["remind_before"])
        changes.update({Task.title: new_title})
        if priority is not None:
            changes[Task.priority] = priority
        if remind_before is not None:
            changes.update({Task.remind_before: remind_before, Task.reminded_at: None})
    if status in ("cancelled", "missed"):
        changes.update({Task.status: status, Task.outcome: (outcome or "").strip()[:2000], Task.completed_at: now()})
    await Task.update(changes).where(Task.id == task_id)
    if status == "cancelled":
        summary, event = N_("Task “%(title)s” cancelled"), "task_cancelled"
    elif status == "missed":
        summary, event = N_("Task “%(title)s” missed"), "task_missed"
    elif new_due is not None:
        summary, event = N_("Task “%(title)s” rescheduled"), "task_rescheduled"
    else:
        summary, event = N_("Task “%(title)s” changed"), "task_changed"
    await timeline.record(row["contact"], "system", "internal", summary, params=params, links={"task_id": task_id},
                          **_actor_fields(actor), payload={"event": event, "task_id": task_id})
    if status is not None or new_due is not None or remind_before is not None:
        await unschedule(task_id, row["due_at"])
    if status is None:
        await schedule(task_id)
    await emit(TASK_UPDATED, task_id=task_id, contact_id=row["contact"], kind=row["kind"],
               assignee_id=assignee_id if assignee_id is not None else row["assignee"], queue_id=row["queue"],
               status=status or "open")
    return await get(task_id)


async def scheduled_jobs(tenant_slug: str, entrypoints: Sequence[str] | None = None,
                         limit: int = 500) -> list[dict[str, Any]]:
    """The tenant's queued and running jobs (any domain's), the soonest first: what the scheduler will do."""
    sql = "".join((  # PgQueuer's own table name; every value is a parameter
        "SELECT id, entrypoint, status::text AS state, execute_after AS due_at, attempts, dedupe_key FROM ",
        jobs.QUEUE_TABLE, " WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 ",
        "AND status IN ('queued', 'picked', 'failed') AND ($2::text[] IS NULL OR entrypoint = ANY($2)) ",
        "ORDER BY execute_after, id LIMIT $3"))
    rows = await current_uow().connection.fetch(sql, tenant_slug, list(entrypoints) if entrypoints else None, limit)
    return [dict(r) for r in rows]


async def open_callback(task: dict[str, Any]) -> dict[str, Any] | None:
    """A callback task at its time becomes a waiting call in its queue, marked as a callback to the contact's first
    phone (routing offers it like any other item; taking it dials the customer). A contact with no phone gets no
    conversation (the task stays open and overdue shows it)."""
    phone = await ContactPhone.select(ContactPhone.e164).where(ContactPhone.contact == task["contact"]).order_by(
        ContactPhone.position).first()
    queue = await Queue.select(Queue.key).where(Queue.id == task["queue"]).first()
    if phone is None or queue is None:
        return None
    conversation = await conversations.open_conversation(
        channel="call", queue_key=queue["key"], contact_id=task["contact"], subject=task["title"][:300],
        from_address=phone["e164"], external_ref=f"task:{task['id']}")
    # Marked as a callback (telephony.callbacks): the console shows it as one, and taking it dials the customer.
    await Conversation.update({Conversation.callback_number: phone["e164"][:30],
                               Conversation.callback_requested_at: now()}).where(Conversation.id == conversation["id"])
    await Task.update({Task.conversation: conversation["id"]}).where(Task.id == task["id"])
    return conversation


async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's tasks become the survivor's."""
    moved = await Task.update({Task.contact: target}).where(Task.contact == source).returning(Task.id)
    return len(moved)


MERGE_STEP = MergeStep("tasks", _move_to_contact, tables=("task",))
