"""SLA policies: who they apply to and their targets; admins edit them, clocks copy them when they start.

Matching: a policy names a queue, a channel and a priority, each optional (empty = any). A conversation gets the
matching policy that is most specific, counting queue before channel before priority (a queue-only policy beats a
channel-and-priority one: weights 4, 2, 1). A combination exists once (unique index), so there is never a tie. The
winning policy applies whole: a target it leaves empty starts no clock for that metric, even if a broader policy
has one.
"""

from __future__ import annotations

from typing import Any

from app import channels
from app.accounts.services import Principal
from app.audit import services as audit
from app.conversations.tables import Queue
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.sla.schemas import PolicyIn
from app.sla.tables import MAX_TARGET, METRIC_LABELS, METRICS, PAUSE_STATUSES, SlaPolicy

_COLUMNS = """p.id, p.name, q.key AS queue, p.queue AS queue_id, p.channel, p.priority, p.first_response_seconds,
    p.next_response_seconds, p.resolution_seconds, p.business_hours, p.pause_statuses, p.warn_percent, p.updated_at"""


async def list_policies() -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(
        f"SELECT {_COLUMNS} FROM sla_policy p LEFT JOIN queue q ON q.id = p.queue "  # noqa: S608
        "ORDER BY p.queue IS NULL, q.position, p.channel NULLS LAST, p.priority NULLS LAST, p.id")
    return [dict(r) for r in rows]


async def get(policy_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        f"SELECT {_COLUMNS} FROM sla_policy p LEFT JOIN queue q ON q.id = p.queue WHERE p.id = $1",  # noqa: S608
        policy_id)
    if row is None:
        raise NotFound("No SLA policy %(policy_id)s.", policy_id=policy_id)
    return dict(row)


async def match(queue_id: int | None, channel: str | None, priority: int) -> dict[str, Any] | None:
    """The policy for a conversation (see the module's docstring), or None when none matches."""
    row = await current_uow().connection.fetchrow(
        f"SELECT {_COLUMNS} FROM sla_policy p LEFT JOIN queue q ON q.id = p.queue "  # noqa: S608
        "WHERE (p.queue IS NULL OR p.queue = $1) AND (p.channel IS NULL OR p.channel = $2) "
        "AND (p.priority IS NULL OR p.priority = $3) "
        "ORDER BY (p.queue IS NOT NULL)::int * 4 + (p.channel IS NOT NULL)::int * 2 + (p.priority IS NOT NULL)::int "
        "DESC LIMIT 1", queue_id, channel, priority)
    return dict(row) if row else None


def _admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change SLA policies.")


async def _values(data: PolicyIn) -> dict[str, Any]:
    name = data.name.strip()
    if not name or len(name) > 100:
        raise Invalid("The name must be 1 to 100 characters.", field="name")
    queue_id = None
    if data.queue:
        queue = await Queue.select(Queue.id).where(Queue.key == data.queue).first()
        if queue is None:
            raise Invalid("Unknown queue %(key)s.", field="queue", key=repr(data.queue))
        queue_id = queue["id"]
    if data.channel and data.channel not in channels.KEYS:
        raise Invalid("channel must be one of: %(choices)s.", field="channel", choices=", ".join(channels.KEYS))
    bad = [s for s in data.pause_statuses if s not in PAUSE_STATUSES]
    if bad:
        raise Invalid("A clock can pause on %(choices)s, not %(bad)s.", field="pause_statuses",
                      choices=", ".join(PAUSE_STATUSES), bad=repr(bad[0]))
    targets = {m: getattr(data, f"{m}_seconds") for m in METRICS}
    if all(t is None for t in targets.values()):
        raise Invalid("Set at least one target: first response, next response or resolution.",
                      field="first_response_seconds")
    for metric, seconds in targets.items():
        if seconds is not None and not 1 <= seconds <= MAX_TARGET:
            raise Invalid("%(metric)s: the target must be 1 second to 366 days.", field=f"{metric}_seconds",
                          metric=i18n.gettext(METRIC_LABELS[metric]))
    if not 1 <= data.warn_percent <= 99:
        raise Invalid("The warning share must be 1 to 99 per cent.", field="warn_percent")
    return {"name": name, "queue": queue_id, "channel": data.channel or None, "priority": data.priority,
            "first_response_seconds": data.first_response_seconds,
            "next_response_seconds": data.next_response_seconds, "resolution_seconds": data.resolution_seconds,
            "business_hours": data.business_hours, "pause_statuses": list(dict.fromkeys(data.pause_statuses)),
            "warn_percent": data.warn_percent}


async def _clash(values: dict[str, Any], policy_id: int | None) -> None:
    other = await current_uow().connection.fetchval(
        "SELECT name FROM sla_policy WHERE coalesce(queue, 0) = coalesce($1::int, 0) "
        "AND coalesce(channel, '') = coalesce($2::varchar, '') "
        "AND coalesce(priority, -2147483648) = coalesce($3::int, -2147483648) AND id <> $4",
        values["queue"], values["channel"], values["priority"], policy_id or 0)
    if other is not None:
        raise Conflict("The policy %(name)s already covers this queue, channel and priority: edit that one.",
                       field="queue", name=repr(other))


async def create(actor: Principal, data: PolicyIn) -> dict[str, Any]:
    _admin(actor)
    values = await _values(data)
    await _clash(values, None)
    rows = await SlaPolicy.insert(SlaPolicy(**values)).returning(SlaPolicy.id)
    await audit.record("sla_policy.created", actor_id=actor.user_id, actor=actor.label, target_type="sla_policy",
                       target_id=rows[0]["id"], detail={**values})
    return await get(rows[0]["id"])


async def update(actor: Principal, policy_id: int, data: PolicyIn) -> dict[str, Any]:
    """Change a policy. Running clocks keep the terms they started with (SlaClock copies them); only clocks that
    start from now on use the new ones."""
    _admin(actor)
    await get(policy_id)
    values = await _values(data)
    await _clash(values, policy_id)
    await SlaPolicy.update({getattr(SlaPolicy, k): v for k, v in values.items()} | {SlaPolicy.updated_at: now()}).where(
        SlaPolicy.id == policy_id)
    await audit.record("sla_policy.updated", actor_id=actor.user_id, actor=actor.label, target_type="sla_policy",
                       target_id=policy_id, detail={**values})
    return await get(policy_id)


async def delete(actor: Principal, policy_id: int) -> None:
    """Remove a policy; the clocks it started run on with their own copy of its terms."""
    _admin(actor)
    row = await get(policy_id)
    await SlaPolicy.delete().where(SlaPolicy.id == policy_id)
    await audit.record("sla_policy.deleted", actor_id=actor.user_id, actor=actor.label, target_type="sla_policy",
                       target_id=policy_id, detail={"name": row["name"]})
