"""Filing a batch of parsed inbound mails set-based: what `InboundEmail.handle` does mail after mail, in a few
statements for the whole batch.

Looked up once per batch: the thread parents of every mail (by Message-ID, then by reply token), the state of their
conversations, the blocked senders, the queue. Written once per batch (per run of ordinary mails): the new
conversations, the timeline items (`timeline.entry`, the columns `timeline.record` writes), the contacts' last
contact time, the email rows; then the events, in the order and with the payloads the one-by-one path emits.
A mail threads onto an earlier mail of its own batch as it would onto a stored one.

Senders without a contact get one first (the contact service's `find_or_create`, in mail order). The unusual mails
go through `InboundEmail.handle` itself, after the run before them is written: a blocked sender, a mail without a
usable From, a snoozed conversation the mail wakes up.
The caller runs the batch in a savepoint and files mail after mail when it fails (app/email/inbound.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from app.contacts import events as contact_events
from app.contacts import identities
from app.conversations import events as conversation_events
from app.conversations import message_events
from app.conversations import services as conversations
from app.email import outbound
from app.email.listener import split_address
from app.lib.clock import now
from app.lib.db import current_uow
from app.timeline import services as timeline
from realtime import channels
from realtime.events import EventType
from realtime.publish import emit_many

if TYPE_CHECKING:
    from app.email.inbound import InboundEmail

CHANNEL = "email"
QUEUE = "general"
DUPLICATE = "duplicate Message-ID"

_BY_MESSAGE_ID = ("SELECT DISTINCT ON (message_id) message_id, id, conversation FROM email_message "
                  "WHERE message_id = ANY($1::varchar[]) ORDER BY message_id, id DESC")
_BY_REPLY_KEY = ("SELECT DISTINCT ON (reply_token) reply_token, id, conversation FROM email_message "
             "WHERE direction = 'out' AND reply_token = ANY($1::varchar[]) ORDER BY reply_token, id")
_CONVERSATIONS = "SELECT id, status, contact, assigned_to, queue FROM conversation WHERE id = ANY($1::int[])"
_BLOCKED = "SELECT address FROM blocked_address WHERE address = ANY($1::varchar[])"
_IDS = "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)"
_LAST_CONTACT = ("UPDATE contact c SET last_contact_at = GREATEST(coalesce(c.last_contact_at, u.at), u.at) "
                 "FROM unnest($1::int[], $2::timestamptz[]) AS u(id, at) WHERE c.id = u.id")


@dataclasses.dataclass
class _Conversation:
    """A conversation as threading needs it; `id` is None for one this batch opens until the batch is written."""

    id: int | None
    status: str
    contact_id: int | None
    assigned_to_id: int | None
    queue_id: int


@dataclasses.dataclass
class _Pending:
    """An ordinary mail, decided, waiting for the batch's write."""

    handler: InboundEmail
    contact_id: int
    conversation: _Conversation
    opened: bool


class Batch:
    """One batch of mails of one shop, filed in file order inside the caller's unit of work."""

    def __init__(self, handlers: list[InboundEmail], known: identities.Owners, seen: set[str]) -> None:
        self.handlers = handlers
        self.known = known
        self.seen = seen
        self._stored: dict[str, tuple[int, int | None]] = {}
        """Message-ID -> (email id, conversation id) of stored mails the batch's mails answer."""
        self._tokens: dict[str, tuple[int, int | None]] = {}
        self._conversations: dict[int, _Conversation] = {}
        self._blocked: set[str] = set()
        self._filed: dict[str, tuple[int, _Conversation | None]] = {}
        """Message-ID -> (position in the batch, conversation) of the batch's own mails filed so far."""
        self._queue: dict[str, Any] | None = None
        self._pending: list[_Pending] = []

    async def file(self) -> dict[int, str]:
        """File every mail; inbound id -> "" (filed) or why not (the inbound row's error column)."""
        await self._look_up()
        await self._new_senders()
        outcomes: dict[int, str] = {}
        for position, handler in enumerate(self.handlers):
            message_id = handler.mail.message_id
            if message_id and message_id in self.seen:
                outcomes[handler.row["id"]] = DUPLICATE
                continue
            contact_id = self.known.emails.get(handler.address) if handler.address else None
            parent = self._parent(handler)
            if (contact_id is None or self._is_blocked(handler)
                    or (parent is not None and parent.status == "snoozed")):
                await self._write()
                conversation = await self._one_by_one(handler)
            else:
                conversation = await self._decide(handler, contact_id, parent)
            if message_id:
                self.seen.add(message_id)
                self._filed[message_id] = (position, conversation)
            outcomes[handler.row["id"]] = ""
        await self._write()
        return outcomes

    # -- looked up once -------------------------------------------------------------------------------------------

    async def _look_up(self) -> None:
        conn = current_uow().connection
        ids = sorted({i for h in self.handlers for i in h.mail.thread_ids[:50]})
        if ids:
            rows = await conn.fetch(_BY_MESSAGE_ID, ids)
            self._stored = {r["message_id"]: (r["id"], r["conversation"]) for r in rows}
        tokens = sorted({t[:40] for h in self.handlers for t in _tokens(h)})
        if tokens:
            rows = await conn.fetch(_BY_REPLY_KEY, tokens)
            self._tokens = {r["reply_token"]: (r["id"], r["conversation"]) for r in rows}
        await self._load_conversations({c for _, c in [*self._stored.values(), *self._tokens.values()] if c})
        keys = sorted({key for h in self.handlers if (key := _blocked_key(h))})
        if keys:
            self._blocked = {r["address"] for r in await conn.fetch(_BLOCKED, keys)}

    async def _new_senders(self) -> None:
        """A contact for each sender who has none yet, in mail order, as the one-by-one path makes it (a blocked
        sender's, or a mail without a usable From, is left to that path)."""
        duplicates = set(self.seen)
        for handler in self.handlers:
            message_id = handler.mail.message_id
            if message_id and message_id in duplicates:
                continue
            duplicates.add(message_id)
            if handler.address and handler.address not in self.known.emails and not self._is_blocked(handler):
                self.known.emails[handler.address] = await handler._find_or_create_contact()

    async def _load_conversations(self, ids: set[int]) -> None:
        if ids:
            for r in await current_uow().connection.fetch(_CONVERSATIONS, sorted(ids)):
                self._conversations[r["id"]] = _Conversation(r["id"], r["status"], r["contact"], r["assigned_to"],
                                                             r["queue"])

    def _is_blocked(self, handler: InboundEmail) -> bool:
        return _blocked_key(handler) in self._blocked

    def _parent(self, handler: InboundEmail) -> _Conversation | None:
        """The conversation of the message this one answers, as `InboundEmail._thread_parent` finds it: the latest
        stored (or filed in this batch) message among its thread ids, else the outbound message of a reply token."""
        ids = handler.mail.thread_ids[:50]
        ours = [self._filed[i] for i in ids if i in self._filed]
        if ours:
            return max(ours, key=lambda found: found[0])[1]  # filed in this batch: later than anything stored
        stored = [self._stored[i] for i in ids if i in self._stored]
        if stored:
            conversation_id = max(stored)[1]
            return self._conversations.get(conversation_id) if conversation_id else None
        for token in _tokens(handler):
            if token[:40] in self._tokens:
                conversation_id = self._tokens[token[:40]][1]
                return self._conversations.get(conversation_id) if conversation_id else None
        return None

    # -- decided in memory ----------------------------------------------------------------------------------------

    async def _decide(self, handler: InboundEmail, contact_id: int, parent: _Conversation | None) -> _Conversation:
        """The mail's conversation: the thread's while it is open and still this contact's, else a new one."""
        if parent is not None and parent.status != "closed" and parent.contact_id == contact_id:
            self._pending.append(_Pending(handler, contact_id, parent, opened=False))
            return parent
        if self._queue is None:
            self._queue = await conversations.queue_by_key(QUEUE)
        opened = _Conversation(None, "waiting", contact_id, None, self._queue["id"])
        self._pending.append(_Pending(handler, contact_id, opened, opened=True))
        return opened

    async def _one_by_one(self, handler: InboundEmail) -> _Conversation | None:
        """An unusual mail through the one-by-one path (the batch's earlier mails are written already)."""
        email_id = await handler.handle(self.known)
        if handler.address and handler.address not in self.known.emails:
            contact_id = await current_uow().connection.fetchval("SELECT contact FROM email_message WHERE id = $1",
                                                                 email_id)
            self.known.emails[handler.address] = contact_id
        conversation_id = await current_uow().connection.fetchval(
            "SELECT conversation FROM email_message WHERE id = $1", email_id)
        await self._load_conversations({conversation_id} if conversation_id else set())
        return self._conversations.get(conversation_id) if conversation_id else None

    # -- written at once ------------------------------------------------------------------------------------------

    async def _write(self) -> None:
        """The pending mails' conversations, timeline items, last contact times and email rows, then their events."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        uow = current_uow()
        conn, schema = uow.connection, uow.schema
        opened = [p.conversation for p in pending if p.opened]
        if opened:
            for conversation, new_id in zip(opened, await _ids("conversation", len(opened)), strict=True):
                conversation.id = new_id
                self._conversations[new_id] = conversation
            await conn.copy_records_to_table(
                "conversation", schema_name=schema,
                columns=["id", "contact", "channel", "queue", "status", "subject", "from_address", "external_ref",
                         "created_at"],
                records=[(p.conversation.id, p.contact_id, CHANNEL, p.conversation.queue_id, "waiting",
                          p.handler.mail.subject[:300].strip(), p.handler.mail.from_address[:254],
                          p.handler.mail.message_id[:100], now()) for p in pending if p.opened])
        email_ids = await _ids("email_message", len(pending))
        entries: list[dict[str, Any]] = []
        messages: list[tuple[_Pending, int, dict[str, Any], list[dict[str, Any]]]] = []
        for p, email_id in zip(pending, email_ids, strict=True):
            mail, conversation_id = p.handler.mail, p.conversation.id
            if p.opened:
                entries.append(self._queued_entry(p))
            attachments = [await outbound._store(a.filename, a.content_type, a.data) for a in mail.attachments]
            message = timeline.entry(
                p.contact_id, CHANNEL, "in", mail.subject or "(no subject)", actor_type="customer",
                actor_label=mail.from_name or mail.from_address, occurred_at=p.handler.row["received_at"],
                links={"email_id": email_id, "conversation_id": conversation_id},
                payload={"event": "email", "status": "received", "from": mail.from_address, "body": mail.text[:2000],
                         "attachments": [a["filename"] for a in attachments]})
            entries.append(message)
            messages.append((p, email_id, message, attachments))
        interaction_ids = await _ids("interaction", len(entries))
        for entry, interaction_id in zip(entries, interaction_ids, strict=True):
            entry["id"] = interaction_id
        await conn.copy_records_to_table(
            "interaction", schema_name=schema,
            columns=["id", "contact", "channel", "direction", "occurred_at", "actor_type", "actor_id", "actor_label",
                     "summary", "payload", "links"],
            records=[(e["id"], e["contact"], e["channel"], e["direction"], e["occurred_at"], e["actor_type"],
                      e["actor_id"], e["actor_label"], e["summary"], json.dumps(e["payload"]), json.dumps(e["links"]))
                     for e in entries])
        if CHANNEL in timeline.CONTACT_CHANNELS:
            latest: dict[int, dt.datetime] = {}
            for e in entries:
                latest[e["contact"]] = max(latest.get(e["contact"], e["occurred_at"]), e["occurred_at"])
            await conn.execute(_LAST_CONTACT, list(latest), list(latest.values()))
        await conn.copy_records_to_table(
            "email_message", schema_name=schema,
            columns=["id", "direction", "contact", "conversation", "inbound", "status", "message_id", "subject",
                     "in_reply_to", "thread_refs", "from_address", "to_address", "text", "html", "attachments",
                     "interaction_id", "sent_at", "reply_token", "error", "attempts", "created_at"],
            records=[(email_id, "in", p.contact_id, p.conversation.id, p.handler.row["id"], "received",
                      p.handler.mail.message_id or f"inbound-{p.handler.row['id']}", p.handler.mail.subject,
                      (p.handler.mail.in_reply_to or [""])[0][:300],
                      " ".join(f"<{r}>" for r in p.handler.mail.references[-20:]),
                      p.handler.mail.from_address[:254], p.handler.row["rcpt_to"],
                      p.handler.mail.text[:outbound.MAX_BODY * 10], "", json.dumps(attachments), message["id"],
                      p.handler.row["received_at"], "", "", 0, now())
                     for p, email_id, message, attachments in messages])
        queued = iter(e for e in entries if e["payload"].get("event") == "queued")
        await emit_many([event for p, email_id, message, _ in messages
                         for event in _announce(p, email_id, message["id"], next(queued)["id"] if p.opened else None)])

    def _queued_entry(self, p: _Pending) -> dict[str, Any]:
        """The new conversation's own timeline item, as `conversations.open_conversation` writes it."""
        assert self._queue is not None
        subject = p.handler.mail.subject[:300]
        return timeline.entry(p.contact_id, CHANNEL, "in", subject or "New %(channel)s in %(queue)s",
                              params=None if subject else {"channel": CHANNEL, "queue": self._queue["name"]},
                              translated=("queue",), links={"conversation_id": p.conversation.id},
                              actor_type="customer", payload={"queue": self._queue["key"], "event": "queued"})


Announcement = tuple[EventType, list[str] | None, dict[str, Any]]


def _announce(p: _Pending, email_id: int, interaction_id: int, queued_id: int | None) -> list[Announcement]:
    """The events of one mail, as the one-by-one path emits them (the batch writes all of them in one insert)."""
    conversation = p.conversation
    assert conversation.id is not None
    events: list[Announcement] = []
    if queued_id is not None:
        about = conversation_events.about({"id": conversation.id, "queue_id": conversation.queue_id,
                                           "assigned_to_id": None, "contact_id": p.contact_id})
        events.append((conversation_events.QUEUE_ITEM_ADDED, about.pop("channels"), about))
        events.append((contact_events.INTERACTION_CREATED, None,
                       {"contact_id": p.contact_id, "interaction_id": queued_id, "channel": CHANNEL}))
    events.append((contact_events.INTERACTION_CREATED, None,
                   {"contact_id": p.contact_id, "interaction_id": interaction_id, "channel": CHANNEL}))
    topics = [channels.queue(), channels.contact(p.contact_id)]
    if conversation.assigned_to_id:
        topics.append(channels.user(conversation.assigned_to_id))
    events.append((message_events.MESSAGE_RECEIVED, topics,
                   {"message_id": email_id, "contact_id": p.contact_id, "conversation_id": conversation.id,
                    "channel": CHANNEL}))
    return events


def _tokens(handler: InboundEmail) -> list[str]:
    """Reply tokens a mail carries, in the order `InboundEmail._thread_parent` tries them."""
    tokens = []
    parts = split_address(handler.row["rcpt_to"])
    if parts and parts[1]:
        tokens.append(parts[1])
    return tokens + [i.split(".", 1)[0] for i in handler.mail.thread_ids if "." in i.split("@", 1)[0]]


def _blocked_key(handler: InboundEmail) -> str:
    address = handler.mail.from_address[:254]
    return conversations.address_key(address)[0] if address else ""


async def _ids(table: str, n: int) -> list[int]:
    """`n` ids drawn from the table's sequence, in order (the rows are then COPYed with them)."""
    return sorted(r[0] for r in await current_uow().connection.fetch(_IDS, table, n))
