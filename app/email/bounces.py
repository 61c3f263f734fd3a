"""Bounces: delivery status notifications (RFC 3464) that come back for an email we sent.

Outbound mail goes out with the thread's reply address as its envelope sender (VERP: `slug+token@MAIL_DOMAIN`), so
a receiving server's DSN reaches our inbound SMTP listener like a reply does. A DSN is not a message from the
client: it is filed here instead of opening a conversation. A permanent failure (Action: failed) marks the
original email 'bounced' (found by the Message-ID in the returned headers, else by the address's token) with the
server's diagnostic, and emits message.status_changed (campaign tracking listens); a delay notice marks nothing."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import Message
from typing import Any

from app.conversations import message_events
from app.email.listener import split_address
from app.email.tables import EmailMessage
from app.timeline import services as timeline
from realtime.publish import emit

MAX_DIAGNOSTIC = 500


@dataclasses.dataclass(frozen=True)
class Bounce:
    recipient: str
    status: str
    """The enhanced status code, e.g. 5.1.1."""
    diagnostic: str
    original_message_id: str
    failed: bool = True
    """False for a delay or success notice: filed away, nothing marked."""


def _fields(part: Message) -> list[Message]:
    """The per-message and per-recipient field groups of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    return [email.message_from_string(block + "\n") for block in text.replace("\r\n", "\n").split("\n\n")
            if block.strip()]


def parse(raw: bytes) -> Bounce | None:
    """What a DSN reports (its first permanent failure, else its first notice), or None when it is not a DSN."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "delivery-status":
        return None
    failed: Message | None = None
    notice: Message | None = None
    original = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for group in _fields(part):
                action = (group.get("Action") or "").strip().lower()
                if action == "failed" and failed is None:
                    failed = group
                elif action and notice is None:
                    notice = group
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and not original:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                original = str(inner[0].get("Message-ID") or "")
            elif isinstance(inner, str):
                original = str(email.message_from_string(inner).get("Message-ID") or "")
    group = failed or notice or Message()
    recipient = (group.get("Final-Recipient") or group.get("Original-Recipient") or "").split(";")[-1].strip()
    return Bounce(recipient=recipient, status=(group.get("Status") or "").strip(),
                  diagnostic=" ".join((group.get("Diagnostic-Code") or "").split())[:MAX_DIAGNOSTIC],
                  original_message_id=original.strip().strip("<>"), failed=failed is not None)


async def file(row: dict[str, Any], bounce: Bounce) -> str:
    """Mark the bounced email; returns the inbound row's note ("bounce" or why it matched nothing)."""
    if not bounce.failed:
        return "delivery notice (not a failure)"
    original = None
    if bounce.original_message_id:
        original = await EmailMessage.select().where(
            (EmailMessage.message_id == bounce.original_message_id[:300]) & (EmailMessage.direction == "out")
        ).first()
    if original is None:
        parts = split_address(row["rcpt_to"])
        if parts and parts[1]:  # (slug, token, domain)
            original = await EmailMessage.select().where(
                (EmailMessage.reply_token == parts[1][:40]) & (EmailMessage.direction == "out")).first()
    if original is None:
        return "bounce for no email of ours"
    if original["status"] == "bounced":
        return "bounce (again)"
    reason = f"{bounce.status} {bounce.diagnostic}".strip() or "bounced"
    await EmailMessage.update({EmailMessage.status: "bounced", EmailMessage.error: reason[:2000]}).where(
        EmailMessage.id == original["id"])
    if original["interaction_id"] is not None:
        await timeline.update_payload(original["interaction_id"], status="bounced", error=reason)
    if original["contact"]:
        await emit(message_events.MESSAGE_STATUS_CHANGED, contact_id=original["contact"], message_id=original["id"],
                   status="bounced", channel="email")
    return "bounce"
