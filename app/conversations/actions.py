"""Conversation actions: assign to a colleague or move to a queue, snooze until a time, close and reopen, merge two
conversations of one client, block a sender as spam. One public verb each; every one checks that the actor sees the
conversation's queue (404 otherwise, as `take` and the API's read answer) and may act on it (403), writes an audit
row and emits its event (app/conversations/events.py) so every console and workspace refreshes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from app.accounts.services import RANK, Principal
from app.accounts.tables import User
from app.audit import services as audit
from app.conversations import dispositions, events, services
from app.conversations.tables import BlockedAddress, Conversation
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_uow, resolve_active, tenant_context
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.timeline import services as timeline
from realtime.publish import emit

MAX_SNOOZE = dt.timedelta(days=366)
EARLY = dt.timedelta(seconds=30)
"""A wake-up job run this much before its time (the queue's clock is PostgreSQL's, ours the app's) still wakes."""
OVERDUE = dt.timedelta(minutes=5)
"""A snooze this late has lost its wake-up job; the next wake-up job of the shop brings it back."""
BLOCKABLE = ("phone", "email")
"""A web chat's sender is a name the visitor typed, not an address: blocking it would block every namesake."""
WAKE_JOB = "conversations.wake"


# -- who may do what -----------------------------------------------------------------------------------------------

async def visible(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The conversation, or 404 when the actor's role does not see its queue (the same answer as for no such id)."""
    row = await services.get(conversation_id)
    if row["queue_id"] not in await services.visible_queue_ids(actor):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    return row


def _may_act(actor: Principal, row: dict[str, Any]) -> None:
    """A conversation someone else is handling (or snoozed for themselves) is theirs: only they or a supervisor act
    on it."""
    handler = row["assigned_to_id"]
    if row["status"] in ("active", "wrapup", "snoozed") and handler not in (None, actor.user_id) and not actor.has_role(
            "supervisor"):
        raise Forbidden("Only the operator handling this conversation or a supervisor can do that.")


async def _acting(actor: Principal, conversation_id: int) -> dict[str, Any]:
    row = await visible(actor, conversation_id)
    _may_act(actor, row)
    if row["merged_into"]:
        raise Conflict("This conversation was merged into #%(survivor)s; act on that one.",
                       extra={"merged_into": row["merged_into"]}, survivor=row["merged_into"])
    return row


async def _note(actor: Principal, row: dict[str, Any], summary: str, params: dict[str, Any],
                **payload: Any) -> None:
    """A line on the client's timeline: `summary` is a catalogue template filled from `params` (shown translated)."""
    if row["contact_id"]:
        await timeline.record(row["contact_id"], "system", "internal", summary, params=params,
                              links={"conversation_id": row["id"]}, actor_type="user", actor_id=actor.user_id,
                              actor_label=actor.label, payload=payload)


async def _audit(actor: Principal, action: str, conversation_id: int, **detail: Any) -> None:
    await audit.record(f"conversation.{action}", actor_id=actor.user_id, actor=actor.label,
                       target_type="conversation", target_id=conversation_id, detail=detail)


def user_sees(queue: dict[str, Any], role: str) -> bool:
    """Whether a colleague of `role` sees `queue` (services.visible asks it of a signed-in principal)."""
    return not queue["roles"] or role in queue["roles"] or RANK[role] >= RANK["admin"]


# -- assign and move -----------------------------------------------------------------------------------------------

AssignCheck = Callable[[int, str], Awaitable[str | None]]
"""`check(user_id, channel) -> warning or None`, run after a hand assignment (routing: above capacity)."""
_assign_checks: list[AssignCheck] = []


def register_assign_check(fn: AssignCheck) -> None:
    """A domain above that knows more about the colleague (their capacity) warns about a hand assignment; declared
    in its manifest (`Domain.assign_checks`), registered once by app/domains.py."""
    if fn not in _assign_checks:
        _assign_checks.append(fn)


async def assign(actor: Principal, conversation_id: int, user_id: int) -> dict[str, Any]:
    """Hand the conversation to a colleague who sees its queue: it becomes theirs (a snoozed one stays snoozed).
    Allowed above the colleague's capacity; `warnings` then says so (the registered assign checks)."""
    row = await _acting(actor, conversation_id)
    if row["status"] == "closed":
        raise Conflict("This conversation is closed; reopen it first.")
    target = await User.select(User.id, User.name, User.role).where(
        (User.id == user_id) & (User.status == "active")).first()
    if target is None:
        raise Invalid("No active colleague %(user_id)s.", field="user_id", user_id=user_id)
    queue = next(q for q in await services.queues(include_archived=True) if q["id"] == row["queue_id"])
    if not user_sees(queue, target["role"]):
        raise Invalid("%(name)s does not see the queue %(queue)s; move the conversation to a queue they see first.",
                      field="user_id", name=target["name"], queue=queue["name"])
    changes: dict[Any, Any] = {Conversation.assigned_to: user_id}
    if row["status"] in ("waiting", "active"):
        changes.update({Conversation.status: "active", Conversation.taken_at: now()})
    await Conversation.update(changes).where(Conversation.id == conversation_id)
    updated = await services.get(conversation_id)
    await _note(actor, updated, "Assigned to %(name)s", {"name": target["name"]}, event="assigned", user_id=user_id)
    await _audit(actor, "assigned", conversation_id, to=target["name"], user_id=user_id)
    await emit(events.CONVERSATION_ASSIGNED, **events.about(updated, row), user_id=user_id)
    warnings = [w for w in [await check(user_id, updated["channel"]) for check in _assign_checks] if w]
    return {**updated, "warnings": warnings}


async def move(actor: Principal, conversation_id: int, queue_key: str) -> dict[str, Any]:
    """Move the conversation to another queue: it waits there for whoever sees that queue (unassigned)."""
    row = await _acting(actor, conversation_id)
    if row["status"] == "closed":
        raise Conflict("This conversation is closed; reopen it first.")
    queue = await services.queue_by_key(queue_key)
    changes: dict[Any, Any] = {Conversation.queue: queue["id"], Conversation.assigned_to: None,
                               Conversation.taken_at: None}
    if row["status"] != "snoozed":
        changes[Conversation.status] = "waiting"
    await Conversation.update(changes).where(Conversation.id == conversation_id)
    updated = await services.get(conversation_id)
    await _note(actor, updated, "Moved to queue %(name)s", {"name": queue["name"]}, event="moved", queue=queue["key"])
    await _audit(actor, "moved", conversation_id, queue=queue["key"])
    await emit(events.CONVERSATION_ASSIGNED, **events.about(updated, row))
    return updated


# -- snooze --------------------------------------------------------------------------------------------------------

async def snooze(actor: Principal, conversation_id: int, until: dt.datetime) -> dict[str, Any]:
    """Put the conversation aside until `until` (an aware time): it leaves the queue and the operator's list, and a
    job brings it back then (a customer's message brings it back sooner: services.customer_wrote)."""
    row = await _acting(actor, conversation_id)
    if until.tzinfo is None:
        raise Invalid("Give the time with its UTC offset, e.g. 2026-12-01T09:00:00+02:00.", field="until")
    t = now()
    if until <= t:
        raise Invalid("Snooze until a time in the future.", field="until")
    if until - t > MAX_SNOOZE:
        raise Invalid("Snooze for at most a year.", field="until")
    if row["status"] not in ("waiting", "active", "wrapup", "snoozed"):
        raise Conflict("This conversation is closed; reopen it first.")
    until = until.astimezone(dt.UTC)
    await Conversation.update({Conversation.status: "snoozed", Conversation.snoozed_until: until}).where(
        Conversation.id == conversation_id)
    await jobs.enqueue(WAKE_JOB, {"conversation_id": conversation_id, "until": until.isoformat()}, delay=until - t)
    updated = await services.get(conversation_id)
    await _note(actor, updated, "Snoozed until %(until)s UTC", {"until": f"{until:%Y-%m-%d %H:%M}"}, event="snoozed",
                until=until.isoformat())
    await _audit(actor, "snoozed", conversation_id, until=until.isoformat())
    await emit(events.CONVERSATION_SNOOZED, **events.about(updated), until=until.isoformat(), user_id=actor.user_id)
    return updated


async def wake(payload: dict[str, Any]) -> None:
    """Job: the snooze of `conversation_id` ended. Idempotent: a conversation woken already (the customer wrote,
    someone reopened it) or snoozed again until later stays as it is."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    # Due at the snooze's own time even if the queue hands the job over a moment early (its clock is PostgreSQL's);
    # a snooze moved later since then is left to its own job.
    due = now()
    if payload.get("until"):
        due = max(due, min(dt.datetime.fromisoformat(payload["until"]), due + EARLY))
    async with tenant_context(tenant):
        await services.return_to_work(int(payload["conversation_id"]), from_status="snoozed", reason="snooze_ended",
                                      due=due)
        # Catch-up: a snooze whose own job is gone (held after its retries, a schema restored without the queue)
        # comes back with the next one that runs in its shop, instead of sleeping for ever.
        overdue = await Conversation.select(Conversation.id).where(
            (Conversation.status == "snoozed") & (Conversation.snoozed_until < now() - OVERDUE)).limit(100)
        for row in overdue:
            await services.return_to_work(row["id"], from_status="snoozed", reason="snooze_ended", due=now())


async def snoozed(principal: Principal) -> list[dict[str, Any]]:
    """Snoozed conversations the principal sees, soonest back first (their own and their queues' unassigned)."""
    ids = await services.visible_queue_ids(principal)
    if not ids:
        return []
    return await Conversation.select(*services.COLUMNS).where(
        (Conversation.status == "snoozed") & Conversation.queue.is_in(ids)).order_by(Conversation.snoozed_until)


# -- close and reopen ----------------------------------------------------------------------------------------------

async def close(actor: Principal, conversation_id: int, *, note: str = "", reason: str = "closed") -> dict[str, Any]:
    """Close without a disposition (a resolved chat, a thank-you SMS); the wrap-up form closes with one."""
    row = await _acting(actor, conversation_id)
    if row["status"] == "closed":
        raise Conflict("This conversation is already closed.")
    await dispositions.close_allowed(row)
    note = (note or "").strip()
    if len(note) > 2000:
        raise Invalid("The note must be at most 2000 characters.", field="note")
    await _close_row(row)
    if note:
        await Conversation.update({Conversation.wrapup_note: note}).where(Conversation.id == conversation_id)
    updated = await services.get(conversation_id)
    await _note(actor, updated, "Closed: %(note)s" if note else "Closed", {"note": note[:200]} if note else {},
                event="closed", body=note)
    await _audit(actor, "closed", conversation_id, reason=reason)
    await emit(events.CONVERSATION_CLOSED, **events.about(updated, row), reason=reason, user_id=actor.user_id)
    return updated


async def _close_row(row: dict[str, Any], **more: Any) -> None:
    t = now()
    changes: dict[Any, Any] = {Conversation.status: "closed", Conversation.closed_at: t,
                               Conversation.ended_at: row["ended_at"] or t, Conversation.snoozed_until: None}
    changes.update({getattr(Conversation, k): v for k, v in more.items()})
    await Conversation.update(changes).where(Conversation.id == row["id"])


async def reopen(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Reopen a closed conversation: back to its operator if they are still active, else waiting in its queue."""
    row = await visible(actor, conversation_id)
    if row["merged_into"]:
        raise Conflict("This conversation was merged into #%(survivor)s; open that one instead.",
                       extra={"merged_into": row["merged_into"]}, survivor=row["merged_into"])
    if row["status"] != "closed":
        raise Conflict("Only a closed conversation can be reopened.")
    back = await services.return_to_work(conversation_id, from_status="closed", reason="reopened", actor=actor)
    if back is None:  # closed and reopened by someone else between our read and our update
        raise Conflict("Someone else reopened this conversation already.")
    await _audit(actor, "reopened", conversation_id, status=back["status"])
    return back


# -- merge ---------------------------------------------------------------------------------------------------------

async def siblings(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The same client's other conversations that could be merged into this one, newest first."""
    if not conversation.get("contact_id"):
        return []
    return await Conversation.select(Conversation.id, Conversation.channel, Conversation.status,
                                     Conversation.subject, Conversation.created_at).where(
        (Conversation.contact == conversation["contact_id"]) & (Conversation.id != conversation["id"])
        & Conversation.merged_into.is_null()).order_by(Conversation.id, ascending=False).limit(20)


async def merge(actor: Principal, survivor_id: int, other_id: int) -> dict[str, Any]:
    """Merge `other_id` into `survivor_id` (the same client's): every message, call leg and timeline item of the other
    moves to the survivor, each kept once and in its own time order; the other is closed, pointing at the survivor."""
    survivor = await _acting(actor, survivor_id)
    if survivor_id == other_id:
        raise Invalid("Choose another conversation to merge into this one.", field="other_id")
    other = await visible(actor, other_id)
    _may_act(actor, other)
    if other["merged_into"]:
        raise Conflict("Conversation #%(other)s was merged into #%(survivor)s already.", other=other_id,
                       survivor=other["merged_into"])
    if not survivor["contact_id"] or survivor["contact_id"] != other["contact_id"]:
        raise Conflict("These conversations belong to different clients; only the same client's conversations "
                       "can be merged (merge the two contacts first if they are one person).",
                       extra={"contact_ids": [survivor["contact_id"], other["contact_id"]]})
    conn = current_uow().connection
    # Lock both in id order, so two merges of the same pair at once cannot deadlock; the second finds it merged.
    locked = await conn.fetch("SELECT id, merged_into FROM conversation WHERE id = ANY($1::int[]) ORDER BY id "
                              "FOR UPDATE", [survivor_id, other_id])
    if any(r["merged_into"] for r in locked):
        raise Conflict("One of these conversations was merged a moment ago; reload it.")
    moved = await _move_links(conn, other_id, survivor_id)
    await _close_row(other, merged_into=survivor_id, wrapup_code="merged")
    if survivor["status"] == "closed" and other["status"] != "closed":
        # The customer was still waiting in the other one: the merged conversation carries on, open.
        await services.return_to_work(survivor_id, from_status="closed", reason="reopened", actor=actor)
    merged = await services.get(other_id)
    updated = await services.get(survivor_id)
    await _note(actor, updated, "Conversation #%(merged)s merged into #%(survivor)s",
                {"merged": other_id, "survivor": survivor_id}, event="merged",
                merged_id=other_id, moved=moved)
    await _audit(actor, "merged", survivor_id, merged_id=other_id, moved=moved)
    await emit(events.CONVERSATION_CLOSED, **events.about(merged, other), reason="merged", user_id=actor.user_id)
    await emit(events.CONVERSATION_MERGED, **events.about(updated), merged_id=other_id, user_id=actor.user_id)
    return updated


async def _move_links(conn: Any, source: int, target: int) -> dict[str, int]:
    """Point every row linked to `source` at `target`: each foreign key to conversation in the tenant's schema (the
    channels' message and call tables, found in the catalogue, so a new channel's table follows without an edit
    here), plain `conversation_id` columns, and the timeline items' links."""
    links = await conn.fetch(
        "SELECT cl.relname AS tbl, a.attname AS col FROM pg_constraint k "
        "JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_attribute a ON a.attrelid = k.conrelid "
        "AND a.attnum = ANY(k.conkey) WHERE k.contype = 'f' AND k.confrelid = 'conversation'::regclass "
        "AND cl.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'conversation'::regclass) "
        "UNION SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'conversation_id' AND data_type = 'integer'")
    moved: dict[str, int] = {}
    for link in links:
        if link["tbl"] == "conversation":
            continue  # merged_into: the pointer itself
        status = await conn.execute(
            f'UPDATE "{link["tbl"]}" SET "{link["col"]}" = $1 WHERE "{link["col"]}" = $2',  # noqa: S608 (catalogue names)
            target, source)
        count = int(status.rsplit(" ", 1)[-1])
        if count:
            moved[link["tbl"]] = moved.get(link["tbl"], 0) + count
    status = await conn.execute(
        "UPDATE interaction SET links = links || jsonb_build_object('conversation_id', $1::int) "
        "WHERE links ->> 'conversation_id' = $2", target, str(source))
    moved["interaction"] = int(status.rsplit(" ", 1)[-1])
    return moved


# -- block ---------------------------------------------------------------------------------------------------------

async def block(actor: Principal, *, address: str | None = None, conversation_id: int | None = None,
                reason: str = "") -> dict[str, Any]:
    """Block a phone number or e-mail address as spam: what it sends later is stored but opens no queue item.
    Given a conversation, its sender is blocked and its open conversations close."""
    if (address is None) == (conversation_id is None):
        raise Invalid("Block either an address or a conversation's sender.", field="address")
    row = None
    if conversation_id is not None:
        row = await _acting(actor, conversation_id)
        address = row["from_address"]
        if not address:
            raise Invalid("This conversation has no sender address to block.", field="conversation_id")
    key, kind = services.address_key(address or "")
    if not key or len(key) > 254 or kind not in BLOCKABLE:
        raise Invalid("Give a phone number or an e-mail address (at most 254 characters).", field="address")
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise Invalid("The reason must be at most 300 characters.", field="reason")
    rows = await BlockedAddress.insert(BlockedAddress(address=key, kind=kind, reason=reason,
                                                      blocked_by=actor.user_id)).on_conflict(
        action="DO NOTHING").returning(BlockedAddress.id)
    blocked = await BlockedAddress.select().where(BlockedAddress.address == key).first()
    assert blocked is not None
    if rows:
        await audit.record("address.blocked", actor_id=actor.user_id, actor=actor.label, target_type="address",
                           target_id=key, detail={"reason": reason})
        await emit(events.ADDRESS_BLOCKED, blocked_id=blocked["id"], address=key, user_id=actor.user_id)
    closing = await Conversation.select(*services.COLUMNS).where(
        Conversation.status.is_in(["waiting", "active", "wrapup", "snoozed"])
        & (Conversation.from_address == (row["from_address"] if row else address))
        & Conversation.queue.is_in(await services.visible_queue_ids(actor) or [0]))
    for conv in closing:
        await _close_row(conv, wrapup_code=services.BLOCKED_CODE)
        await _note(actor, conv, "Closed: sender %(address)s blocked as spam", {"address": key}, event="blocked",
                    address=key)
        await emit(events.CONVERSATION_CLOSED, **events.about(conv), reason="blocked", user_id=actor.user_id)
    return dict(blocked)


async def blocked_list() -> list[dict[str, Any]]:
    return await BlockedAddress.select(
        BlockedAddress.id, BlockedAddress.address, BlockedAddress.kind, BlockedAddress.reason,
        BlockedAddress.blocked_by.as_alias("blocked_by_id"), BlockedAddress.blocked_by.name.as_alias("blocked_by_name"),
        BlockedAddress.created_at).order_by(BlockedAddress.created_at, ascending=False)


async def unblock(actor: Principal, blocked_id: int) -> None:
    row = await BlockedAddress.select().where(BlockedAddress.id == blocked_id).first()
    if row is None:
        raise NotFound("No blocked address %(blocked_id)s.", blocked_id=blocked_id)
    await BlockedAddress.delete().where(BlockedAddress.id == blocked_id)
    await audit.record("address.unblocked", actor_id=actor.user_id, actor=actor.label, target_type="address",
                       target_id=row["address"])
    await emit(events.ADDRESS_UNBLOCKED, blocked_id=blocked_id, address=row["address"], user_id=actor.user_id)
