"""The workspace's rules: who may open a conversation, the left list with unread counts, the thread across
channels (newest page first, "load earlier"), replies on the conversation's channel or another one, internal notes
with @mentions, and read markers."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

from piccolo.columns.combination import WhereRaw

from app import channels
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.contacts import files as contact_files
from app.contacts import services as contacts
from app.conversations import services as conversations
from app.conversations.tables import Conversation
from app.email import outbound
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Invalid, NotFound
from app.lib.i18n import N_
from app.lib.lru import LRU
from app.timeline import services as timeline
from app.timeline.tables import Interaction
from app.workspace import events
from app.workspace.tables import Mention
from realtime.publish import emit
from telephony import sms

THREAD_CHANNELS = (*channels.KEYS, "note", "file")
"""What the centre pane shows of a client's timeline: every conversation channel, internal notes and files."""
PAGE = 30
"""Thread items per page: the newest first, then "load earlier"."""
REPLY_CHANNELS = ("sms", "email", "chat")
MENTION_RE = re.compile(r"(?<![\w@])@([\w][\w.\-]{0,62})", re.UNICODE)


# -- access ----------------------------------------------------------------------------------------------------

def may_open(actor: Principal, row: dict[str, Any], visible_queue_ids: list[int]) -> bool:
    """A conversation is the actor's to open when its queue is one their role sees, or it is assigned to them."""
    return row["queue_id"] in visible_queue_ids or row["assigned_to_id"] == actor.user_id


async def conversation_for(actor: Principal, conversation_id: int) -> dict[str, Any]:
    """The conversation, or NotFound (the same answer as for a missing one) when the actor may not open it."""
    row = await conversations.get(conversation_id)
    if not may_open(actor, row, await conversations.visible_queue_ids(actor)):
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    return row


# -- the left list ---------------------------------------------------------------------------------------------

_UNREAD_SQL = """
WITH inbound AS (
    SELECT (i.links ->> 'conversation_id')::int AS conversation, i.occurred_at
    FROM interaction i
    WHERE i.links ? 'conversation_id' AND (i.links ->> 'conversation_id') = ANY($1::text[]) AND i.direction = 'in'
      AND NOT (i.channel IN ('sms', 'email') AND (i.payload ->> 'event') IS NOT DISTINCT FROM 'queued')
)
SELECT u.id AS "user", m.conversation AS id, count(*) AS unread
FROM unnest($2::int[]) AS u(id)
JOIN inbound m ON true
LEFT JOIN ws_seen s ON s.conversation = m.conversation AND s."user" = u.id
WHERE m.occurred_at > coalesce(s.seen_at, '-infinity'::timestamptz)
GROUP BY u.id, m.conversation
"""


async def unread_by_user(user_ids: list[int], conversation_ids: list[int]) -> dict[tuple[int, int], int]:
    """Customer messages in each conversation since each user last had it open (all of them if never), for many
    users in one query: (user id, conversation id) -> count; pairs with none are left out."""
    if not conversation_ids or not user_ids:
        return {}
    rows = await current_uow().connection.fetch(_UNREAD_SQL, [str(i) for i in conversation_ids], user_ids)
    return {(r["user"], r["id"]): int(r["unread"]) for r in rows}


async def unread_counts(user_id: int, conversation_ids: list[int]) -> dict[int, int]:
    """Customer messages in each conversation since `user_id` last had it open (all of them if never)."""
    got = await unread_by_user([user_id], conversation_ids)
    return {i: got.get((user_id, i), 0) for i in conversation_ids}


async def left_list(actor: Principal) -> dict[str, Any]:
    """The queue the actor may see (oldest first) and their own conversations, each with its unread count."""
    waiting = await conversations.waiting(actor)
    mine = await conversations.mine(actor)
    unread = await unread_counts(actor.user_id, [r["id"] for r in (*waiting, *mine)])
    for row in (*waiting, *mine):
        row["unread"] = unread.get(row["id"], 0)
    return {"waiting": waiting, "mine": mine, "now": now().timestamp()}


async def mark_seen(actor: Principal, conversation_id: int) -> None:
    """The actor has the conversation open: its messages so far are read, and so are mentions in it."""
    conn = current_uow().connection
    await conn.execute(
        'INSERT INTO ws_seen ("user", conversation, seen_at) VALUES ($1, $2, $3) '
        'ON CONFLICT ("user", conversation) DO UPDATE SET seen_at = GREATEST(ws_seen.seen_at, excluded.seen_at)',
        actor.user_id, conversation_id, now())
    await Mention.update({Mention.read_at: now()}).where(
        (Mention.user == actor.user_id) & (Mention.conversation == conversation_id) & Mention.read_at.is_null())


# -- the thread ------------------------------------------------------------------------------------------------

async def channel_extras(row: dict[str, Any], user: Principal) -> dict[str, Any]:
    """The conversation's channel's console context for this one conversation (a call's state, who is on the line,
    operators to transfer to, disposition codes), as the console's panels get it; {} for a channel without any."""
    extras = channels.get(row["channel"]).console_extras
    if extras is None:
        return {}
    return await extras({"waiting": [row] if row["status"] == "waiting" else [],
                         "mine": [row] if row["assigned_to_id"] == user.user_id else []})


MARKED_TWICE = ("sms", "email")
"""Channels whose first message is recorded twice: as the conversation's "queued" marker and as the message itself
(receive_inbound, email threading). The thread drops the marker; a chat's first message and a call exist only as
their marker, so those stay."""
_NOT_A_MARKER = "NOT (channel IN ('sms', 'email') AND payload ->> 'event' IS NOT DISTINCT FROM 'queued')"




async def thread(contact_id: int | None, *, before: str | None = None,
                 limit: int = PAGE) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the client's thread across channels, oldest first for reading; `earlier` is the cursor of the
    page before it (None when this is the start). A conversation with no contact yet has no thread."""
    if contact_id is None:
        return [], None
    limit = min(max(limit, 1), 200)
    query = Interaction.select(*timeline.COLUMNS).where(
        (Interaction.contact == contact_id) & Interaction.channel.is_in(list(THREAD_CHANNELS))).where(
        WhereRaw(_NOT_A_MARKER)).order_by(
        Interaction.occurred_at, ascending=False).order_by(Interaction.id, ascending=False).limit(
        limit + 1).output(load_json=True)
    if before:
        when, ident = timeline.parse_cursor(
            before, N_("The `before` cursor is not one this page gave out; open the conversation again."))
        query = query.where(WhereRaw("(occurred_at, id) < ({}, {})", when, ident))
    rows = await query
    more = len(rows) > limit
    rows = rows[:limit]
    earlier = timeline.cursor_of(rows[-1]) if more and rows else None
    rows.reverse()
    return rows, earlier


async def thread_item(interaction_id: int) -> dict[str, Any] | None:
    row = await Interaction.select(*timeline.COLUMNS).where(Interaction.id == interaction_id).first().output(
        load_json=True)
    if row is None or row["channel"] not in THREAD_CHANNELS:
        return None
    if row["channel"] in MARKED_TWICE and (row["payload"] or {}).get("event") == "queued":
        return None
    return row


# -- the client --------------------------------------------------------------------------------------------------

def is_unknown(card: dict[str, Any] | None) -> bool:
    """A sender nobody has named yet: no contact at all, or one made from an address alone."""
    return card is None or not (card.get("name") or "").strip()


async def reply_channels(row: dict[str, Any], card: dict[str, Any] | None) -> list[str]:
    """Channels the reply box may answer on: the conversation's own (when it is written to), SMS with a phone,
    email with an address, chat while the client has an open web chat."""
    out: list[str] = []
    if row["channel"] in REPLY_CHANNELS:
        out.append(row["channel"])
    if card is not None:
        if card["phones"] and "sms" not in out:
            out.append("sms")
        if card["emails"] and "email" not in out:
            out.append("email")
        if "chat" not in out and await _open_conversation_on(card["id"], "chat") is not None:
            out.append("chat")
    return out


async def _open_conversation_on(contact_id: int, channel: str) -> int | None:
    row = await Conversation.select(Conversation.id).where(
        (Conversation.contact == contact_id) & (Conversation.channel == channel)
        & Conversation.status.is_in(["waiting", "active", "wrapup"])).order_by(Conversation.id, ascending=False).first()
    return int(row["id"]) if row else None


# -- replies and notes -----------------------------------------------------------------------------------------

async def reply(actor: Principal, conversation_id: int, *, channel: str, body: str, subject: str = "",
                files: list[tuple[str, str, bytes]] | None = None) -> dict[str, Any]:
    """Answer the client on `channel`: the conversation's own channel through its `send`, or another channel the
    client can be reached on (the message is linked to this conversation, so the thread stays one). Files
    (name, content type, bytes) are kept on the client's card (shown in the thread) and go with an email."""
    row = await conversation_for(actor, conversation_id)
    channel = channel or row["channel"]
    if channel not in REPLY_CHANNELS:
        raise Invalid("Reply by SMS, email or chat; a call is placed with Call back.", field="channel")
    if not (body or "").strip():
        raise Invalid("Write the reply first.", field="body")
    card = await contacts.get(row["contact_id"]) if row["contact_id"] else None
    if channel not in await reply_channels(row, card):
        if channel == "sms":
            raise Invalid("This client has no phone number to text; add one on the card first.", field="channel")
        if channel == "email":
            raise Invalid("This client has no email address; add one on the card first.", field="channel")
        raise Invalid("This client has no open web chat to answer in.", field="channel")
    attachments = []
    for name, content_type, data in files or []:
        await contact_files.upload(actor, int(row["contact_id"]), name, _chunks(data))
        attachments.append({"filename": name, "content_type": content_type or "application/octet-stream",
                            "data": base64.b64encode(data).decode()})
    target = conversation_id if channel == row["channel"] else None
    if channel == "chat" and target is None:
        target = await _open_conversation_on(int(row["contact_id"]), "chat")
    if channel == "email" and (attachments or row["channel"] != "email"):
        # An email with files, or one that starts a thread from another channel, needs more than the channel's
        # send(body, subject=): the workspace sits above every channel and composes it itself.
        return await outbound.compose(actor, int(row["contact_id"]), {
            "body": body, "subject": subject or _subject_for(row), "conversation_id": conversation_id,
            "attachments": attachments})
    if channel == "sms" and target is None:
        return await sms.send(actor, int(row["contact_id"]), body, None, links={"conversation_id": conversation_id})
    send = channels.get(channel).send
    assert send is not None and target is not None
    if channel == "email":
        return await send(actor, target, body, subject=subject)
    return await send(actor, target, body)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _subject_for(row: dict[str, Any]) -> str:
    subject = (row["subject"] or "").splitlines()[0][:180] if row["subject"] else ""
    return f"Re: {subject}" if subject else "Your conversation with us"


async def mentioned_users(body: str, *, exclude: int | None = None) -> list[dict[str, Any]]:
    """Active teammates named in `body` as @first-name, @full.name (spaces as dots) or @email-local-part."""
    tokens = {t.lower().rstrip(".") for t in MENTION_RE.findall(body or "")}
    if not tokens:
        return []
    found = []
    for user in await accounts.list_users():
        if user["status"] != "active" or user["id"] == exclude:
            continue
        names = {*(_handles(user["name"] or "")), user["email"].split("@")[0].lower()}
        if names & tokens:
            found.append(user)
    return found


def _handles(name: str) -> set[str]:
    parts = name.lower().split()
    return {parts[0], ".".join(parts), "".join(parts)} if parts else set()


async def add_note(actor: Principal, conversation_id: int, body: str) -> dict[str, Any]:
    """An internal note on the client's timeline; every teammate @mentioned in it is told on their own channel
    (and finds it on their home and workspace until they open the conversation)."""
    row = await conversation_for(actor, conversation_id)
    if row["contact_id"] is None:
        raise Invalid("Link this conversation to a contact first: notes live on the client's card.", field="body")
    note = await contacts.add_note(actor, int(row["contact_id"]), body)
    users = await mentioned_users(body, exclude=actor.user_id)
    for user in users:
        rows = await Mention.insert(Mention(user=user["id"], by_user=actor.user_id, conversation=conversation_id,
                                            note_id=note["id"])).returning(Mention.id)
        await emit(events.MENTIONED, user_id=user["id"], conversation_id=conversation_id, by_user_id=actor.user_id,
                   mention_id=rows[0]["id"])
    return {**note, "mentioned": [u["id"] for u in users]}


async def mentions(user_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The user's unread mentions, newest first, with who wrote and the conversation's client."""
    rows = await current_uow().connection.fetch(
        "SELECT m.id, m.conversation AS conversation_id, m.note_id, m.created_at, u.name AS by_name, "
        "coalesce(nullif(ct.name, ''), c.from_address, '') AS client, c.channel "
        "FROM ws_mention m JOIN conversation c ON c.id = m.conversation LEFT JOIN app_user u ON u.id = m.by_user "
        "LEFT JOIN contact ct ON ct.id = c.contact "
        'WHERE m."user" = $1 AND m.read_at IS NULL ORDER BY m.created_at DESC, m.id DESC LIMIT $2', user_id, limit)
    return [dict(r) for r in rows]


# -- typing ----------------------------------------------------------------------------------------------------

TYPING_EVERY = 2.0
"""Seconds: one typing event per operator and conversation at most this often (the browser throttles too)."""
_last_typing: LRU[tuple[str, int, int], float] = LRU(10_000)


async def typing(tenant_slug: str, actor: Any, conversation_id: int) -> bool:
    """Tell the teammates who may see the conversation that `actor` is writing in it (throttled per process).
    Returns whether an event went out."""
    key = (tenant_slug, actor.user_id, conversation_id)
    t = now().timestamp()
    if t - _last_typing.get(key, 0.0) < TYPING_EVERY:
        return False
    try:
        await conversation_for(actor, conversation_id)
    except NotFound:
        return False
    _last_typing[key] = t
    await emit(events.TYPING, conversation_id=conversation_id, user_id=actor.user_id)
    return True
