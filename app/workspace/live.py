"""Live workspace: new thread items, the left list, "Olga is replying" and mentions, pushed as out-of-band
fragments over the page's one socket (the card's sections and recent timeline come from app.contacts.live)."""

from __future__ import annotations

from typing import Any

from app import channels
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.conversations import services as conversations
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import NotFound
from app.lib.templates import render_text
from app.workspace import services
from realtime import renders
from realtime.events import Event


@renders("interaction.created")
async def thread_item(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """A new item of a client's thread, appended to that client's open thread (only pages that show it have the
    target; a card page watching the same contact ignores it)."""
    if f"contact:{event.data.get('contact_id')}" not in event.channels or not event.data.get("interaction_id"):
        return None
    item = await services.thread_item(int(event.data["interaction_id"]))
    if item is None:
        return None
    html = render_text("_partials/ws_thread_items.html", {"items": [item], "tenant": tenant, "user": user})
    return f'<div hx-swap-oob="beforeend:#ws-thread-{item["contact_id"]}">{html}</div>'


@renders("message.status_changed")
async def delivery(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """Sent, delivered, failed: the client's newest outbound items of the open thread, replaced in place."""
    if f"contact:{event.data.get('contact_id')}" not in event.channels:
        return None
    items, _ = await services.thread(int(event.data["contact_id"]), limit=10)
    items = [i for i in items if i["direction"] == "out"]
    if not items:
        return None
    return render_text("_partials/ws_thread_items.html", {"items": items, "tenant": tenant, "user": user,
                                                          "oob_each": True})


@renders("queue.item_added", "queue.item_taken", "queue.item_removed", "interaction.created")
async def left_list(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The queue and my conversations with fresh unread counts."""
    if event.name == "interaction.created" and event.data.get("channel") not in channels.KEYS:
        return None
    ctx = await services.left_list(user)
    return render_text("_partials/ws_list.html", {**ctx, "tenant": tenant, "user": user, "oob": True})


@renders("call.updated", "queue.item_taken", "queue.item_removed", "queue.item_added")
async def conversation_state(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The open conversation's status badge and, for a call, its controls (ringing, in progress, on hold, ended),
    for whoever may see it; pages without that conversation open ignore the fragment."""
    try:
        row = await services.conversation_for(user, int(event.data["conversation_id"]))
    except NotFound:
        return None
    ctx: dict[str, Any] = {"conv": row, "tenant": tenant, "user": user, "oob": True}
    if row["channel"] == "call":
        ctx.update(await services.channel_extras(row, user))
        ctx["queues"] = [q for q in await conversations.queues() if conversations.visible(q, user)]
    return render_text("_partials/ws_call.html", ctx)


@renders("workspace.typing")
async def typing(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """ "Olga is replying" for the teammates who may see the conversation, never for the one typing."""
    who = int(event.data["user_id"])
    if who == user.user_id:
        return None
    try:
        await services.conversation_for(user, int(event.data["conversation_id"]))
    except NotFound:
        return None
    typist = next((u for u in await accounts.list_users() if u["id"] == who), None)
    if typist is None:
        return None
    return render_text("_partials/ws_typing.html", {"conversation_id": event.data["conversation_id"],
                                                    "name": typist["name"] or typist["email"], "oob": True})


@renders("workspace.mentioned")
async def mentioned(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The mentioned teammate's list of unread mentions (home and workspace), fresh."""
    if int(event.data["user_id"]) != user.user_id:
        return None
    ctx: dict[str, Any] = {"mentions": await services.mentions(user.user_id), "tenant": tenant, "user": user,
                           "oob": True}
    return render_text("_partials/ws_mentions.html", ctx)


async def on_typing(tenant: TenantRef, user: Any, value: Any) -> None:
    """The socket message `{"typing": <conversation id>}` from a reply or note box."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        async with tenant_context(tenant):
            await services.typing(tenant.slug, user, value)
