"""The durable listener that drives SLA clocks from the event spine (run by the worker, once per event in effect).

What counts, by event:
- `queue.item_added`: the conversation waits in a queue: first response and resolution start (a transfer keeps
  the clocks it has).
- an agent's reply: `interaction.created` for an outbound item by a user linked to the conversation (e-mail, SMS,
  chat with a known visitor), `chat.message` going out, or `queue.item_taken` of a call (answering is the
  response): response clocks are met.
- a customer's message: an inbound item by the customer linked to the conversation, or `chat.message` coming in
  (an anonymous visitor has no timeline): after an agent's reply, a next-response clock starts.
- `conversation.snoozed` / `conversation.reopened`: pause and resume (a reopened closed conversation starts a new
  resolution cycle); `conversation.closed` and `queue.item_removed` of a closed conversation: resolution is met.
Channel events are named here, not imported: this domain sits below the channels. Every step is idempotent, so an
event seen twice (an operator's chat reply is both a timeline item and a chat message) changes nothing more.
"""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow
from app.sla import clocks, events
from realtime.durable import DurableListener
from realtime.events import Event
from realtime.publish import emit

EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "interaction.created",
                    "chat.message", "conversation.snoozed", "conversation.reopened", "conversation.closed"})


async def _interaction(interaction_id: int) -> dict[str, Any] | None:
    row = await current_uow().connection.fetchrow(
        "SELECT direction, actor_type, (links ->> 'conversation_id')::int AS conversation_id FROM interaction "
        "WHERE id = $1", interaction_id)
    return dict(row) if row else None


async def on_event(event: Event) -> None:
    data = event.data
    conversation_id = data.get("conversation_id")
    item: dict[str, Any] = {}
    if event.name == "interaction.created":
        item = await _interaction(int(data["interaction_id"])) or {}
        conversation_id = item.get("conversation_id")
    if not conversation_id:
        return
    conv = await clocks.conversation(int(conversation_id))
    if conv is None:
        return
    at = event.at
    changed = 0
    if event.name == "queue.item_added":
        changed = len(await clocks.start_queued(conv, at))
    elif event.name == "queue.item_taken":
        if conv["channel"] == "call":
            changed = await clocks.agent_replied(conv, at)
    elif event.name == "interaction.created":
        if item["direction"] == "out" and item["actor_type"] == "user":
            changed = await clocks.agent_replied(conv, at)
        elif item["direction"] == "in" and item["actor_type"] == "customer":
            changed = await clocks.customer_wrote(conv, at)
    elif event.name == "chat.message":
        changed = await (clocks.agent_replied if data.get("direction") == "out" else clocks.customer_wrote)(conv, at)
    elif event.name == "conversation.snoozed":
        changed = await clocks.pause(conv["id"], "snoozed", at)
    elif event.name == "conversation.reopened":
        changed = await clocks.resume(conv["id"], "snoozed", at)
        if data.get("reason") == "reopened":
            changed += await clocks.reopened(conv, at)
    elif conv["status"] == "closed":  # conversation.closed, queue.item_removed (wrapped up, abandoned)
        changed = await clocks.closed(conv["id"], conv["closed_at"] or at)
    if changed:
        await emit(events.SLA_CLOCKS_CHANGED, conversation_id=conv["id"], queue_id=conv["queue_id"])


LISTENER = DurableListener("sla.clocks", on_event, EVENTS,
                           "Starts, meets, pauses and stops the SLA clocks of conversations; schedules their warning "
                           "and breach timers.")
