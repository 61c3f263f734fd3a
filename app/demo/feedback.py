"""Demo of issue 19's feedback loop: the shop's consent rules (its Russian and Bulgarian SMS keywords), a client who
texted СТОП, and a sent SMS campaign whose recipients carry delivery, reply, unsubscribe and conversion milestones
beside a holdout group, so the campaign page's results (rates, revenue, lift) have something to show."""

from __future__ import annotations

import datetime as dt
import secrets

from app.consent import services as consent
from app.lib.db import current_uow

STOP_WORDS = ["СТОП", "ОТПИСКА"]  # Russian and Bulgarian, as a shop in Sofia would set them
START_WORDS = ["СТАРТ"]  # noqa: RUF001
CAMPAIGN = "Autumn coffee sale (demo)"


async def write(anchor: dt.datetime) -> None:
    conn = current_uow().connection
    await consent.save_settings(None, marketing_needs_opt_in=False, stop_words=STOP_WORDS, start_words=START_WORDS)
    contacts = [r["id"] for r in await conn.fetch(
        "SELECT c.id FROM contact c WHERE EXISTS (SELECT 1 FROM contact_phone p WHERE p.contact = c.id) "
        "AND c.deleted_at IS NULL ORDER BY c.id LIMIT 16")]
    if len(contacts) < 6:
        return
    stopper = contacts[-1]
    entry = await consent.record(stopper, "sms", "marketing", "opt_out", "keyword",
                                 'SMS "СТОП" to the shop\'s number')
    await conn.execute("UPDATE consent_entry SET at = $2 WHERE id = $1", entry["id"], anchor - dt.timedelta(days=4))
    sent_at = anchor - dt.timedelta(days=5)
    campaign_id = await conn.fetchval(
        "INSERT INTO campaign (name, channel, purpose, status, holdout_percent, conversion_days, audience_count, "
        "started_at, finished_at, created_at, updated_at) VALUES ($1, 'sms', 'marketing', 'done', 25, 7, $2, $3, $3, "
        "$3, $3) RETURNING id", CAMPAIGN, len(contacts), sent_at)
    holdout = set(contacts[:len(contacts) // 4])
    for i, contact_id in enumerate(contacts):
        held = contact_id in holdout
        milestones = {
            "delivered_at": None if held or i % 7 == 6 else sent_at + dt.timedelta(seconds=20),
            "failed_at": sent_at + dt.timedelta(seconds=30) if not held and i % 7 == 6 else None,
            "replied_at": sent_at + dt.timedelta(hours=2) if not held and i % 3 == 0 else None,
            "unsubscribed_at": anchor - dt.timedelta(days=4) if contact_id == stopper else None,
            "converted_at": sent_at + dt.timedelta(days=1 + i % 5) if i % 2 == 0 else None,
        }
        status = "held_out" if held else ("failed" if milestones["failed_at"] else "delivered")
        await conn.execute(
            "INSERT INTO campaign_recipient (campaign, contact, variant, holdout, address, token, status, queued_at, "
            "sent_at, delivered_at, failed_at, replied_at, unsubscribed_at, converted_at, revenue) "
            "SELECT $1, $2, $3, $4, coalesce((SELECT e164 FROM contact_phone WHERE contact = $2 LIMIT 1), ''), $5, "
            "$6, $7, $8, $9, $10, $11, $12, $13, $14",
            campaign_id, contact_id, None if held else ("A" if i % 2 else "B"), held, secrets.token_hex(16), status,
            sent_at, None if held else sent_at, milestones["delivered_at"], milestones["failed_at"],
            milestones["replied_at"], milestones["unsubscribed_at"], milestones["converted_at"],
            4590 + 1000 * (i % 4) if milestones["converted_at"] else 0)
