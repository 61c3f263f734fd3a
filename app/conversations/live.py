"""Live console: how queue events become out-of-band fragments on every console that may see them, each rendered
once per audience (realtime.render): the queue, totals and team once per role, "my conversations" only for the
users the event is about, the live calls per supervisor. An agent's state changes re-render the team and "my status"
from app.agents.live."""

from __future__ import annotations

from app.accounts.services import Principal
from app.conversations.console import panel_context
from app.lib.db import TenantRef, current_uow
from app.lib.templates import render_text
from realtime import renders
from realtime.events import Event
from realtime.render import BY_ROLE, CONCERNED, PER_USER, Memo

CONSOLE_EVENTS = ("queue.item_added", "queue.item_taken", "queue.item_removed", "user.updated",
                  "call.updated", "conversation.assigned", "conversation.snoozed", "conversation.reopened",
                  "conversation.closed", "conversation.merged")


async def render_panels(tenant: TenantRef, user: Principal, *names: str) -> str:
    ctx = await panel_context(tenant, user)
    ctx.update(tenant=tenant, user=user, oob=True)
    return "".join(render_text(f"_partials/console_{name}.html", ctx) for name in names)


@renders(*CONSOLE_EVENTS, audience=BY_ROLE)
async def console_shared(event: Event, tenant: TenantRef, user: Principal) -> str:
    """The queue the role may see, its totals and the team's presence: the same for every console of a role."""
    return await render_panels(tenant, user, "queue", "totals", "team")


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
    """Every live call of the team, for supervisors (each sees which line is their own to leave)."""
    return await render_panels(tenant, user, "live_calls")
