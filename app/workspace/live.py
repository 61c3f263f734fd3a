"""Live workspace: new thread items, the left list, "Olga is replying" and mentions, pushed as out-of-band
fragments over the page's one socket (the card's sections and recent timeline come from app.contacts.live)."""

from __future__ import annotations

from typing import Any

from app import channels
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.conversations import live as console_live
from app.conversations import services as conversations
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import NotFound
from app.lib.templates import render_text
from app.workspace import services
from realtime import renders
from realtime.events import Event
from realtime.render import BATCH, BY_ROLE, CONCERNED, Memo, concerned_users


@renders("interaction.created", audience=BY_ROLE)
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


@renders("message.status_changed", audience=BY_ROLE)
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


LIST_EVENTS = ("queue.item_added", "queue.item_taken", "queue.item_removed", "conversation.assigned",
               "conversation.snoozed", "conversation.reopened", "conversation.closed", "conversation.merged")


def _list_changes(event: Event) -> bool:
    return event.name != "interaction.created" or event.data.get("channel") in channels.KEYS


@renders(*LIST_EVENTS, audience=BY_ROLE)
async def left_queue(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The queue part of the left list: the same for every console of a role (unread counts follow per user). An
    event about one conversation sends that item alone (inserted in order, replaced or deleted) and the count."""
    if event.name in console_live.ITEM_EVENTS and console_live.item_ids(event):
        rows = await console_live.items_of(event)
        visible = set(await conversations.visible_queue_ids(user))
        shown = [c for c in rows if c["status"] == "waiting" and c["queue_id"] in visible]
        ctx = {"kind": "queue", "tenant": tenant, "selected": None}
        out = [f'<div hx-swap-oob="beforeend:#ws-list-queue-items">'
               f'{render_text("_partials/ws_list_item.html", {**ctx, "c": c})}</div>' for c in shown]
        out.extend(f'<div id="ws-queue-item-{i}" hx-swap-oob="delete"></div>'
                   for i in console_live.item_ids(event) if i not in {c["id"] for c in shown})
        waiting = (await conversations.stats(user))["waiting"]
        out.append(f'<span class="muted" id="ws-list-count-queue" hx-swap-oob="true">{waiting}</span>')
        return "".join(out)
    ctx = {"waiting": await conversations.waiting(user), "mine": [], "now": None}
    return render_text("_partials/ws_list_part.html", {**ctx, "kind": "queue", "tenant": tenant, "oob": True})


@renders(*LIST_EVENTS, audience=CONCERNED)
async def left_mine(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """ "My conversations" of the left list, for the operators the event is about."""
    ctx = {"waiting": [], "mine": await conversations.mine(user), "now": None}
    return render_text("_partials/ws_list_part.html", {**ctx, "kind": "mine", "tenant": tenant, "oob": True})


@renders(*LIST_EVENTS, "interaction.created", audience=BATCH)
async def left_unread(event: Event, tenant: TenantRef, viewers: list[Principal]) -> dict[int, str]:
    """Each user's unread counts on the items of their left list, for every user at once (one query for the
    queue each role sees, one for everyone's own, one for the counts)."""
    if not _list_changes(event):
        return {}
    if event.name in console_live.ITEM_EVENTS and console_live.item_ids(event):
        return await _item_unread(event, viewers)
    roles = {v.role: v for v in viewers}
    waiting = {role: await conversations.waiting(v.as_audience(role)) for role, v in roles.items()}
    mine = await conversations.mine_of([v.user_id for v in viewers])
    listed = [*waiting.values(), *mine.values()]
    ids = sorted({c["id"] for rows in listed for c in rows})
    counts = await services.unread_by_user([v.user_id for v in viewers], ids)
    out = {}
    for v in viewers:
        rows = [*waiting[v.role], *mine.get(v.user_id, [])]
        out[v.user_id] = "".join(render_text("_partials/ws_unread.html", {
            "c": {"id": c["id"], "unread": counts.get((v.user_id, c["id"]), 0)}, "oob": True}) for c in rows)
    return out


async def _item_unread(event: Event, viewers: list[Principal]) -> dict[int, str]:
    """Unread counts after an event about one conversation: only the items it put in each user's list (its queue
    item, or it in their own list), plus their whole own list when "mine" was rendered again for them."""
    rows = await console_live.items_of(event)
    concerned = concerned_users(event) & {v.user_id for v in viewers}
    mine = await conversations.mine_of(sorted(concerned)) if concerned else {}
    wanted: dict[int, list[int]] = {}
    for v in viewers:
        visible = set(await conversations.visible_queue_ids(v.as_audience(v.role)))
        ids = [c["id"] for c in rows if (c["status"] == "waiting" and c["queue_id"] in visible)
               or (c["assigned_to_id"] == v.user_id and c["status"] in ("active", "wrapup"))]
        ids += [c["id"] for c in mine.get(v.user_id, [])]
        wanted[v.user_id] = list(dict.fromkeys(ids))
    ids = sorted({i for got in wanted.values() for i in got})
    if not ids:
        return {}
    counts = await services.unread_by_user([v.user_id for v in viewers], ids)
    return {uid: "".join(render_text("_partials/ws_unread.html", {
        "c": {"id": i, "unread": counts.get((uid, i), 0)}, "oob": True}) for i in got)
        for uid, got in wanted.items() if got}


def _concerned(event: Event, viewer: Principal) -> bool:
    return viewer.user_id in concerned_users(event)


@renders("call.updated", "queue.item_taken", "queue.item_removed", "queue.item_added",
         audience=BY_ROLE.but(skip=_concerned))
async def conversation_state(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """The open conversation's status badge and, for a call, its controls (ringing, in progress, on hold, ended),
    for whoever may see it; pages without that conversation open ignore the fragment. Rendered once per role, and
    apart for the operators the event is about (their own line of a call: `conversation_state_mine`)."""
    return await _conversation_state(event, tenant, user)


@renders("call.updated", "queue.item_taken", "queue.item_removed", "queue.item_added", audience=CONCERNED)
async def conversation_state_mine(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    return await _conversation_state(event, tenant, user)


async def _conversation_state(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    try:
        row = await services.conversation_for(user, int(event.data["conversation_id"]))
    except NotFound:
        return None
    ctx: dict[str, Any] = {"conv": row, "tenant": tenant, "user": user, "oob": True}
    if row["channel"] == "call":
        ctx.update(await services.channel_extras(row, user))
        ctx["queues"] = [q for q in await conversations.queues() if conversations.visible(q, user)]
    return render_text("_partials/ws_call.html", ctx)


def _is_typist(event: Event, viewer: Principal) -> bool:
    return int(event.data["user_id"]) == viewer.user_id


@renders("workspace.typing", audience=BY_ROLE.but(skip=_is_typist))
async def typing(event: Event, tenant: TenantRef, user: Principal) -> str | None:
    """ "Olga is replying" for the teammates who may see the conversation, never for the one typing."""
    who = int(event.data["user_id"])
    try:
        await services.conversation_for(user, int(event.data["conversation_id"]))
    except NotFound:
        return None
    typist = next((u for u in await accounts.list_users() if u["id"] == who), None)
    if typist is None:
        return None
    return render_text("_partials/ws_typing.html", {"conversation_id": event.data["conversation_id"],
                                                    "name": typist["name"] or typist["email"], "oob": True})


async def _mentioned_user(event: Event, memo: Memo) -> list[int]:
    return [int(event.data["user_id"])]


@renders("workspace.mentioned", audience=CONCERNED.but(users=_mentioned_user))
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
