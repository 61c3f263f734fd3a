"""Queue rules: open a conversation, take it (the database decides who wins), transfer, wrap up, statistics."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app import channels
from app.accounts.services import RANK, Principal, workspace_zone
from app.accounts.tables import User
from app.audit import services as audit
from app.contacts.tables import Contact
from app.conversations import dispositions, events, queries
from app.conversations.tables import BlockedAddress, Conversation, Queue
from app.lib import i18n
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.timeline import services as timeline
from realtime.publish import emit
from realtime.render import shared as render_shared

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
LIVE_CHANNELS = channels.KEYS


# -- queues ----------------------------------------------------------------------------------------------------

async def queues(include_archived: bool = False) -> list[dict[str, Any]]:
    async def load() -> list[dict[str, Any]]:
        query = Queue.select().order_by(Queue.position).order_by(Queue.id)
        if not include_archived:
            query = query.where(Queue.archived == False)  # noqa: E712
        return await query

    # Read once per live event however many panels ask (realtime.render.shared); copies, so no caller edits another's.
    return [dict(q) for q in await render_shared(("queues", include_archived), load)]


def visible(queue: dict[str, Any], principal: Principal) -> bool:
    return not queue["roles"] or principal.role in queue["roles"] or principal.has_role("admin")


async def visible_queue_ids(principal: Principal) -> list[int]:
    return [q["id"] for q in await queues() if visible(q, principal)]


async def create_queue(actor: Principal, key: str, name: str, roles: list[str]) -> dict[str, Any]:
    key = (key or "").strip().lower()
    if not KEY_RE.match(key):
        raise Invalid("The key must be 2 to 40 characters: lowercase letters, digits and _.", field="key")
    name, roles = _name_and_roles(name, roles)
    if await Queue.exists().where(Queue.key == key):
        raise Conflict("A queue with key %(key)s exists already.", field="key", key=repr(key))
    last = await Queue.select(Queue.position).order_by(Queue.position, ascending=False).first()
    rows = await Queue.insert(Queue(key=key, name=name, roles=roles,
                                    position=(last["position"] + 1) if last else 0)).returning(Queue.id)
    await audit.record("queue.created", actor_id=actor.user_id, actor=actor.label, target_type="queue", target_id=key)
    return await Queue.select().where(Queue.id == rows[0]["id"]).first()  # type: ignore[return-value]


def _name_and_roles(name: str, roles: list[str]) -> tuple[str, list[str]]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("The name must be 1 to 100 characters.", field="name")
    bad = [r for r in roles if r not in RANK]
    if bad:
        raise Invalid("Unknown role %(bad)s; use %(choices)s.", field="roles", bad=repr(bad[0]),
                      choices=', '.join(RANK))
    return name, list(dict.fromkeys(roles))


async def update_queue(actor: Principal, key: str, *, name: str | None = None, roles: list[str] | None = None,
                       position: int | None = None, archived: bool | None = None, wrapup_seconds: int | None = None,
                       wrapup_required: bool | None = None) -> dict[str, Any]:
    """Rename, restrict to roles (empty: everyone), reorder or archive a queue, set its wrap-up (seconds after a
    close, a required disposition). An archived queue takes no new conversations and leaves the IVR; the last open
    queue cannot be archived (customers must land somewhere)."""
    row = await Queue.select().where(Queue.key == key).first()
    if row is None:
        raise NotFound("No queue %(key)s.", key=repr(key))
    new_name, new_roles = _name_and_roles(row["name"] if name is None else name,
                                          row["roles"] if roles is None else roles)
    changes: dict[Any, Any] = {Queue.name: new_name, Queue.roles: new_roles}
    if position is not None:
        if not 0 <= position <= 10_000:
            raise Invalid("The position must be 0 to 10000.", field="position")
        changes[Queue.position] = position
    if archived is not None:
        if archived and not row["archived"] and await Queue.count().where(Queue.archived == False) <= 1:  # noqa: E712
            raise Conflict("This is the only open queue: add another one before archiving it.", field="archived")
        changes[Queue.archived] = archived
    changes.update(dispositions.checked_settings(wrapup_seconds, wrapup_required))
    await Queue.update(changes).where(Queue.id == row["id"])
    await audit.record("queue.updated", actor_id=actor.user_id, actor=actor.label, target_type="queue",
                       target_id=key, detail={"name": new_name, "roles": new_roles, "position": position,
                                              "archived": archived, "wrapup_seconds": wrapup_seconds,
                                              "wrapup_required": wrapup_required})
    return await Queue.select().where(Queue.id == row["id"]).first()  # type: ignore[return-value]


async def queue_by_key(key: str) -> dict[str, Any]:
    row = await Queue.select().where((Queue.key == key) & (Queue.archived == False)).first()  # noqa: E712
    if row is None:
        raise Invalid("Unknown queue %(key)s.", field="queue", key=repr(key))
    return row


# -- conversations ---------------------------------------------------------------------------------------------

COLUMNS = (Conversation.id, Conversation.contact.as_alias("contact_id"), Conversation.contact.name.as_alias(
    "contact_name"), Conversation.channel, Conversation.queue.as_alias("queue_id"), Conversation.queue.name.as_alias(
    "queue_name"), Conversation.queue.key.as_alias("queue_key"), Conversation.status, Conversation.subject,
    Conversation.from_address, Conversation.assigned_to.as_alias("assigned_to_id"),
    Conversation.assigned_to.name.as_alias("assigned_to_name"), Conversation.external_ref, Conversation.created_at,
    Conversation.taken_at, Conversation.ended_at, Conversation.closed_at, Conversation.wrapup_code,
    Conversation.wrapup_note, Conversation.snoozed_until, Conversation.merged_into, Conversation.callback_number,
    Conversation.callback_requested_at)


async def get(conversation_id: int) -> dict[str, Any]:
    async def load() -> dict[str, Any] | None:
        return await queries.one(conversation_id)

    row = await render_shared(("conversation", conversation_id), load)  # once per live event (realtime.render)
    row = dict(row) if row is not None else None
    if row is None:
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    return row


async def open_conversation(*, channel: str, queue_key: str = "general", contact_id: int | None = None,
                            subject: str = "", from_address: str = "", external_ref: str = "",
                            actor: Principal | None = None) -> dict[str, Any]:
    """Put a new customer interaction in a queue; everyone who may see the queue is told at once."""
    if channel not in LIVE_CHANNELS:
        raise Invalid("channel must be one of: %(choices)s.", field="channel", choices=', '.join(LIVE_CHANNELS))
    queue = await queue_by_key(queue_key)
    if contact_id is not None and not await Contact.exists().where(
            (Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise Invalid("No contact %(contact_id)s.", field="contact_id", contact_id=contact_id)
    if len(subject) > 300:
        raise Invalid("The subject must be at most 300 characters.", field="subject")
    if from_address and await is_blocked(from_address):
        return await _open_blocked(channel=channel, queue_id=queue["id"], contact_id=contact_id, subject=subject,
                                   from_address=from_address, external_ref=external_ref)
    rows = await Conversation.insert(Conversation(
        contact=contact_id, channel=channel, queue=queue["id"], subject=subject.strip(), from_address=from_address,
        external_ref=external_ref)).returning(Conversation.id)
    row = await get(rows[0]["id"])
    if contact_id is not None:
        await timeline.record(contact_id, channel, "in", subject or "New %(channel)s in %(queue)s",
                              params=None if subject else {"channel": channel, "queue": queue["name"]},
                              translated=("queue",),
                              links={"conversation_id": row["id"]}, actor_type="customer",
                              payload={"queue": queue["key"], "event": "queued"})
    if actor is not None:
        await audit.record("conversation.opened", actor_id=actor.user_id, actor=actor.label,
                           target_type="conversation", target_id=row["id"], detail={"queue": queue["key"]})
    await emit(events.QUEUE_ITEM_ADDED, **events.about(row))
    return row


async def open_outbound(actor: Principal, *, channel: str, contact_id: int, subject: str, to_address: str,
                        external_ref: str = "", queue_key: str = "general") -> dict[str, Any]:
    """An interaction the operator starts (click-to-call): active and theirs at once, never waiting in a queue."""
    if channel not in LIVE_CHANNELS:
        raise Invalid("channel must be one of: %(choices)s.", field="channel", choices=', '.join(LIVE_CHANNELS))
    queue = await queue_by_key(queue_key)
    rows = await Conversation.insert(Conversation(
        contact=contact_id, channel=channel, queue=queue["id"], subject=subject.strip()[:300], status="active",
        assigned_to=actor.user_id, taken_at=now(), from_address=to_address, external_ref=external_ref)).returning(
        Conversation.id)
    row = await get(rows[0]["id"])
    await emit(events.QUEUE_ITEM_TAKEN, **events.about(row), user_id=actor.user_id)
    return row


BY_CONTACT: Any = object()
"""`receive_inbound(thread=BY_CONTACT)`: the message joins the contact's open conversation on its channel."""


async def receive_inbound(channel: str, contact_id: int | None, *, summary: str, subject: str,
                          from_address: str = "", external_ref: str = "", payload: dict[str, Any] | None = None,
                          actor_label: str = "", thread: int | None = BY_CONTACT, links: dict[str, Any] | None = None,
                          occurred_at: dt.datetime | None = None,
                          record_on_open: bool = True) -> tuple[int, int | None]:
    """A customer wrote on `channel`: the one way every channel turns an inbound message into a conversation and a
    timeline item. The message joins an open conversation or opens a new one in the queue, and lands on the
    contact's timeline (linked to the conversation, plus `links`). Returns the conversation id and the timeline
    item id (None for a sender with no contact, or when no item of its own was written).

    `thread` says which conversation: BY_CONTACT (SMS) the contact's open one on this channel; a channel that
    threads by its own keys (email headers, a chat session) passes the conversation it found, or None for a new
    one. `record_on_open=False` when the message is the new conversation's own "queued" item (a chat's first
    line is its subject) rather than a second item beside it.

    A snoozed conversation the message joins wakes up; a blocked sender's message joins nothing open and opens
    no queue item: it is kept in a closed conversation of its own (services.open_conversation)."""
    conversation_id = None if thread is BY_CONTACT else thread
    blocked = bool(from_address) and await is_blocked(from_address)
    if blocked:
        conversation_id = None
    elif thread is BY_CONTACT and contact_id is not None:
        open_row = await Conversation.select(Conversation.id).where(
            (Conversation.contact == contact_id) & (Conversation.channel == channel)
            & Conversation.status.is_in(["waiting", "active", "snoozed"])).order_by(
            Conversation.id, ascending=False).first()
        conversation_id = open_row["id"] if open_row else None
    opened = conversation_id is None
    if not opened:
        await customer_wrote(conversation_id)
    if conversation_id is None:
        row = await open_conversation(channel=channel, contact_id=contact_id, from_address=from_address,
                                      subject=subject, external_ref=external_ref)
        conversation_id = row["id"]
        opened = not blocked  # a blocked sender's conversation may be an earlier one: the message gets its own item
    interaction_id = None
    if contact_id is not None and (record_on_open or not opened):
        interaction_id = await timeline.record(contact_id, channel, "in", summary, actor_type="customer",
                                               actor_label=actor_label,
                                               links={**(links or {}), "conversation_id": conversation_id},
                                               payload=payload, occurred_at=occurred_at)
    return int(conversation_id), interaction_id


async def take(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Assign a waiting conversation to `actor`. One UPDATE decides: of many operators at once, exactly one wins."""
    current = await get(conversation_id)
    if current["queue_id"] not in await visible_queue_ids(actor):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    await dispositions.refuse_new_work(actor.user_id)
    won = await Conversation.update({Conversation.status: "active", Conversation.assigned_to: actor.user_id,
                                     Conversation.taken_at: now()}).where(
        (Conversation.id == conversation_id) & (Conversation.status == "waiting")).returning(Conversation.id)
    if not won:
        latest = await get(conversation_id)
        who = latest["assigned_to_name"] or i18n.gettext("someone else")
        raise Conflict("%(who)s already took this %(channel)s." if latest["status"] != "closed"
                       else "This conversation is already closed.", extra={"assigned_to": latest["assigned_to_id"]},
                       who=who, channel=i18n.gettext(latest["channel"]))
    row = await get(conversation_id)
    if row["contact_id"]:
        await timeline.record(row["contact_id"], "system", "internal",
                              "%(name)s took the %(channel)s",
                              params={"name": actor.name or actor.email, "channel": row["channel"]},
                              translated=("channel",),
                              links={"conversation_id": row["id"]}, actor_type="user",
                              actor_id=actor.user_id, actor_label=actor.label)
    await emit(events.QUEUE_ITEM_TAKEN, **events.about(row), user_id=actor.user_id)
    return row


async def accept(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The console's Take: the channel's own way when it declares one (a call is bridged too), else `take`."""
    taker = channels.get((await get(conversation_id))["channel"]).take
    return await (taker or take)(actor, conversation_id)


async def transfer(actor: Principal, conversation_id: int, *, queue_key: str | None = None,
                   user_id: int | None = None) -> dict[str, Any]:
    """Hand over to another queue (back to waiting) or straight to another operator."""
    row = await get(conversation_id)
    if row["status"] not in ("active", "waiting"):
        raise Conflict("Only a waiting or active conversation can be transferred; this one is %(status)s.",
                       status=row['status'])
    if row["status"] == "active" and row["assigned_to_id"] != actor.user_id and not actor.has_role("supervisor"):
        raise Forbidden("Only the operator handling it or a supervisor can transfer this conversation.")
    if (queue_key is None) == (user_id is None):
        raise Invalid("Transfer to either a queue or a user.", field="queue")
    if queue_key is not None:
        queue = await queue_by_key(queue_key)
        changes: dict[Any, Any] = {Conversation.queue: queue["id"], Conversation.status: "waiting",
                                   Conversation.assigned_to: None, Conversation.taken_at: None}
        label = f"queue {queue['name']}"
    else:
        target = await User.select(User.id, User.name).where((User.id == user_id) & (User.status == "active")).first()
        if target is None:
            raise Invalid("No active user %(user_id)s.", field="user_id", user_id=user_id)
        changes = {Conversation.status: "active", Conversation.assigned_to: user_id, Conversation.taken_at: now()}
        label = target["name"]
    await Conversation.update(changes).where(Conversation.id == conversation_id)
    updated = await get(conversation_id)
    if updated["contact_id"]:
        await timeline.record(updated["contact_id"], "system", "internal", "Transferred to %(target)s",
                              params={"target": label},
                              links={"conversation_id": conversation_id}, actor_type="user", actor_id=actor.user_id,
                              actor_label=actor.label)
    await audit.record("conversation.transferred", actor_id=actor.user_id, actor=actor.label,
                       target_type="conversation", target_id=conversation_id, detail={"to": label})
    await emit(events.QUEUE_ITEM_ADDED if queue_key else events.QUEUE_ITEM_TAKEN, **events.about(updated, row))
    return updated


async def wrap_up(actor: Principal, conversation_id: int, *, code: str, note: str) -> dict[str, Any]:
    """Close with a disposition code and a note; both land on the contact's timeline. When the queue defines its
    codes, the code must be one of them."""
    row = await get(conversation_id)
    if row["status"] == "closed":
        raise Conflict("This conversation is already closed.")
    if row["assigned_to_id"] != actor.user_id and not actor.has_role("supervisor"):
        raise Forbidden("Only the operator handling it or a supervisor can wrap this conversation up.")
    code = (code or "").strip()
    if not code or len(code) > 50:
        raise Invalid("Choose a disposition code (1 to 50 characters).", field="code")
    chosen = await dispositions.check_code(row["queue_id"], code)
    label = chosen["label"] if chosen else code
    t = now()
    await Conversation.update({Conversation.status: "closed", Conversation.closed_at: t,
                               Conversation.ended_at: row["ended_at"] or t, Conversation.wrapup_code: code,
                               Conversation.wrapup_note: note.strip()}).where(Conversation.id == conversation_id)
    updated = await get(conversation_id)
    if updated["contact_id"]:
        await timeline.record(updated["contact_id"], "note", "internal", "Wrap-up: %(code)s", params={"code": code},
                              payload={"body": f"**Wrap-up: {label}**\n\n{note.strip()}".strip(), "code": code,
                                       "label": label, "note": note.strip()},
                              links={"conversation_id": conversation_id}, actor_type="user", actor_id=actor.user_id,
                              actor_label=actor.name or actor.email)
    await emit(events.QUEUE_ITEM_REMOVED, **events.about(updated))
    return updated


async def waiting(principal: Principal) -> list[dict[str, Any]]:
    ids = await visible_queue_ids(principal)
    if not ids:
        return []

    async def load() -> list[dict[str, Any]]:
        return await queries.waiting(ids)

    # The waiting list depends on the visible queues alone: once per live event per set of queues.
    return [dict(c) for c in await render_shared(("waiting", tuple(ids)), load)]


async def mine(principal: Principal) -> list[dict[str, Any]]:
    return await queries.mine_of([principal.user_id])


async def mine_of(user_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """`mine` for many operators in one query: user id -> their active and wrap-up conversations."""
    rows = await queries.mine_of(user_ids or [0])
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["assigned_to_id"], []).append(row)
    return out


async def stats(principal: Principal) -> dict[str, Any]:
    """Totals for the visible queues: waiting per queue, longest wait, handled today (the workspace's day)."""
    ids = await visible_queue_ids(principal) or [0]
    # The same for every viewer of these queues: once per live event per set of queues (realtime.render.shared).
    return await render_shared(("stats", tuple(ids)), lambda: _stats(ids))


async def _stats(ids: list[int]) -> dict[str, Any]:
    conn = current_uow().connection
    per_queue = await conn.fetch(
        "SELECT q.id, q.key, q.name, count(c.id) FILTER (WHERE c.status = 'waiting') AS waiting, "
        "min(c.created_at) FILTER (WHERE c.status = 'waiting') AS oldest "
        "FROM queue q LEFT JOIN conversation c ON c.queue = q.id WHERE q.id = ANY($1::int[]) AND NOT q.archived "
        "GROUP BY q.id ORDER BY q.position, q.id", ids)
    today = i18n.day_start(await workspace_zone(), now())
    handled = await conn.fetchval(
        "SELECT count(*) FROM conversation WHERE closed_at >= $1 AND queue = ANY($2::int[])", today, ids)
    oldest = min((r["oldest"] for r in per_queue if r["oldest"]), default=None)
    return {"queues": [dict(r) for r in per_queue], "waiting": sum(r["waiting"] for r in per_queue),
            "longest_wait_seconds": int((now() - oldest).total_seconds()) if oldest else 0,
            "handled_today": handled}



async def _reassign_contact(source: int, target: int) -> int:
    """Merge step: a merged-away contact's conversations follow it to the survivor."""
    moved = await Conversation.update({Conversation.contact: target}).where(Conversation.contact == source).returning(
        Conversation.id)
    return len(moved)


MERGE_STEP = MergeStep("conversations", _reassign_contact, tables=("conversation",))


# -- snoozed and closed conversations come back; blocked senders open nothing ----------------------------------

async def return_to_work(conversation_id: int, *, from_status: str, reason: str, actor: Principal | None = None,
                         due: dt.datetime | None = None) -> dict[str, Any] | None:
    """A snoozed or closed conversation comes back where it was: to its operator when they are still active, else
    waiting in its queue. One UPDATE decides (a wake-up job and a customer's message at once: one wins). `due`: only
    if its snooze ended by then (a later snooze keeps it asleep). None when it was not in `from_status`."""
    back = await current_uow().connection.fetchrow(
        "UPDATE conversation c SET status = CASE WHEN u.id IS NULL THEN 'waiting' ELSE 'active' END, "
        "assigned_to = u.id, taken_at = CASE WHEN u.id IS NULL THEN NULL ELSE c.taken_at END, snoozed_until = NULL, "
        "closed_at = NULL FROM conversation old LEFT JOIN app_user u ON u.id = old.assigned_to AND u.status = 'active' "
        "WHERE c.id = $1 AND old.id = c.id AND c.status = $2 AND c.merged_into IS NULL "
        "AND ($3::timestamptz IS NULL OR c.snoozed_until <= $3) RETURNING c.id", conversation_id, from_status, due)
    if back is None:
        return None
    row = await get(conversation_id)
    if row["contact_id"]:
        summary = {"snooze_ended": "Snooze ended", "customer_wrote": "The customer wrote: back from snooze"}.get(
            reason, "Reopened")
        await timeline.record(row["contact_id"], "system", "internal", summary, links={"conversation_id": row["id"]},
                              actor_type="user" if actor else "system", actor_id=actor.user_id if actor else None,
                              actor_label=actor.label if actor else "", payload={"event": "reopened", "reason": reason})
    await emit(events.CONVERSATION_REOPENED, **events.about(row), reason=reason,
               user_id=actor.user_id if actor else None)
    return row


async def customer_wrote(conversation_id: int) -> None:
    """Every inbound path that joins an open conversation calls this: a snoozed one wakes up early."""
    await return_to_work(conversation_id, from_status="snoozed", reason="customer_wrote")


def address_key(address: str) -> tuple[str, str]:
    """The blocked-address form of what a customer wrote from, and its kind: E.164 digits for phones, lowercase
    e-mail addresses, anything else (a chat visitor's label) lowercased."""
    text = (address or "").strip()
    if "@" in text:
        return text.lower(), "email"
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and len(digits) >= 5 and all(ch.isdigit() or ch in "+-() ." for ch in text):
        return "+" + digits if text.startswith("+") else digits, "phone"
    return text.lower(), "other"


async def is_blocked(address: str) -> bool:
    key = address_key(address)[0]
    return bool(key) and await BlockedAddress.exists().where(BlockedAddress.address == key)


BLOCKED_CODE = "blocked"


async def _open_blocked(*, channel: str, queue_id: int, contact_id: int | None, subject: str, from_address: str,
                        external_ref: str) -> dict[str, Any]:
    """A blocked sender wrote: nothing is lost (the message is stored by the caller, linked to this conversation),
    but no queue item opens and no console hears of it. Its messages gather in one closed conversation."""
    found = await Conversation.select(Conversation.id).where(
        (Conversation.from_address == from_address) & (Conversation.channel == channel)
        & (Conversation.status == "closed") & (Conversation.wrapup_code == BLOCKED_CODE)).order_by(
        Conversation.id, ascending=False).first()
    if found is not None:
        return await get(found["id"])
    t = now()
    rows = await Conversation.insert(Conversation(
        contact=contact_id, channel=channel, queue=queue_id, subject=subject.strip(), from_address=from_address,
        external_ref=external_ref, status="closed", closed_at=t, ended_at=t, wrapup_code=BLOCKED_CODE)).returning(
        Conversation.id)
    row = await get(rows[0]["id"])
    if contact_id is not None:
        await timeline.record(contact_id, channel, "in", "Blocked sender %(address)s: not queued",
                              params={"address": from_address}, links={"conversation_id": row["id"]},
                              actor_type="customer",
                              payload={"event": "blocked", "from": from_address})
    return row
