"""SQL of the console's hot reads, in one round trip each (asyncpg inside the unit of work): the columns of
`services.COLUMNS` with their joins written out once, instead of Piccolo building the same joined SELECT on every
live event (building it cost more than running it). Each row also carries `order_key`, the queue's order
(`tables.waiting_order`) as a number the browser can sort by: an item pushed alone lands in its place."""

from __future__ import annotations

from typing import Any

from app.conversations.tables import PRIORITY_AGEING_SECONDS, waiting_order
from app.lib.db import current_uow

SELECT = f"""
SELECT c.id, c.contact AS contact_id, ct.name AS contact_name, c.channel, c.queue AS queue_id, q.name AS queue_name,
       q.key AS queue_key, c.status, c.subject, c.from_address, c.assigned_to AS assigned_to_id,
       u.name AS assigned_to_name, c.external_ref, c.created_at, c.taken_at, c.ended_at, c.closed_at, c.wrapup_code,
       c.wrapup_note, c.snoozed_until, c.merged_into, c.callback_number, c.callback_requested_at,
       extract(epoch FROM c.created_at)::float8 - c.priority * {PRIORITY_AGEING_SECONDS} AS order_key
FROM conversation c
LEFT JOIN contact ct ON ct.id = c.contact
LEFT JOIN queue q ON q.id = c.queue
LEFT JOIN app_user u ON u.id = c.assigned_to
"""  # noqa: S608 (constants only, no values)

_ONE = SELECT + "WHERE c.id = $1"
_SOME = SELECT + "WHERE c.id = ANY($1::int[])"
_WAITING = SELECT + f"WHERE c.status = 'waiting' AND c.queue = ANY($1::int[]) ORDER BY {waiting_order('c')}"
_MINE = SELECT + ("WHERE c.assigned_to = ANY($1::int[]) AND c.status IN ('active', 'wrapup') "
                  "ORDER BY c.taken_at, c.id")


async def one(conversation_id: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow(_ONE, conversation_id)
    return dict(row) if row is not None else None


async def some(ids: list[int]) -> list[dict[str, Any]]:
    return [dict(r) for r in await current_uow().connection.fetch(_SOME, ids)] if ids else []


async def waiting(queue_ids: list[int]) -> list[dict[str, Any]]:
    """Waiting conversations of these queues, in the queue's order."""
    return [dict(r) for r in await current_uow().connection.fetch(_WAITING, queue_ids)]


async def mine_of(user_ids: list[int]) -> list[dict[str, Any]]:
    """Active and wrap-up conversations of these operators, oldest taken first."""
    return [dict(r) for r in await current_uow().connection.fetch(_MINE, user_ids)]
