"""Tasks JSON API under /t/{slug}/api/v1: create, list with filters, read, complete/cancel/reschedule; and the
tenant's scheduled jobs (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import JSONBody, Parameter

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.lib.db import current_tenant
from app.lib.errors import Invalid
from app.lib.wire import PathId, QueryId
from app.tasks import services
from app.tasks.schemas import ScheduledJobOut, TaskIn, TaskOut, TaskPatch

Req = Request[Principal, Any, Any]


def task_out(row: dict[str, Any]) -> TaskOut:
    return to_struct(TaskOut, row)


def assignee_of(request: Req, assignee: str | None) -> int | None:
    """`me`, a user id, or nothing (everyone's)."""
    if assignee in (None, ""):
        return None
    if assignee == "me":
        return request.user.user_id
    if assignee.isdigit() and 0 < int(assignee) < 2**31:
        return int(assignee)
    raise Invalid("assignee must be `me` or a user id.", field="assignee")


class TasksApi(Controller):
    path = "/api/v1"
    tags = ["tasks"]
    guards = [signed_in]

    @get("/tasks", summary="Tasks by status, assignee (`me` or an id), kind, contact and due range")
    async def list_tasks(
        self, request: Req,
        status: Annotated[str | None, Parameter(description="open | done | cancelled | missed")] = None,
        assignee: Annotated[str | None, Parameter(description="`me` or a user id")] = None,
        kind: Annotated[str | None, Parameter(description="callback | follow_up | todo")] = None,
        contact_id: QueryId = None, queue_id: QueryId = None,
        due_from: Annotated[dt.datetime | None, Parameter(description="Due at or after (ISO 8601 with offset)")] = None,
        due_to: Annotated[dt.datetime | None, Parameter(description="Due before (ISO 8601 with offset)")] = None,
    ) -> list[TaskOut]:
        rows = await services.search(status=status, assignee_id=assignee_of(request, assignee), kind=kind,
                                     contact_id=contact_id, queue_id=queue_id, due_from=due_from, due_to=due_to)
        return [task_out(r) for r in rows]

    @post("/tasks", summary="Create a task (a reminder is scheduled remind_before minutes before due_at)")
    async def create(self, request: Req, data: JSONBody[TaskIn]) -> TaskOut:
        return task_out(await services.create(
            request.user, contact_id=data.contact_id, title=data.title, kind=data.kind, due_at=data.due_at,
            assignee_id=data.assignee_id, queue_id=data.queue_id, priority=data.priority,
            conversation_id=data.conversation_id, order_id=data.order_id, deal_id=data.deal_id, note=data.note,
            rrule=data.rrule, remind_before=data.remind_before))

    @get("/tasks/{task_id:int}")
    async def read(self, task_id: PathId) -> TaskOut:
        return task_out(await services.get(task_id))

    @patch("/tasks/{task_id:int}", summary="Complete (status done, outcome), cancel, reschedule or reassign")
    async def change(self, request: Req, task_id: PathId, data: JSONBody[TaskPatch]) -> TaskOut:
        fields = data.changes()
        if not fields:
            raise Invalid("Send at least one of: status, outcome, due_at, assignee_id, priority, remind_before, "
                          "title.")
        return task_out(await services.update(request.user, task_id, **fields))

    @get("/scheduled-jobs", guards=[requires("admin")],
         summary="What the scheduler will run for this workspace: queued, running and held jobs, soonest first")
    async def scheduled(self) -> list[ScheduledJobOut]:
        return [to_struct(ScheduledJobOut, r) for r in await services.scheduled_jobs(current_tenant().slug)]
