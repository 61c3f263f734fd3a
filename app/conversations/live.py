"""Live console: how queue events become out-of-band fragments on every console that may see them, each rendered
once per audience (realtime.render): the queue, totals and team once per role, "my conversations" only for the
users the event is about, the live calls per supervisor. An agent's state changes re-render the team and "my status"
from app.agents.live."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.conversations import queries, services
from app.conversations.console import item_context, panel_context
from app.lib.db import TenantRef, current_uow
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED, PER_USER, Memo, shared

CONSOLE_EVENTS = ("queue.item_added", "queue.item_taken", "queue.item_removed", "user.updated",
                  "call.updated", "conversation.assigned", "conversation.snoozed", "conversation.reopened",
                  "conversation.closed", "conversation.merged")


async def render_panels(tenant: TenantRef, user: Principal, *names: str) -> str:
    ctx = await panel_context(tenant, user)
    ctx.update(tenant=tenant, user=user, oob=True)
    return "".join(render_text(f"_partials/console_{name}.html", ctx) for name in names)


ITEM_EVENTS = ("queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
               "conversation.snoozed", "conversation.reopened", "conversation.closed", "conversation.merged")
"""Events about one conversation (two for a merge): the queue panel changes by that item alone."""


def item_ids(event: Event) -> list[int]:
    """The conversations an item event is about: its `conversation_id`, and the one merged away into it."""
    ids = [int(event.data.get(k) or 0) for k in ("conversation_id", "merged_id")]
    return [i for i in dict.fromkeys(ids) if i]


async def items_of(event: Event) -> list[dict[str, Any]]:
    """The rows of the event's conversations, read once per event in one query (every role's render shares it)."""
    ids = item_ids(event)
    rows: list[dict[str, Any]] = await shared(("console_items", tuple(ids)), lambda: queries.some(ids))
    for row in rows:  # what `services.get` reads for the same event (the workspace's conversation state)
        await shared(("conversation", row["id"]), lambda row=row: _ready(row))
    return rows


async def _ready(value: Any) -> Any:
    return value


@renders(*CONSOLE_EVENTS, audience=BY_ROLE)
async def console_shared(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The queue the role may see, its totals and the team's presence: the same for every console of a role. For an
    event about one conversation only what changed: that item (inserted where it belongs, replaced or deleted) and
    the counts, not the whole list."""
    if event.name in ITEM_EVENTS and item_ids(event):
        return await render_items(tenant, user, event)
    return await render_panels(tenant, user, "queue", "totals", "team")


async def render_items(tenant: TenantRef, user: Principal, event: Event) -> str:
    rows = {r["id"]: r for r in await items_of(event)}
    visible = set(await services.visible_queue_ids(user))
    shown = [r for r in rows.values() if r["status"] == "waiting" and r["queue_id"] in visible]
    out = []
    if shown:
        ctx = await item_context(tenant, user, shown)
        for c in shown:  # beforeend, then realtime.js drops the older copy and sorts the list by data-order
            html = render_text("_partials/console_queue_item.html", {**ctx, "c": c})
            out.append(f'<div hx-swap-oob="beforeend:#console-queue-items">{html}</div>')
    out.extend(f'<div id="queue-item-{i}" hx-swap-oob="delete"></div>' for i in item_ids(event)
               if i not in {c["id"] for c in shown})
    stats = await services.stats(user)
    counts = {"tenant": tenant, "user": user, "oob": True, "stats": stats}
    out.append(render_text("_partials/console_queue_count.html", {**counts, "count": stats["waiting"]}))
    out.extend(render_text("_partials/console_queue_count_of.html", {**counts, "q": q}) for q in stats["queues"])
    out.append(render_text("_partials/console_totals.html", counts))
    return "".join(out)


@renders(*CONSOLE_EVENTS, audience=CONCERNED)
async def console_mine(event: Event, tenant: TenantRef, user: Principal) -> str:
    """ "My conversations", for the operators the event is about (its `user:N` topics: who has it, who had it)."""
    return await render_panels(tenant, user, "mine")


async def handler_of(event: Event, memo: Memo) -> list[int]:
    """`Audience.users` for events about one conversation (`conversation_id`): the operator handling it while it is
    open, loaded once per event (chat panes, "my conversations" on a new email)."""
    conversation_id = int(event.data.get("conversation_id") or 0)
    if not conversation_id:
        return []
    who = await memo.get(("handler", conversation_id), lambda: current_uow().connection.fetchval(
        "SELECT assigned_to FROM conversation WHERE id = $1 AND status <> 'closed'", conversation_id))
    return [who] if who else []


def _supervises(user: Principal) -> bool:
    return user.has_role("supervisor")


@renders("call.updated", "queue.item_added", "queue.item_taken", "queue.item_removed",
         audience=PER_USER.but(only=_supervises))
async def console_live_calls(event: Event, tenant: TenantRef, user: Principal) -> str:
    """Every live call of the team, for supervisors (each sees which line is their own to leave): the channels'
    console extras for no item at all (the live calls are everyone's), read once per event for every supervisor."""
    ctx = dict(await shared("live_calls", lambda: item_context(tenant, user, [], domains=False)))
    ctx.update(tenant=tenant, user=user, oob=True)
    return render_text("_partials/console_live_calls.html", ctx)
