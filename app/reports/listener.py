"""The durable listener that keeps the reporting facts. Each event about a conversation appends its steps to the
conversation's journal (report_step: what happened and when, as the spine told it) and re-projects that
conversation's facts and the rollups they touch (app.reports.facts.project), in the unit of work that moves the
listener's cursor. Handling an event twice adds no step and projects the same facts; `switchboard reports rebuild`
projects every conversation the same way, so a rebuild equals the live facts.

What each event adds: `queue.item_added` queued (in its queue); `queue.item_taken` taken (by the payload's user,
else the conversation's operator: a transfer to a colleague names no user); `conversation.assigned` taken by the
colleague, or queued in the new queue when moved; `routing.overflowed` overflowed into the other queue;
`queue.item_removed` removed (with the wrap-up code: abandoned, callback-cancelled or the disposition);
`conversation.closed` closed; `call.updated` hold / resume (its `on_hold`) and ended (when the call's conversation
has an end time); `call.callback_requested` callback; `conversation.snoozed` / `conversation.reopened`. Offers
(`routing.offered`, `routing.offer_closed`) re-project only: the routing_offer rows are their history.

When a projection changed what a queue's visits count (offered, answered, abandoned, waits), the listener emits
`reports.facts_changed` {queue_id} on the console channel: the wallboard, which reads its service level and
abandons from these facts, redraws with them (it rendered on the event itself, before they were written)."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow
from app.reports import events, facts
from app.reports.facts import Step
from realtime.durable import DurableListener
from realtime.events import Event
from realtime.publish import emit

EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
                    "conversation.snoozed", "conversation.reopened", "conversation.closed", "conversation.merged",
                    "routing.offered", "routing.offer_closed", "routing.overflowed", "call.updated",
                    "call.callback_requested"})


async def _last_hold(conversation_id: int) -> bool:
    kind = await current_uow().connection.fetchval(
        "SELECT kind FROM report_step WHERE conversation = $1 AND kind IN ('hold', 'resume') "
        "ORDER BY at DESC, event_id DESC LIMIT 1", conversation_id)
    return kind == "hold"


async def _has_step(conversation_id: int, kind: str) -> bool:
    return bool(await current_uow().connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM report_step WHERE conversation = $1 AND kind = $2)", conversation_id, kind))


async def steps_of_event(event: Event, conv: dict[str, Any]) -> list[Step]:
    """The journal steps one event adds to its conversation (none for events that only re-project)."""
    data, at, name = event.data, event.at, event.name
    queue = data.get("queue_id")
    if name == "queue.item_added":
        return [Step("queued", at, queue)]
    if name == "queue.item_taken":
        return [Step("taken", at, queue, data.get("user_id") or conv["assigned_to"])]
    if name == "conversation.assigned":
        return [Step("taken", at, queue, data["user_id"])] if data.get("user_id") else [Step("queued", at, queue)]
    if name == "routing.overflowed":
        return [Step("overflowed", at, data.get("to_queue_id"))]
    if name == "queue.item_removed":
        return [Step("removed", at, queue, detail=conv["wrapup_code"] or "")]
    if name == "conversation.closed":
        return [Step("closed", at, queue, detail=data.get("reason") or "")]
    if name == "conversation.snoozed":
        return [Step("snoozed", at)]
    if name == "conversation.reopened":
        return [Step("reopened", at, detail=data.get("reason") or "")]
    if name == "call.callback_requested":
        return [Step("callback", at, queue)]
    if name == "call.updated":
        out: list[Step] = []
        on_hold = data.get("on_hold")
        if on_hold is not None and bool(on_hold) != await _last_hold(conv["id"]):
            out.append(Step("hold" if on_hold else "resume", at))
        if conv["ended_at"] is not None and conv["channel"] == "call" and not await _has_step(conv["id"], "ended"):
            out.append(Step("ended", conv["ended_at"]))
        return out
    return []


async def on_event(event: Event) -> None:
    conversation_id = event.data.get("conversation_id")
    if not conversation_id:
        return
    conv = await facts.conversation(int(conversation_id))
    if conv is None:
        return
    steps = await steps_of_event(event, conv)
    if steps and steps[0].kind not in ("queued", "taken") and not await facts.steps_of(conv["id"]):
        # A conversation from before the journal: what its row tells about its start comes first.
        seed = [s for s in await facts.synthesised_steps(conv)
                if s.kind in ("queued", "taken", "hold", "resume") and s.at <= event.at]
        await facts.record(conv["id"], 0, seed)
    await facts.record(conv["id"], event.id, steps)
    changed = await facts.project(conv["id"])
    merged = event.data.get("merged_id")
    if merged:
        changed |= await facts.project(int(merged))
    for queue_id in sorted({key[1] for key in changed if key[4].startswith("queue_")}):
        # The wallboard read these facts before they were written (it renders on the same event): it redraws now.
        await emit(events.FACTS_CHANGED, queue_id=queue_id)


LISTENER = DurableListener("reports.facts", on_event, EVENTS,
                           "Writes the reporting facts of a conversation (queue visits, agent legs, response and "
                           "resolution, offers) and their 15-minute rollups.")
