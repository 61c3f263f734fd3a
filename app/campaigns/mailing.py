"""A campaign email into the shop's outbox: tracked links and open pixel (app.campaigns.tracking), the RFC 8058
one-click unsubscribe headers and a footer link (app.consent), then the outbox's own job delivers it with retries."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from markupsafe import Markup

from app.campaigns import tracking
from app.consent import services as consent
from app.email import config as email_config
from app.email import templating as email_templating
from app.email.outbound import new_message_id
from app.lib import i18n, quotas
from app.lib.db import current_uow
from app.lib.errors import Invalid
from app.lib.jobs import enqueue
from app.timeline import services as timeline

URL_RE = re.compile(r"https?://[^\s<>()\"']+[^\s<>()\"'.,;:!?]")
SEND_JOB = "messaging.send_email"


def _track_links(body: str, token: str) -> str:
    def swap(match: re.Match[str]) -> str:
        try:
            return tracking.click_url(token, match.group(0))
        except Invalid:
            return match.group(0)

    return URL_RE.sub(swap, body)


async def queue_email(campaign: dict[str, Any], r: dict[str, Any], rendered: dict[str, str]) -> int:
    """Put one recipient's email in the outbox (in the caller's transaction, with the recipient's 'sent'), and
    queue its delivery. Raises a DomainError when the shop has no outgoing email or its plan's quota is used up."""
    _, sender = await email_config.require_account()
    await quotas.check("messages_per_day")
    unsubscribe = consent.one_click_url(r["contact"], "email", campaign["purpose"], ref=r["token"])
    with i18n.viewing(r["language"] or None, r["timezone"] or None):
        footer = i18n.gettext("Unsubscribe: %(url)s", url=unsubscribe)
    text = f"{_track_links(rendered['body'], r['token'])}\n\n--\n{footer}\n"
    pixel = Markup('<img src="{}" width="1" height="1" alt="">').format(tracking.open_pixel_url(r["token"]))
    html = email_templating.to_html(text) + pixel
    reply_token = secrets.token_hex(10)
    conn = current_uow().connection
    email_id = int(await conn.fetchval(
        "INSERT INTO email_message (direction, contact, status, message_id, reply_token, subject, from_address, "
        "to_address, text, html, attachments, headers, created_at) VALUES ('out', $1, 'queued', $2, $3, $4, $5, $6, "
        "$7, $8, '[]', $9::jsonb, now()) RETURNING id", r["contact"], new_message_id(reply_token), reply_token,
        rendered["subject"][:300], sender, r["address"], text, str(html),
        json.dumps(consent.list_unsubscribe_headers(unsubscribe))))
    interaction_id = await timeline.record(
        r["contact"], "email", "out", rendered["subject"][:200] or rendered["body"][:200], actor_type="system",
        links={"email_id": email_id},
        payload={"event": "email", "status": "queued", "to": r["address"], "body": rendered["body"][:2000],
                 "campaign_id": campaign["id"], "campaign_recipient_id": r["id"]})
    await conn.execute("UPDATE email_message SET interaction_id = $2 WHERE id = $1", email_id, interaction_id)
    await enqueue(SEND_JOB, {"email_id": email_id})
    return email_id
