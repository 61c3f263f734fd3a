"""Task events: on the contact's card and the assignee's own channel (their "My tasks", their reminder toast)."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime import channels
from realtime.events import EventType, declare


class TaskPayload(msgspec.Struct):
    task_id: int
    contact_id: int
    kind: str
    assignee_id: int | None = None
    queue_id: int | None = None
    status: str = "open"


def card_and_assignee(data: dict[str, Any]) -> list[str]:
    topics = [channels.contact(data["contact_id"])]
    if data.get("assignee_id"):
        topics.append(channels.user(data["assignee_id"]))
    return topics


def assignee_and_supervisors(data: dict[str, Any]) -> list[str]:
    return [*card_and_assignee(data), channels.role("supervisor")]


TASK_CREATED = EventType("task.created", "A task was created (task_id, contact_id, kind, assignee_id, queue_id).",
                         TaskPayload, card_and_assignee)
TASK_UPDATED = EventType("task.updated", "A task was rescheduled, reassigned or cancelled (task_id, contact_id, "
                         "status).", TaskPayload, card_and_assignee)
TASK_COMPLETED = EventType("task.completed", "A task was done (task_id, contact_id, kind, status).", TaskPayload,
                           card_and_assignee)
TASK_DUE = EventType("task.due", "A task's reminder time was reached: the assignee is reminded (task_id, "
                     "contact_id, assignee_id).", TaskPayload, card_and_assignee)
TASK_OVERDUE = EventType("task.overdue", "A task is still open past its due time (task_id, contact_id, "
                         "assignee_id).", TaskPayload, assignee_and_supervisors)
declare(TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, TASK_DUE, TASK_OVERDUE)
