"""SMS: inbound messages onto the timeline and the queue, outbound through the REST API, delivery statuses."""

from __future__ import annotations

from typing import Any

from app.accounts.services import Principal
from app.contacts import services as contacts
from app.conversations import message_events
from app.conversations import services as conversations
from app.lib import quotas
from app.lib.db import current_tenant, current_uow
from app.lib.errors import DomainError, Invalid
from app.lib.identities import pretty_phone
from app.timeline import services as timeline
from realtime.publish import emit
from telephony import client, sms_consent
from telephony import config as config_service
from telephony.calls import NotReady, contact_for
from telephony.tables import SmsMessage
from telephony.twiml import Urls

MAX_BODY = 1600


class Unsubscribed(client.TwilioUnavailable):
    """Twilio refused with 21610: the number texted STOP to the shop's number (409: a retry cannot fix it)."""

    status_code = 409
# Forward-only: a late "sent" never overwrites "delivered"; failed/undelivered/delivered are final.
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3, "received": 4,
               "delivered": 5, "undelivered": 5, "failed": 5, "read": 6, "canceled": 5}
FINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read", "received"})


async def on_inbound(p: dict[str, str], meta: dict[str, Any]) -> None:
    """A customer texted the shop: the message lands on the contact (new for an unknown number) and in the queue."""
    sid = p.get("MessageSid") or p["SmsSid"]
    conn = current_uow().connection
    if await conn.fetchval("SELECT 1 FROM sms_message WHERE sid = $1", sid):
        return
    contact_id = await contact_for(p.get("From", ""))
    body = p.get("Body", "")
    label = pretty_phone(p.get("From", "")) if p.get("From", "").startswith("+") else p.get("From", "")
    conversation_id, interaction_id = await conversations.receive_inbound(
        "sms", contact_id, summary=body[:200] or "(empty SMS)", subject=f"SMS from {label}: {body[:60]}",
        from_address=p.get("From", ""), external_ref=sid,
        payload={"event": "sms", "sid": sid, "body": body, "from": p.get("From", ""), "status": "received",
                 "num_media": int(p.get("NumMedia") or 0)})
    rows = await SmsMessage.insert(SmsMessage(
        sid=sid, direction="in", from_number=p.get("From", "")[:30], to_number=p.get("To", "")[:30], body=body,
        status="received", contact=contact_id, conversation=conversation_id,
        interaction_id=interaction_id)).returning(SmsMessage.id)
    if contact_id is not None:
        await emit(message_events.MESSAGE_RECEIVED, contact_id=contact_id, message_id=rows[0]["id"],
                   conversation_id=conversation_id, channel="sms")
        reply = await sms_consent.on_keyword(contact_id, p)
        if reply:
            await _consent_reply(contact_id, p.get("From", ""), reply)


async def _consent_reply(contact_id: int, number: str, text: str) -> None:
    """The answer to a STOP/START keyword. A refusal a retry cannot fix goes on the timeline (the ledger entry
    stands); Twilio unreachable: the webhook job is retried."""
    conn = current_uow().connection
    try:
        async with conn.transaction():  # a savepoint: a refused reply leaves the opt-out standing
            await send(None, contact_id, text, number, extra={"consent_reply": True})
    except DomainError as exc:
        if exc.status_code >= 500 and exc.extra.get("twilio_code") is None:
            raise
        await timeline.record(contact_id, "sms", "out", "Consent confirmation SMS to %(to)s not sent: %(reason)s",
                              params={"to": pretty_phone(number), "reason": exc.detail},
                              payload={"event": "consent_reply_failed", "reason": exc.detail})


async def on_status(p: dict[str, str], meta: dict[str, Any]) -> None:
    sid = p.get("MessageSid") or p["SmsSid"]
    status = p.get("MessageStatus") or p.get("SmsStatus", "")
    conn = current_uow().connection
    row = await conn.fetchrow("SELECT * FROM sms_message WHERE sid = $1 FOR UPDATE", sid)
    if row is None:
        # Twilio may call back before the request that sent the message has committed: retry later.
        raise NotReady(f"status {status} for message {sid} that is not known yet")
    if row["status"] in FINAL or STATUS_RANK.get(status, 0) <= STATUS_RANK.get(row["status"], 0):
        return
    await conn.execute("UPDATE sms_message SET status = $2, error_code = $3, updated_at = now() WHERE id = $1",
                       row["id"], status, p.get("ErrorCode", "")[:10])
    if p.get("ErrorCode") == str(sms_consent.UNSUBSCRIBED) and row["direction"] == "out":
        await sms_consent.on_unsubscribed_error(row["contact"], row["to_number"], f"on message {sid}")
    if row["interaction_id"] is not None:
        # The timeline entry shows the delivery status; only its payload's status and error change.
        await timeline.update_payload(row["interaction_id"], status=status, error_code=p.get("ErrorCode", ""))
    if row["contact"] is not None:
        await emit(message_events.MESSAGE_STATUS_CHANGED, contact_id=row["contact"], message_id=row["id"],
                   status=status, channel="sms")


async def send(actor: Principal | None, contact_id: int, body: str, number: str | None = None, *,
               links: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send an SMS from the shop's first number; statuses arrive on the sms-status webhook. `links` and `extra`
    go onto the timeline entry (e.g. the order a portal link SMS belongs to). `actor` None: the system sends it (a
    callback's confirmation, written in the contact's language)."""
    card = await contacts.get(contact_id)
    body = (body or "").strip()
    if not body:
        raise Invalid("The message is empty.", field="body")
    if len(body) > MAX_BODY:
        raise Invalid("An SMS can be at most %(max_body)s characters.", field="body", max_body=MAX_BODY)
    to = await contacts.number_to_reach(card, number)
    config = await config_service.require()
    await quotas.check("messages_per_day")  # before Twilio is asked: a refused message is not sent
    urls = Urls(current_tenant().slug)
    try:
        msg = await client.call(config, lambda c: c.messages.create(to=to, from_=config.numbers[0], body=body,
                                                                    status_callback=urls.sms_status))
    except client.TwilioUnavailable as exc:
        if exc.extra.get("twilio_code") != sms_consent.UNSUBSCRIBED:
            raise
        # The number texted STOP to the shop's number: Twilio refuses it until START. The opt-out is recorded and
        # kept although the caller sees an error (an API request or a campaign job would otherwise roll it back).
        await sms_consent.on_unsubscribed_error(contact_id, to, "on a send")
        current_uow().keep_on_error()
        raise Unsubscribed("This number unsubscribed (it texted STOP to the shop's number): Twilio refuses to text "
                           "it until it texts START.", field="number",
                           extra={"twilio_code": exc.extra["twilio_code"]}) from None
    return await record_outbound(actor, contact_id, sid=msg.sid, to=to, from_=config.numbers[0], body=body,
                                 status=msg.status or "queued", links=links, extra=extra)


async def record_outbound(actor: Principal | None, contact_id: int, *, sid: str, to: str, from_: str, body: str,
                          status: str, links: dict[str, Any] | None = None,
                          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record an SMS Twilio accepted: the timeline entry and the `sms_message` row its status callbacks update.
    `send` calls it; so does a sender that found, after a crash, that Twilio took a message it had not recorded."""
    interaction_id = await timeline.record(
        contact_id, "sms", "out", body[:200], actor_type="user" if actor else "system",
        actor_id=actor.user_id if actor else None, actor_label=actor.label if actor else "", links=links,
        payload={**(extra or {}), "event": "sms", "sid": sid, "body": body, "to": to, "status": status})
    conn = current_uow().connection
    row = await conn.fetchrow(
        "INSERT INTO sms_message (sid, direction, from_number, to_number, body, status, error_code, contact, "
        "interaction_id, sent_by, created_at, updated_at) VALUES ($1, 'out', $2, $3, $4, $5, '', $6, $7, $8, now(), "
        "now()) RETURNING id", sid, from_, to, body, status, contact_id,
        interaction_id, actor.user_id if actor else None)
    await emit(message_events.MESSAGE_SENT, contact_id=contact_id, message_id=row["id"], channel="sms")
    return await get(row["id"])


async def sent_today() -> int:
    """SMS sent since midnight UTC, as the plan's messages-per-day quota counts them."""
    return int(await current_uow().connection.fetchval(
        "SELECT count(*) FROM sms_message WHERE direction = 'out' AND created_at >= date_trunc('day', now(), 'UTC')"))


async def get(message_id: int) -> dict[str, Any]:
    row = await SmsMessage.select().where(SmsMessage.id == message_id).first()
    assert row is not None
    return row


async def for_contact(contact_id: int) -> list[dict[str, Any]]:
    await contacts.get(contact_id)
    return await SmsMessage.select().where(SmsMessage.contact == contact_id).order_by(SmsMessage.id, ascending=False)
