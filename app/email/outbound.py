"""Outbound email: compose (template, safe HTML, attachments, threading headers), queue in the request's
transaction, deliver from a job with retries; the message row and its timeline entry go queued -> sent | failed."""

from __future__ import annotations

import base64
import binascii
import email.utils
import secrets
from email.message import EmailMessage as MimeMessage
from typing import Any

import aiosmtplib
import structlog

from app.accounts.services import Principal
from app.accounts.tables import Workspace
from app.contacts import services as contacts
from app.conversations import message_events
from app.conversations.tables import Conversation
from app.email import config, templating
from app.email.tables import EmailMessage, EmailTemplate
from app.lib import mail, quotas
from app.lib.clock import now
from app.lib.db import current_uow, resolve_active, tenant_context
from app.lib.domain import MergeStep
from app.lib.errors import Invalid, NotFound
from app.lib.identities import normalize_email
from app.lib.jobs import enqueue
from app.lib.storage import get_storage
from app.settings import get_settings
from app.timeline import services as timeline
from realtime.publish import emit

log = structlog.get_logger(__name__)

MAX_SUBJECT = 300
MAX_BODY = 100_000
MAX_ATTACHMENTS = 10
SEND_TIMEOUT = 30.0


def new_message_id(token: str) -> str:
    """`<token>.<random>@MAIL_DOMAIN` (stored without brackets): the token threads replies that keep only it."""
    return f"{token}.{secrets.token_hex(6)}@{get_settings().mail.mail_domain}"


def _attachment(i: int, item: Any) -> tuple[str, str, bytes]:
    field = f"attachments[{i}]"
    if not isinstance(item, dict):
        raise Invalid("An attachment is {filename, content_type, data (base64)}.", field=field)
    filename = str(item.get("filename") or "").strip().replace("/", "_").replace("\\", "_")[:200]
    if not filename:
        raise Invalid("An attachment needs a filename.", field=f"{field}.filename")
    ctype = str(item.get("content_type") or "application/octet-stream")
    if "/" not in ctype or len(ctype) > 100:
        raise Invalid("content_type is a MIME type like application/pdf.", field=f"{field}.content_type")
    try:
        data = base64.b64decode(str(item.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("The attachment's data must be base64.", field=f"{field}.data") from None
    if len(data) > get_settings().storage.upload_max_mb * 1024 * 1024:
        raise Invalid("An attachment can be at most %(upload_max_mb)s MiB.", field=field,
                      upload_max_mb=get_settings().storage.upload_max_mb)
    return filename, ctype, data


async def _store(filename: str, ctype: str, data: bytes) -> dict[str, Any]:
    async def chunks() -> Any:
        yield data

    key = await get_storage().put(chunks(), namespace="mail")
    return {"key": key, "filename": filename, "content_type": ctype, "size": len(data)}


async def _thread_of(reply_to_id: int | None, conversation_id: int | None, contact_id: int) -> dict[str, Any]:
    """Threading for a reply: the message answered (given, or the conversation's latest) and its conversation."""
    parent = None
    if reply_to_id is not None:
        parent = await EmailMessage.select().where(
            (EmailMessage.id == reply_to_id) & (EmailMessage.contact == contact_id)).first()
        if parent is None:
            raise Invalid("No email %(reply_to_id)s of this contact to reply to.", field="reply_to",
                          reply_to_id=reply_to_id)
    elif conversation_id is not None:
        if not await Conversation.exists().where(
                (Conversation.id == conversation_id) & (Conversation.contact == contact_id)):
            raise Invalid("No conversation %(conversation_id)s of this contact.", field="conversation_id",
                          conversation_id=conversation_id)
        parent = await EmailMessage.select().where(EmailMessage.conversation == conversation_id).order_by(
            EmailMessage.id, ascending=False).first()
    if parent is None:
        return {"conversation": conversation_id, "in_reply_to": "", "refs": "", "subject": ""}
    refs = " ".join(r for r in (parent["thread_refs"], f"<{parent['message_id']}>") if r)
    return {"conversation": parent["conversation"] or conversation_id, "in_reply_to": parent["message_id"],
            "refs": " ".join(refs.split()[-20:]), "subject": parent["subject"]}


async def sent_today() -> int:
    """Emails sent (queued included) since midnight UTC, as the plan's messages-per-day quota counts them."""
    return int(await current_uow().connection.fetchval(
        "SELECT count(*) FROM email_message WHERE direction = 'out' AND created_at >= date_trunc('day', now(), 'UTC')"))


async def compose(actor: Principal, contact_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Queue an email to a contact. Body: subject, body (plain text), optional to, template_id, variables,
    reply_to (an email id) or conversation_id, attachments [{filename, content_type, data}]."""
    contact = await contacts.get(contact_id)
    to = str(data.get("to") or (contact["emails"][0] if contact["emails"] else ""))
    if not to:
        raise Invalid("This contact has no email address; give one in `to`.", field="to")
    to = normalize_email(to, field="to")
    thread = await _thread_of(data.get("reply_to"), data.get("conversation_id"), contact_id)
    subject = str(data.get("subject") or "")
    body = str(data.get("body") or "")
    template_id = data.get("template_id")
    if template_id is not None:
        tpl = await EmailTemplate.select().where(EmailTemplate.id == template_id).first()
        if tpl is None:
            raise Invalid("No template %(template_id)s.", field="template_id", template_id=template_id)
        subject, body = subject or tpl["subject"], body or tpl["body"]
    ws = await Workspace.select(Workspace.display_name).first()
    variables = templating.variables_for(contact, actor, ws["display_name"] if ws else "",
                                         data.get("variables") if isinstance(data.get("variables"), dict) else None)
    subject = templating.render(subject, variables, field="subject").strip()
    body = templating.render(body, variables, field="body")
    if not subject and thread["subject"]:
        subject = thread["subject"] if thread["subject"].lower().startswith("re:") else f"Re: {thread['subject']}"
    if not subject or len(subject) > MAX_SUBJECT or "\n" in subject:
        raise Invalid("The subject must be one line of 1 to %(max_subject)s characters.", field="subject",
                      max_subject=MAX_SUBJECT)
    if not body.strip() or len(body) > MAX_BODY:
        raise Invalid("The body must be 1 to %(max_body)s characters.", field="body", max_body=MAX_BODY)
    raw_attachments = data.get("attachments") or []
    if not isinstance(raw_attachments, list) or len(raw_attachments) > MAX_ATTACHMENTS:
        raise Invalid("At most %(max_attachments)s attachments.", field="attachments", max_attachments=MAX_ATTACHMENTS)
    parsed = [_attachment(i, item) for i, item in enumerate(raw_attachments)]
    _, sender = await config.require_account()
    await quotas.check("messages_per_day")
    attachments = [await _store(*item) for item in parsed]
    token = secrets.token_hex(10)
    rows = await EmailMessage.insert(EmailMessage(
        direction="out", contact=contact_id, conversation=thread["conversation"], status="queued",
        message_id=new_message_id(token), in_reply_to=thread["in_reply_to"], thread_refs=thread["refs"],
        reply_token=token, subject=subject, from_address=sender, to_address=to, text=body,
        html=str(templating.to_html(body)), attachments=attachments, sent_by=actor.user_id or None,
    )).returning(EmailMessage.id)
    email_id = int(rows[0]["id"])
    links: dict[str, Any] = {"email_id": email_id}
    if thread["conversation"]:
        links["conversation_id"] = thread["conversation"]
    interaction_id = await timeline.record(
        contact_id, "email", "out", subject, payload={"event": "email", "status": "queued", "to": to,
                                                      "body": body[:2000], "attachments": len(attachments)},
        links=links, actor_type="user" if actor.user_id else "system", actor_id=actor.user_id or None,
        actor_label=actor.name or actor.email)
    await EmailMessage.update({EmailMessage.interaction_id: interaction_id}).where(EmailMessage.id == email_id)
    await enqueue("messaging.send_email", {"email_id": email_id})
    return await get(email_id)


async def reply(actor: Principal, conversation_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Answer an email conversation (the console's reply box): threaded onto the customer's latest email in it,
    sent to the address that wrote; the subject defaults to "Re: ..."."""
    conv = await Conversation.select(Conversation.id, Conversation.contact).where(
        Conversation.id == conversation_id).first()
    if conv is None:
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    if conv["contact"] is None:
        raise Invalid("This conversation has no contact to write to.", field="conversation_id")
    latest = await EmailMessage.select(EmailMessage.id, EmailMessage.from_address).where(
        (EmailMessage.conversation == conversation_id) & (EmailMessage.direction == "in")).order_by(
        EmailMessage.id, ascending=False).first()
    values: dict[str, Any] = {k: v for k, v in data.items() if k in ("subject", "body", "attachments")}
    if latest is None:
        values["conversation_id"] = conversation_id
    else:
        values["reply_to"] = latest["id"]
        values["to"] = data.get("to") or latest["from_address"]
    return await compose(actor, int(conv["contact"]), values)


async def get(email_id: int) -> dict[str, Any]:
    row = await EmailMessage.select(*PUBLIC).where(EmailMessage.id == email_id).first().output(load_json=True)
    if row is None:
        raise NotFound("No email %(email_id)s.", email_id=email_id)
    return row


PUBLIC = (EmailMessage.id, EmailMessage.direction, EmailMessage.contact.as_alias("contact_id"),
          EmailMessage.conversation.as_alias("conversation_id"), EmailMessage.status, EmailMessage.message_id,
          EmailMessage.in_reply_to, EmailMessage.subject, EmailMessage.from_address, EmailMessage.to_address,
          EmailMessage.text, EmailMessage.attachments, EmailMessage.error, EmailMessage.attempts,
          EmailMessage.created_at, EmailMessage.sent_at)


async def for_contact(contact_id: int) -> list[dict[str, Any]]:
    await contacts.get(contact_id)
    return await EmailMessage.select(*PUBLIC).where(EmailMessage.contact == contact_id).order_by(
        EmailMessage.id).output(load_json=True)


def build_mime(row: dict[str, Any], files: list[tuple[dict[str, Any], bytes]], slug: str) -> MimeMessage:
    msg = MimeMessage()
    msg["From"] = row["from_address"]
    msg["To"] = row["to_address"]
    msg["Subject"] = row["subject"]
    msg["Date"] = email.utils.format_datetime(row["created_at"])
    msg["Message-ID"] = f"<{row['message_id']}>"
    msg["Reply-To"] = config.reply_address(row["reply_token"], slug)
    if row["in_reply_to"]:
        msg["In-Reply-To"] = f"<{row['in_reply_to']}>"
        msg["References"] = row["thread_refs"] or f"<{row['in_reply_to']}>"
    for name, value in (row.get("headers") or {}).items():
        msg[name] = value
    msg.set_content(row["text"])
    if row["html"]:
        msg.add_alternative(row["html"], subtype="html")
    for meta, data in files:
        maintype, _, subtype = meta["content_type"].partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=meta["filename"])
    return msg


def _permanent(exc: Exception) -> str | None:
    """The server's reason when it refused for good (5xx); None for what is worth retrying (down, 4xx, timeout)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        if codes and all(c >= 500 for c in codes):
            return "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return None
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500:
        return f"{exc.code} {exc.message}"
    return None


async def _set_status(row: dict[str, Any], status: str, **changes: Any) -> None:
    await EmailMessage.update({getattr(EmailMessage, k): v for k, v in changes.items()} | {
        EmailMessage.status: status}).where(EmailMessage.id == row["id"])
    if row["interaction_id"] is not None:
        await timeline.update_payload(row["interaction_id"], status=status, error=changes.get("error", ""))
    if row["contact"]:
        kind = message_events.MESSAGE_SENT if status == "sent" else message_events.MESSAGE_STATUS_CHANGED
        await emit(kind, contact_id=row["contact"], message_id=row["id"], status=status, channel="email")


async def deliver(payload: dict[str, Any]) -> None:
    """Job: send one queued email. Transient failures raise (the queue retries with back-off, for hours);
    a permanent refusal marks it failed with the server's reason. Already sent or failed: nothing to do.

    Sent once, as far as SMTP allows. The Message-ID was made when the email was queued and is stored, so every
    attempt sends the same one. The moment the server answers 250 to the end of DATA, `sent_at` is written in
    its own short transaction (`_accepted`), before QUIT and before the status, timeline and events; a run that
    finds `sent_at` set only finishes that bookkeeping and never sends again. So a server that hangs up after
    its 250, a failure while recording "sent", or a worker that dies after the marker cannot cause a resend.

    What remains is at-least-once, and cannot be closed from our side: if the server has taken the message but
    its 250 never reaches us (connection lost or worker killed after the final dot), or the worker dies (or the
    database refuses the marker) between reading the 250 and committing `sent_at`, the next attempt sends the
    message again, with the same Message-ID, so the receiving side can recognise the copy and drop it.
    """
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        row = await EmailMessage.select().where(EmailMessage.id == payload["email_id"]).first().output(load_json=True)
        if row is None or row["status"] != "queued":
            return
        if row["sent_at"] is not None:  # accepted on an earlier attempt that stopped before recording the rest
            await _set_status(row, "sent", error="")
            return
        found = await config.account()
        if found is None:
            await _set_status(row, "failed", error="Outgoing email is not set up (no SMTP settings).")
            return
        storage = get_storage()
        files = [(meta, await storage.read_all(meta["key"])) for meta in row["attachments"]]
        message = build_mime(row, files, tenant.slug)
    smtp, _ = found

    async def _accepted() -> None:
        async with tenant_context(tenant):
            await EmailMessage.update({EmailMessage.sent_at: now(),
                                       EmailMessage.attempts: row["attempts"] + 1}).where(
                (EmailMessage.id == row["id"]) & EmailMessage.sent_at.is_null())

    try:
        # VERP: bounces (DSNs) come back to the thread's address on our inbound listener (app.email.bounces).
        await mail.send(smtp, message, timeout=SEND_TIMEOUT, on_accepted=_accepted,
                        envelope_from=config.reply_address(row["reply_token"], tenant.slug))
    except Exception as exc:
        reason = _permanent(exc)
        async with tenant_context(tenant):
            if reason is not None:
                await _set_status(row, "failed", error=reason[:2000], attempts=row["attempts"] + 1)
                return
            await EmailMessage.update({EmailMessage.attempts: row["attempts"] + 1,
                                       EmailMessage.error: f"{type(exc).__name__}: {exc}"[:2000]}).where(
                (EmailMessage.id == row["id"]) & EmailMessage.sent_at.is_null())
        raise
    async with tenant_context(tenant):
        await _set_status(row, "sent", error="")


async def send_test(actor: Principal, to: str) -> dict[str, Any]:
    """The settings page's "send test email": sent at once, the server's answer shown to the admin."""
    to = normalize_email(to or actor.email, field="to")
    smtp, sender = await config.require_account()
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Switchboard test email"
    msg["Message-ID"] = f"<{new_message_id('test')}>"
    msg["Date"] = email.utils.formatdate()
    msg.set_content(f"This is a test email from Switchboard, sent by {actor.email}. Outgoing email works.")
    try:
        await mail.send(smtp, msg, timeout=15.0)
    except Exception as exc:
        return {"ok": False, "to": to, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "to": to}


async def _reassign_contact(source: int, target: int) -> int:
    """Merge step: a merged-away contact's emails follow it to the survivor."""
    moved = await EmailMessage.update({EmailMessage.contact: target}).where(
        EmailMessage.contact == source).returning(EmailMessage.id)
    return len(moved)


MERGE_STEP = MergeStep("email", _reassign_contact, tables=("email_message",))
