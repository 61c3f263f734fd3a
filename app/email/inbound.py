"""Processing a stored inbound email: parse, find or create the contact, thread into its conversation, timeline.

One job per stored mail (mail-in queues it with the mail), but a job files up to BATCH mails of its shop in one
unit of work: its own, then others still waiting that no other job holds (`FOR UPDATE SKIP LOCKED`), each in a
savepoint. One transaction, one tenant lookup, one address lock for the batch instead of one each; the jobs of the
mails it took find them filed and stop. A batched mail that fails is rolled back alone and left to its own job,
which retries it (and keeps the failure) as before; a failure of the job's own mail fails the job.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog

from app.contacts import identities
from app.conversations import message_events
from app.conversations import services as conversations
from app.email import bounces, outbound
from app.email.listener import split_address
from app.email.parse import ParsedMail, parse
from app.email.tables import EmailMessage
from app.lib.clock import now
from app.lib.db import resolve_active, tenant_context
from app.lib.errors import Invalid
from app.lib.identities import normalize_email
from app.lib.jobs import QUEUE_TABLE
from realtime import channels
from realtime.publish import emit

log = structlog.get_logger(__name__)

BATCH = 20
JOB = "messaging.process_inbound"
"""Mails one job files in one transaction (its own and up to BATCH - 1 waiting ones). Events of a tenant are
numbered under a lock held until commit (realtime/log.py), so a bigger batch holds the shop's other writers longer."""


class InboundEmail:
    """One stored inbound mail turned into a message on the right contact and conversation."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.mail: ParsedMail = parse(bytes(row["content"]))

    @property
    def address(self) -> str:
        """The sender's normalised address ("" when the From has none we can use)."""
        try:
            return normalize_email(self.mail.from_address, field="from")
        except Invalid:
            return ""

    async def handle(self, known: identities.Owners | None = None) -> int:
        """File the mail; `known`: owners of sender addresses claimed for a batch (a miss is looked up again)."""
        parent = await self._thread_parent()
        contact_id = (known.emails.get(self.address) if known is not None and self.address else None) \
            or await self._find_or_create_contact()
        return await self._record(contact_id, await self._open_thread(parent, contact_id))

    async def _thread_parent(self) -> dict[str, Any] | None:
        """The earlier message this one answers: by In-Reply-To/References, else by the reply token."""
        ids = self.mail.thread_ids
        if ids:
            found = await EmailMessage.select().where(EmailMessage.message_id.is_in(ids[:50])).order_by(
                EmailMessage.id, ascending=False).first()
            if found:
                return found
        tokens = []
        parts = split_address(self.row["rcpt_to"])
        if parts and parts[1]:
            tokens.append(parts[1])
        tokens += [i.split(".", 1)[0] for i in ids if "." in i.split("@", 1)[0]]
        for token in tokens:
            found = await EmailMessage.select().where(
                (EmailMessage.reply_token == token[:40]) & (EmailMessage.direction == "out")).first()
            if found:
                return found
        return None

    async def _find_or_create_contact(self) -> int:
        address = self.address
        return await identities.find_or_create(
            None, email=address or None, name=self.mail.from_name or (address.split("@")[0] if address else "Unknown"),
            source="email")

    async def _open_thread(self, parent: dict[str, Any] | None, contact_id: int) -> int | None:
        """The thread's conversation when it is still open and still this contact's; None: a new one."""
        if parent and parent["conversation"]:
            current = await conversations.get(parent["conversation"])
            if current["status"] != "closed" and current["contact_id"] == contact_id:
                return int(current["id"])
        return None

    async def _record(self, contact_id: int, thread: int | None) -> int:
        """Store the message, then file it through the one inbound path (conversation and timeline item)."""
        attachments = [await outbound._store(a.filename, a.content_type, a.data) for a in self.mail.attachments]
        rows = await EmailMessage.insert(EmailMessage(
            direction="in", contact=contact_id, conversation=None, inbound=self.row["id"], status="received",
            message_id=self.mail.message_id or f"inbound-{self.row['id']}", subject=self.mail.subject,
            in_reply_to=(self.mail.in_reply_to or [""])[0][:300], thread_refs=" ".join(
                f"<{r}>" for r in self.mail.references[-20:]), from_address=self.mail.from_address[:254],
            to_address=self.row["rcpt_to"], text=self.mail.text[:outbound.MAX_BODY * 10], html="",
            attachments=attachments, sent_at=self.row["received_at"],
        )).returning(EmailMessage.id)
        email_id = int(rows[0]["id"])
        conversation_id, interaction_id = await conversations.receive_inbound(
            "email", contact_id, summary=self.mail.subject or "(no subject)", subject=self.mail.subject[:300],
            from_address=self.mail.from_address[:254], external_ref=self.mail.message_id[:100], thread=thread,
            payload={"event": "email", "status": "received", "from": self.mail.from_address,
                     "body": self.mail.text[:2000], "attachments": [a["filename"] for a in attachments]},
            links={"email_id": email_id}, actor_label=self.mail.from_name or self.mail.from_address,
            occurred_at=self.row["received_at"])
        await EmailMessage.update({EmailMessage.conversation: conversation_id,
                                   EmailMessage.interaction_id: interaction_id}).where(EmailMessage.id == email_id)
        conv = await conversations.get(conversation_id)
        topics = [channels.queue(), channels.contact(contact_id)]
        if conv["assigned_to_id"]:
            topics.append(channels.user(conv["assigned_to_id"]))
        await emit(message_events.MESSAGE_RECEIVED, message_id=email_id, contact_id=contact_id,
                   conversation_id=conversation_id, channel="email", channels=topics)
        return email_id


_OWN = "SELECT * FROM inbound_mail WHERE id = $1 FOR UPDATE"
_WAITING = (  # PgQueuer's own table name goes into the text
    "SELECT * FROM inbound_mail WHERE processed_at IS NULL AND id <> $1 AND id NOT IN ("  # noqa: S608
    " SELECT (convert_from(payload, 'UTF8')::jsonb ->> 'inbound_id')::int FROM " + QUEUE_TABLE +
    " WHERE entrypoint = $3 AND status = 'picked' AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $4)"
    " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED")
"""Waiting mails to batch: not locked by another batch, and not the own mail of a job a worker is running (that job
would only wait for this batch to commit, holding a worker's slot; it files its own mail, in a batch of its own)."""


async def process(payload: dict[str, Any]) -> None:
    """Job: parse and file one stored inbound mail, and up to BATCH - 1 others of the shop still waiting.
    Idempotent: a processed mail is left alone (the row lock makes the job of a mail another job is filing wait
    for that one's commit, then find it done)."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant) as uow:
        own = await uow.connection.fetchrow(_OWN, payload["inbound_id"])
        if own is None or own["processed_at"] is not None:
            return
        first = InboundEmail(dict(own))
        batch: list[InboundEmail] = []
        for row in await uow.connection.fetch(_WAITING, own["id"], BATCH - 1, JOB, tenant.slug):
            try:
                batch.append(InboundEmail(dict(row)))
            except Exception:  # its own job parses it again and keeps the failure
                log.warning("inbound_batch_parse_failed", inbound_id=row["id"], exc_info=True)
        handlers = [first, *batch]
        # The senders' addresses in one lock, before anything emits (identities: addresses first, then rows).
        known = await identities.claim(emails=[h.address for h in handlers if h.address])
        ids = [h.mail.message_id for h in handlers if h.mail.message_id]
        seen = {r["message_id"] for r in await uow.connection.fetch(_SEEN, ids)} if ids else set()
        filed: dict[int, str] = {}
        for n, handler in enumerate(handlers):
            try:
                async with uow.savepoint() if n else contextlib.nullcontext():  # the job's own mail fails the job
                    filed[handler.row["id"]] = await _file(handler, known, seen)
            except Exception:
                if not n:
                    raise
                log.warning("inbound_batch_mail_failed", inbound_id=handler.row["id"], exc_info=True)
        await uow.connection.execute(_FILED, list(filed), list(filed.values()), now())


_SEEN = "SELECT message_id FROM email_message WHERE direction = 'in' AND message_id = ANY($1::varchar[])"
_FILED = """
UPDATE inbound_mail m SET processed_at = $3, error = f.error
FROM unnest($1::int[], $2::text[]) AS f(id, error) WHERE m.id = f.id
"""


async def _file(handler: InboundEmail, known: identities.Owners, seen: set[str]) -> str:
    """File one mail of the batch; the inbound row's error column: "" or why it was not filed."""
    mail_id = handler.mail.message_id
    if mail_id and mail_id in seen:
        return "duplicate Message-ID"
    bounce = bounces.parse(bytes(handler.row["content"]))
    if bounce is not None:  # a DSN for an email we sent (VERP envelope sender), not a message from the client
        return await bounces.file(handler.row, bounce)
    await handler.handle(known)
    if mail_id:
        seen.add(mail_id)
    return ""
