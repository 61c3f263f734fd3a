"""Campaign tracking: signed open-pixel and click links for email, and the durable listeners that move a
recipient's milestones (delivered, failed, bounced, opened, clicked, replied, unsubscribed, converted).

Every milestone is written once (the first time wins; conversions add up their revenue) and announces
`campaign.recipient_changed` so the campaign page updates. Links carry the recipient's tracking token and an HMAC
over (tenant, token, target): a link of one shop never verifies on another, and the click redirect only ever goes
to the URL that was in the message (it is inside the signature, not looked up)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from app.campaigns.events import CAMPAIGN_RECIPIENT_CHANGED
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Invalid, NotFound
from app.lib.security import constant_time_equals, sign
from app.settings import get_settings
from realtime.durable import DurableListener
from realtime.events import Event
from realtime.publish import emit

SIGN_PURPOSE = "campaigns.tracking"
MAX_TARGET = 2000
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
         b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
"""A transparent 1x1 GIF (43 bytes)."""


# -- links -------------------------------------------------------------------------------------------------------

def _sig(kind: str, token: str, target: str = "") -> str:
    return sign(f"{current_tenant().id}|{kind}|{token}|{target}", SIGN_PURPOSE)[:32]


def _base() -> str:
    return f"{get_settings().app.base_url}/t/{current_tenant().slug}/track"


def check_target(target: str) -> str:
    """A link worth tracking: an absolute http(s) URL of sane length."""
    parsed = urllib.parse.urlsplit(target)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(target) > MAX_TARGET:
        raise Invalid("A tracked link must be an absolute http(s) address of at most %(max)s characters.",
                      field="target", max=MAX_TARGET)
    return target


def open_pixel_url(token: str) -> str:
    """The <img> source that records the email's first open."""
    return f"{_base()}/o/{token}/{_sig('o', token)}.gif"


def click_url(token: str, target: str) -> str:
    """A link that records the click, then redirects to `target` (which must be the message's own link)."""
    check_target(target)
    return f"{_base()}/c/{token}/{_sig('c', token, target)}?u={urllib.parse.quote(target, safe='')}"


def verify(kind: str, token: str, signature: str, target: str = "") -> None:
    """404 for a link that was not made by this shop for this token (and this target)."""
    if not token or len(token) > 32 or not constant_time_equals(signature, _sig(kind, token, target)):
        raise NotFound("This link is not valid.")


# -- milestones --------------------------------------------------------------------------------------------------

async def _announce(rows: list[Any]) -> list[int]:
    by_campaign: dict[int, list[int]] = {}
    for r in rows:
        by_campaign.setdefault(int(r["campaign"]), []).append(int(r["id"]))
    for campaign_id, ids in by_campaign.items():
        await emit(CAMPAIGN_RECIPIENT_CHANGED, campaign_id=campaign_id, recipient_ids=ids)
    return [i for ids in by_campaign.values() for i in ids]


async def opened(token: str, at: dt.datetime | None = None) -> bool:
    """The pixel was fetched: the first open is kept."""
    rows = await current_uow().connection.fetch(
        "UPDATE campaign_recipient SET opened_at = coalesce($2, now()) WHERE token = $1 AND opened_at IS NULL "
        "AND holdout = false RETURNING id, campaign", token, at)
    return bool(await _announce(rows))


async def clicked(token: str) -> bool:
    """A tracked link was followed: the first click is kept (and counts as an open when the pixel was blocked)."""
    conn = current_uow().connection
    if not await conn.fetchval("SELECT 1 FROM campaign_recipient WHERE token = $1", token):
        raise NotFound("This link is not valid.")
    rows = await conn.fetch(
        "UPDATE campaign_recipient SET clicked_at = now(), opened_at = coalesce(opened_at, now()) "
        "WHERE token = $1 AND clicked_at IS NULL AND holdout = false RETURNING id, campaign", token)
    return bool(await _announce(rows))


SMS_DELIVERED = frozenset({"delivered", "read"})
SMS_FAILED = frozenset({"failed", "undelivered", "canceled"})
EMAIL_BOUNCED = frozenset({"bounced"})
EMAIL_FAILED = frozenset({"failed"})


async def on_message_status(event: Event) -> None:
    """message.status_changed of an SMS or email a campaign sent: delivered, failed, or bounced (email)."""
    data = event.data
    status, channel, message_id = data.get("status") or "", data.get("channel"), data.get("message_id")
    column = {"sms": "sms_message_id", "email": "email_message_id"}.get(channel or "")
    if column is None or message_id is None:
        return
    conn = current_uow().connection
    if channel == "sms" and status in SMS_DELIVERED:
        sql = ("UPDATE campaign_recipient SET status = 'delivered', delivered_at = $2 WHERE sms_message_id = $1 "
               "AND status IN ('sending', 'sent') RETURNING id, campaign")
    elif status in (SMS_FAILED if channel == "sms" else EMAIL_FAILED):
        sql = (f"UPDATE campaign_recipient SET status = 'failed', failed_at = $2 WHERE {column} = $1 "  # noqa: S608
               "AND status IN ('sending', 'sent') RETURNING id, campaign")
    elif channel == "email" and status in EMAIL_BOUNCED:
        sql = ("UPDATE campaign_recipient SET status = 'bounced', failed_at = $2 WHERE email_message_id = $1 "
               "AND status IN ('sending', 'sent', 'delivered') RETURNING id, campaign")
    else:
        return
    await _announce(await conn.fetch(sql, int(message_id), event.at))


LATEST_SENT = """
SELECT r.id, r.campaign, r.token FROM campaign_recipient r JOIN campaign c ON c.id = r.campaign
WHERE r.contact = $1 AND c.channel = $2 AND r.holdout = false AND r.sent_at IS NOT NULL
  AND r.sent_at <= $3 AND r.sent_at >= $3 - make_interval(days => c.conversion_days)
ORDER BY r.sent_at DESC, r.id DESC LIMIT 1
"""


async def on_message_received(event: Event) -> None:
    """An SMS or email from a contact after a campaign reached them on that channel (within its conversion
    window): the latest such recipient is 'replied', and the conversation is tagged with the campaign."""
    data = event.data
    contact_id, channel = data.get("contact_id"), data.get("channel")
    if not contact_id or channel not in ("sms", "email"):
        return
    conn = current_uow().connection
    row = await conn.fetchrow(LATEST_SENT, int(contact_id), channel, event.at)
    if row is None:
        return
    rows = await conn.fetch(
        "UPDATE campaign_recipient SET replied_at = coalesce(replied_at, $2), "
        "reply_conversation = coalesce($3, reply_conversation) WHERE id = $1 RETURNING id, campaign",
        row["id"], event.at, data.get("conversation_id"))
    await _announce(rows)


async def on_consent_recorded(event: Event) -> None:
    """A marketing opt-out: by a campaign's one-click link (its ref is the recipient's token), or by a keyword
    or carrier error after a campaign SMS (the latest one within the window) -> 'unsubscribed'."""
    data = event.data
    if data.get("status") != "opt_out" or data.get("purpose") != "marketing" or data.get("source") not in (
            "keyword", "one_click", "carrier_error"):
        return  # an operator's or an import's entry is not the recipient reacting to the campaign
    conn = current_uow().connection
    ref = data.get("ref") or ""
    if ref:
        rows = await conn.fetch(
            "UPDATE campaign_recipient SET unsubscribed_at = $2 WHERE token = $1 AND contact = $3 "
            "AND unsubscribed_at IS NULL RETURNING id, campaign", ref[:32], event.at, int(data["contact_id"]))
    else:
        row = await conn.fetchrow(LATEST_SENT, int(data["contact_id"]), data.get("channel"), event.at)
        if row is None:
            return
        rows = await conn.fetch("UPDATE campaign_recipient SET unsubscribed_at = $2 WHERE id = $1 "
                                "AND unsubscribed_at IS NULL RETURNING id, campaign", row["id"], event.at)
    await _announce(rows)


LATEST_TOUCH = """
SELECT r.id FROM campaign_recipient r JOIN campaign c ON c.id = r.campaign
WHERE r.contact = $1 AND (r.sent_at IS NOT NULL OR r.holdout)
  AND coalesce(r.sent_at, r.queued_at) <= $2
  AND coalesce(r.sent_at, r.queued_at) >= $2 - make_interval(days => c.conversion_days)
ORDER BY coalesce(r.sent_at, r.queued_at) DESC, r.id DESC LIMIT 1
"""


async def on_order_created(event: Event) -> None:
    """An order placed within a campaign's conversion window after it reached the contact (or, for the holdout,
    after the audience was frozen) converts the latest such recipient (last touch) and adds the order's total to
    its revenue. Holdout recipients convert too: that is what lift is measured against."""
    conn = current_uow().connection
    order = await conn.fetchrow("SELECT id, contact, total, placed_at FROM shop_order WHERE id = $1",
                                int(event.data["order_id"]))
    if order is None:
        return
    touch = await conn.fetchval(LATEST_TOUCH, order["contact"], order["placed_at"])
    if touch is None:
        return
    rows = await conn.fetch(
        "UPDATE campaign_recipient SET converted_at = coalesce(converted_at, $2), order_id = coalesce(order_id, $3), "
        "revenue = revenue + $4 WHERE id = $1 AND (order_id IS NULL OR order_id <> $3) RETURNING id, campaign",
        touch, order["placed_at"], order["id"], int(order["total"] or 0))
    await _announce(rows)


LISTENERS = (
    DurableListener("campaign_tracking.delivery", on_message_status,
                    frozenset({"message.status_changed"}),
                    "Moves a campaign recipient to delivered, failed or bounced from its message's status."),
    DurableListener("campaign_tracking.replies", on_message_received, frozenset({"message.received"}),
                    "Marks the latest campaign recipient of a contact who wrote back (same channel, within the "
                    "conversion window) as replied and tags the conversation with the campaign."),
    DurableListener("campaign_tracking.unsubscribes", on_consent_recorded,
                    frozenset({"consent.recorded"}),
                    "Marks a campaign recipient unsubscribed after a one-click link or an SMS keyword opt-out."),
    DurableListener("campaign_tracking.conversions", on_order_created, frozenset({"order.created"}),
                    "Credits an order placed within a campaign's conversion window to its latest recipient "
                    "(last touch, holdout included) with the order's total."),
)
"""The milestone listeners (the manifest runs them; the 06:46 migration starts their cursors with the shop)."""


# -- the console's badge -------------------------------------------------------------------------------------------

async def campaigns_of(conversation_ids: list[int]) -> dict[int, str]:
    """The campaign a conversation is a reply to, by conversation id (name)."""
    if not conversation_ids:
        return {}
    rows = await current_uow().connection.fetch(
        "SELECT DISTINCT ON (r.reply_conversation) r.reply_conversation, c.name FROM campaign_recipient r "
        "JOIN campaign c ON c.id = r.campaign WHERE r.reply_conversation = ANY($1::int[]) "
        "ORDER BY r.reply_conversation, r.replied_at DESC", conversation_ids)
    return {r["reply_conversation"]: r["name"] for r in rows}


async def console_campaigns(ctx: dict[str, Any]) -> dict[str, Any]:
    """Console extra: `campaign_of` {conversation id: campaign name} for the waiting and own conversations."""
    ids = sorted({int(c["id"]) for c in [*ctx.get("waiting", []), *ctx.get("mine", [])]})
    return {"campaign_of": await campaigns_of(ids)}
