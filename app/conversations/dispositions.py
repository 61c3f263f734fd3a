"""Wrap-up per queue: the disposition codes admins offer (code, label, position), whether a code is required, and
how long an operator stays in wrap-up afterwards. With a required code, an operator whose call ended and is not
wrapped up takes no new work (`take` refuses with 409; app.agents shows them in `wrapup`, so routing skips them)."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import Principal
from app.audit import services as audit
from app.conversations.tables import Disposition, Queue
from app.lib.db import current_uow
from app.lib.errors import Conflict, Invalid, NotFound

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
MAX_WRAPUP_SECONDS = 3600
SUGGESTED = ("resolved", "order_placed", "callback", "no_answer", "spam")
"""Offered on a queue that defines no codes of its own (any short code is accepted there)."""

_PENDING = """
SELECT c.id, q.name AS queue_name FROM conversation c JOIN queue q ON q.id = c.queue
WHERE c.assigned_to = $1 AND q.wrapup_required
  AND (c.status = 'wrapup' OR (c.status = 'active' AND c.ended_at IS NOT NULL))
ORDER BY c.id LIMIT 1
"""


async def _queue(key: str) -> dict[str, Any]:
    row = await Queue.select().where(Queue.key == key).first()
    if row is None:
        raise NotFound("No queue %(key)s.", key=repr(key))
    return row


async def of_queue(queue_id: int) -> list[dict[str, Any]]:
    """The queue's codes in the order admins set."""
    return await Disposition.select(Disposition.id, Disposition.code, Disposition.label, Disposition.position).where(
        Disposition.queue == queue_id).order_by(Disposition.position).order_by(Disposition.id)


async def by_queue(queue_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Codes per queue for a wrap-up form of several conversations (one query)."""
    rows = await Disposition.select(Disposition.queue.as_alias("queue_id"), Disposition.code, Disposition.label,
                                    Disposition.position).where(Disposition.queue.is_in(queue_ids or [0])).order_by(
        Disposition.position).order_by(Disposition.id)
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["queue_id"], []).append(row)
    return out


async def list_for(key: str) -> list[dict[str, Any]]:
    return await of_queue((await _queue(key))["id"])


def _checked(code: str, label: str, position: int | None) -> tuple[str, str, int | None]:
    code = (code or "").strip().lower()
    if not CODE_RE.match(code):
        raise Invalid("The code must be 1 to 50 characters: lowercase letters, digits, _ . and -.", field="code")
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise Invalid("The label must be 1 to 100 characters.", field="label")
    if position is not None and not 0 <= position <= 10_000:
        raise Invalid("The position must be 0 to 10000.", field="position")
    return code, label, position


async def add(actor: Principal, key: str, *, code: str, label: str, position: int | None = None) -> dict[str, Any]:
    queue = await _queue(key)
    code, label, position = _checked(code, label, position)
    if await Disposition.exists().where((Disposition.queue == queue["id"]) & (Disposition.code == code)):
        raise Conflict("Queue %(queue)s has the code %(code)s already.", field="code", queue=queue["name"], code=code)
    if position is None:
        last = await Disposition.select(Disposition.position).where(Disposition.queue == queue["id"]).order_by(
            Disposition.position, ascending=False).first()
        position = (last["position"] + 1) if last else 0
    await Disposition.insert(Disposition(queue=queue["id"], code=code, label=label, position=position))
    await audit.record("queue.disposition_added", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=key, detail={"code": code, "label": label, "position": position})
    return await _one(queue["id"], code)


async def update(actor: Principal, key: str, code: str, *, label: str | None = None,
                 position: int | None = None) -> dict[str, Any]:
    queue = await _queue(key)
    row = await _one(queue["id"], code)
    _, new_label, position = _checked(code, row["label"] if label is None else label, position)
    changes: dict[Any, Any] = {Disposition.label: new_label}
    if position is not None:
        changes[Disposition.position] = position
    await Disposition.update(changes).where(Disposition.id == row["id"])
    await audit.record("queue.disposition_updated", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=key, detail={"code": code, "label": new_label, "position": position})
    return await _one(queue["id"], code)


async def remove(actor: Principal, key: str, code: str) -> None:
    queue = await _queue(key)
    row = await _one(queue["id"], code)
    await Disposition.delete().where(Disposition.id == row["id"])
    await audit.record("queue.disposition_removed", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=key, detail={"code": code})


async def _one(queue_id: int, code: str) -> dict[str, Any]:
    row = await Disposition.select(Disposition.id, Disposition.code, Disposition.label, Disposition.position).where(
        (Disposition.queue == queue_id) & (Disposition.code == (code or "").strip().lower())).first()
    if row is None:
        raise NotFound("No disposition code %(code)s on this queue.", code=code)
    return row


def checked_settings(wrapup_seconds: int | None, wrapup_required: bool | None) -> dict[Any, Any]:
    """The queue columns a change of wrap-up settings writes (update_queue calls it)."""
    changes: dict[Any, Any] = {}
    if wrapup_seconds is not None:
        if not 0 <= wrapup_seconds <= MAX_WRAPUP_SECONDS:
            raise Invalid("Wrap-up time must be 0 to %(max)s seconds.", field="wrapup_seconds",
                          max=MAX_WRAPUP_SECONDS)
        changes[Queue.wrapup_seconds] = wrapup_seconds
    if wrapup_required is not None:
        changes[Queue.wrapup_required] = wrapup_required
    return changes


async def check_code(queue_id: int, code: str) -> dict[str, Any] | None:
    """The disposition a wrap-up names: one of the queue's codes when it defines any (else None: any short code)."""
    codes = await of_queue(queue_id)
    if not codes:
        return None
    for row in codes:
        if row["code"] == code:
            return row
    raise Invalid("Choose one of this queue's disposition codes: %(codes)s.", field="code",
                  codes=", ".join(r["code"] for r in codes))


async def pending(user_id: int) -> dict[str, Any] | None:
    """The conversation `user_id` must wrap up before new work: assigned to them, ended (a call hung up) or in
    wrap-up, in a queue that requires a disposition code. None when there is none."""
    row = await current_uow().connection.fetchrow(_PENDING, user_id)
    return dict(row) if row else None


async def refuse_new_work(user_id: int) -> None:
    """409 while `user_id` has a conversation to wrap up with a required code (take and hand-assignment call it)."""
    row = await pending(user_id)
    if row is not None:
        raise Conflict("Wrap up conversation #%(id)s first: queue %(queue)s requires a disposition code before you "
                       "take new work.", extra={"pending_wrapup": row["id"]}, id=row["id"], queue=row["queue_name"])


async def close_allowed(row: dict[str, Any]) -> None:
    """Closing without a code is refused in a queue that requires one (the wrap-up form closes with a code)."""
    queue = await Queue.select(Queue.name, Queue.wrapup_required).where(Queue.id == row["queue_id"]).first()
    if queue and queue["wrapup_required"]:
        raise Conflict("Queue %(queue)s requires a disposition code: wrap this conversation up with a code to close "
                       "it.", field="code", queue=queue["name"])
