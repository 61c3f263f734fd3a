"""Routing's jobs and durable listeners: the router run per queue, an offer's timeout, an item's overflow check, and
the reactions to queue and agent events that set them off."""

from __future__ import annotations

from typing import Any

from app.lib.db import resolve_active, tenant_context
from app.routing import services
from realtime.events import Event

ROUNDS = 40
"""Routing transactions one job runs at most (each offers up to services.BATCH items) before it re-queues itself."""


async def route(payload: dict[str, Any]) -> None:
    """Job: route a queue, one short transaction after another, until nothing more can be offered."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    queue_id = int(payload["queue_id"])
    for _ in range(ROUNDS):
        async with tenant_context(tenant):
            made = await services.route(queue_id)
        if not made:
            return
    async with tenant_context(tenant):
        await services.kick(queue_id)


async def offer_timeout(payload: dict[str, Any]) -> None:
    """Job, once at the offer's expiry: still pending → timeout, a miss counted, the item routed again."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await services.expire(int(payload["offer_id"]))


async def overflow(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        await services.overflow(int(payload["conversation_id"]), int(payload["queue_id"]))


# -- durable listeners (the worker runs them inside the tenant's unit of work) -------------------------------------

ITEM_EVENTS = frozenset({"queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
                         "conversation.snoozed", "conversation.reopened", "conversation.closed"})


async def on_item(event: Event) -> None:
    """A queue item came, went or changed hands: an offer for an item no longer waiting closes; new or freed work
    is routed (a closed or moved item freed its agent's room: every routed queue gets a turn)."""
    conversation_id = int(event.data.get("conversation_id") or 0)
    if conversation_id:
        await services.withdraw_for_item(conversation_id)
    if event.name == "queue.item_added" and event.data.get("queue_id"):
        await services.new_item(conversation_id, int(event.data["queue_id"]))
    elif event.name in ("conversation.reopened", "conversation.assigned") and event.data.get("queue_id"):
        await services.kick(int(event.data["queue_id"]))
        if event.name == "conversation.assigned":
            await services.kick_all()
    else:
        await services.kick_all()


async def on_agent(event: Event) -> None:
    """An agent's state changed: leaving work (away, offline, wrap-up) withdraws their offers; becoming available
    routes the waiting items (the backlog is offered when agents come online)."""
    state = event.data["state"]
    if state not in services.OPEN_AGENT_STATES:
        await services.withdraw_for_agent(int(event.data["user_id"]), f"went_{state}")
    else:
        await services.kick_all()


async def on_offer_answered(event: Event) -> None:
    """The agent answered the phone that rang for a call offered to them: the offer is accepted as them."""
    await services.accept_answered(int(event.data["offer_id"]), int(event.data["conversation_id"]),
                                   int(event.data["user_id"]))
