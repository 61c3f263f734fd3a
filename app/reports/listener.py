"""The durable listener that keeps the reporting facts: every event that changes a conversation's queue, handling,
call, offers or closing re-projects that conversation's facts (app.reports.facts.project), in the same unit of work
that moves the listener's cursor. The projection reads the conversation's own history (conversation row, offers,
timeline items, call, SLA clocks), so handling an event twice, late, or replaying all of history
(`switchboard reports rebuild`) yields the same rows as the live run."""

from __future__ import annotations

from app.reports import facts
from realtime.durable import DurableListener
from realtime.events import Event

EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
                    "conversation.snoozed", "conversation.reopened", "conversation.closed", "conversation.merged",
                    "routing.offered", "routing.offer_closed", "routing.overflowed", "call.updated",
                    "call.callback_requested", "call.callback_cancelled", "sla.clocks_changed"})


async def on_event(event: Event) -> None:
    conversation_id = event.data.get("conversation_id")
    if conversation_id:
        await facts.project(int(conversation_id))
    merged = event.data.get("merged_id")
    if merged:
        await facts.project(int(merged))


LISTENER = DurableListener("reports.facts", on_event, EVENTS,
                           "Writes the reporting facts of a conversation (queue visits, agent legs, response and "
                           "resolution, offers) and their 15-minute rollups.")
