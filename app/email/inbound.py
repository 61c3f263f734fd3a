"""Processing a stored inbound email: parse, find or create the contact, thread into its conversation, timeline.

One job per stored mail (mail-in queues it with the mail), but a job files up to BATCH mails of its shop in one
unit of work: its own, then others still waiting, one filer per shop at a time. The job of a mail filed already
ends without the lock and without a write; one that waited for the lock while a batch filed its mail files the
next waiting ones, so a burst's jobs pass the lock from batch to batch. The batch is filed set-based
(app/email/inbound_batch.py: a few statements for the whole batch) inside a savepoint; when that fails, it is
rolled back and the mails are filed one by one, each in a savepoint: a mail that fails there is rolled back alone
and left to its own job, which retries it (and keeps the failure); a failure of the job's own mail fails the job.
The jobs of the mails a batch took find them filed and stop.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
from typing import Any

import structlog

from app.contacts import identities
from app.conversations import message_events
from app.conversations import services as conversations
from app.email import bounces, inbound_batch, outbound
from app.email.listener import split_address
from app.email.parse import ParsedMail, parse
from app.email.tables import EmailMessage
from app.lib.clock import now
from app.lib.db import resolve_active_cached, tenant_context
from app.lib.errors import Invalid
from app.lib.identities import normalize_email
from app.lib.jobs import QUEUE_TABLE
from realtime import channels
from realtime.publish import emit

log = structlog.get_logger(__name__)

BATCH = 50
JOB = "messaging.process_inbound"
"""Mails one job files in one transaction (its own and up to BATCH - 1 waiting ones). An open transaction holds back
the delivery of every shop's events committed after it began (the safe horizon, realtime/log.py), so a bigger batch
delays the consoles longer; 100 and 200 measured no faster than 50 (docs/architecture.md)."""


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


_FILER = "SELECT pg_advisory_xact_lock($1), set_config('synchronous_commit', 'off', true)"
"""The shop's filer lock, and a commit that does not wait for the disk: a batch lost in a database crash is lost
with its mails' processed marks and the deletion of their jobs (one transaction), so their jobs file them again; and
the queue's acknowledgement of the job, a commit that does wait, comes later in the log and flushes the batch too."""
_FILED_ALREADY = "SELECT processed_at IS NOT NULL FROM inbound_mail WHERE id = $1"
_OWN = "SELECT * FROM inbound_mail WHERE id = $1 AND processed_at IS NULL FOR UPDATE"
_WAITING = ("SELECT * FROM inbound_mail WHERE processed_at IS NULL AND id <> $1 ORDER BY id LIMIT $2 "
            "FOR UPDATE SKIP LOCKED")
"""Waiting mails to batch, their jobs' included: those jobs wait for the shop's filer lock, then find them filed."""


FILED_MEMORY = 10_000
"""Inbound ids a shop's batches filed in this process lately, remembered after their commit: the jobs of a burst are
mostly picked by the worker whose batches filed their mails, and those end without a query at all. (Safe with the
filer's commit not waiting for the disk: the job's acknowledgement is a commit later in the log, which flushes it.)"""
_filed_here: dict[tuple[int, str], dict[int, None]] = {}
"""(Tenant id, schema) -> inbound ids in filing order (a dict as an ordered set). The ids are the shop's own, and a
shop made again under the same name has another tenant id."""


async def _remember(shop: tuple[int, str], ids: list[int]) -> None:
    filed = _filed_here.setdefault(shop, {})
    filed.update(dict.fromkeys(ids))
    while len(filed) > FILED_MEMORY:
        del filed[next(iter(filed))]


def _filer_key(schema: str) -> int:
    """The advisory lock of a shop's inbound filing (64 bits of a hash, as app.contacts.identities keys addresses)."""
    digest = hashlib.blake2b(f"inbound-filer\x00{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def process(payload: dict[str, Any]) -> None:
    """Job: parse and file one stored inbound mail, and up to BATCH - 1 others of the shop still waiting (BATCH of
    them when its own was filed by a batch it waited for). Idempotent: a processed mail is left alone (the filer
    lock makes the job of a mail another job is filing wait for that one's commit, then find it done)."""
    tenant = await resolve_active_cached(payload["tenant"])  # a job per mail: the burst's jobs share one lookup
    if tenant is None or payload["inbound_id"] in _filed_here.get((tenant.id, tenant.schema), ()):
        return
    async with tenant_context(tenant) as uow:
        # One filer per shop at a time, taken before any row: the jobs of a burst of mail wait here while the first
        # files their mails in its batch, then find them filed; filers that ran side by side would each lock a few
        # mails and then queue behind each other for the senders' addresses and the shop's event counter anyway.
        # A mail a batch filed already is seen without the lock and without a write: the job of every mail of a
        # burst that the worker picked before its batch committed ends here, in a read-only transaction.
        if await uow.connection.fetchval(_FILED_ALREADY, payload["inbound_id"]):
            return
        await uow.connection.execute(_FILER, _filer_key(uow.schema))
        # Its own mail first, unless a batch filed it while this job waited for the lock: then the job files the next
        # waiting ones all the same, so the lock passes from batch to batch without a gap (the jobs of a burst queue
        # for it together, and the mails of the next ones in the queue are the ones waiting).
        own = await uow.connection.fetchrow(_OWN, payload["inbound_id"])
        batch: list[InboundEmail] = [InboundEmail(dict(own))] if own is not None else []
        for row in await uow.connection.fetch(_WAITING, payload["inbound_id"], BATCH - len(batch)):
            try:
                batch.append(InboundEmail(dict(row)))
            except Exception:  # its own job parses it again and keeps the failure
                log.warning("inbound_batch_parse_failed", inbound_id=row["id"], exc_info=True)
        if not batch:
            return
        # DSNs for mail we sent are filed as bounces, not as messages from clients (app/email/bounces.py).
        filed: dict[int, str] = {}
        handlers = []
        for handler in batch:
            bounce = bounces.parse(bytes(handler.row["content"])) if bounces.may_be(handler.row["content"]) else None
            if bounce is None:
                handlers.append(handler)
            else:
                filed[handler.row["id"]] = await bounces.file(handler.row, bounce)
        if handlers:
            # The senders' addresses in one lock, before anything emits (identities: addresses first, then rows).
            known = await identities.claim(emails=[h.address for h in handlers if h.address])
            ids = [h.mail.message_id for h in handlers if h.mail.message_id]
            seen = {r["message_id"] for r in await uow.connection.fetch(_SEEN, ids)} if ids else set()
            try:
                async with uow.savepoint():  # set-based; when it fails, nothing of it stays and the mails go one by one
                    filed.update(await inbound_batch.Batch(handlers, copy.deepcopy(known), set(seen)).file())
            except Exception:
                log.warning("inbound_batch_failed_filing_one_by_one", mails=len(handlers), exc_info=True)
                filed.update(await _one_by_one(uow, handlers, known, seen, own=payload["inbound_id"]))
        await uow.connection.execute(_FILED, list(filed), list(filed.values()), now())
        uow.after_commit(functools.partial(_remember, (tenant.id, tenant.schema), list(filed)))
        # The queued jobs of the mails this batch filed have nothing left to do: gone with the same commit, so a burst
        # does not leave a no-op job per mail waiting for the filer lock one after another.
        await uow.connection.execute(_DONE_JOBS, JOB, tenant.slug, [i for i in filed if i != payload["inbound_id"]])


async def _one_by_one(uow: Any, handlers: list[InboundEmail], known: identities.Owners, seen: set[str], *,
                      own: int) -> dict[int, str]:
    """Each mail in a savepoint of its own: a batched mail that fails is rolled back alone and left to its own job
    (which retries it and keeps the failure); the job's own mail (inbound id `own`) failing fails the job."""
    filed: dict[int, str] = {}
    for handler in handlers:
        mine = handler.row["id"] == own
        try:
            async with contextlib.nullcontext() if mine else uow.savepoint():
                filed[handler.row["id"]] = await _file(handler, known, seen)
        except Exception:
            if mine:
                raise
            log.warning("inbound_batch_mail_failed", inbound_id=handler.row["id"], exc_info=True)
    return filed


_DONE_JOBS = (  # PgQueuer's own table name goes into the text
    "DELETE FROM " + QUEUE_TABLE + " WHERE entrypoint = $1 AND status = 'queued'"  # noqa: S608
    " AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $2"
    " AND (convert_from(payload, 'UTF8')::jsonb ->> 'inbound_id')::int = ANY($3::int[])")
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
    await handler.handle(known)
    if mail_id:
        seen.add(mail_id)
    return ""
