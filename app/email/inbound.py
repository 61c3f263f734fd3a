"""Processing a stored inbound email: parse, find or create the contact, thread into its conversation, timeline."""

from __future__ import annotations

from typing import Any

from app.contacts import identities
from app.conversations import message_events
from app.conversations import services as conversations
from app.email import outbound
from app.email.listener import split_address
from app.email.parse import ParsedMail, parse
from app.email.tables import EmailMessage, InboundMail
from app.lib.clock import now
from app.lib.db import resolve_active, tenant_context
from app.lib.errors import Invalid
from app.lib.identities import normalize_email
from realtime import channels
from realtime.publish import emit


class InboundEmail:
    """One stored inbound mail turned into a message on the right contact and conversation."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.mail: ParsedMail = parse(bytes(row["content"]))

    async def handle(self) -> int:
        parent = await self._thread_parent()
        contact_id = await self._find_or_create_contact()
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
        try:
            address = normalize_email(self.mail.from_address, field="from")
        except Invalid:
            address = ""
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


async def process(payload: dict[str, Any]) -> None:
    """Job: parse and file one stored inbound mail. Idempotent: a processed mail is left alone."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        row = await InboundMail.select().where(InboundMail.id == payload["inbound_id"]).first()
        if row is None or row["processed_at"] is not None:
            return
        handler = InboundEmail(row)
        duplicate = handler.mail.message_id and await EmailMessage.exists().where(
            (EmailMessage.message_id == handler.mail.message_id) & (EmailMessage.direction == "in"))
        if not duplicate:
            await handler.handle()
        await InboundMail.update({InboundMail.processed_at: now(),
                                  InboundMail.error: "duplicate Message-ID" if duplicate else ""}).where(
            InboundMail.id == row["id"])
