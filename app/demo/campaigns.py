"""Demo campaigns: one SMS campaign that went out five days ago (delivered, a holdout, an opted-out client skipped,
two orders it brought) and an email draft with A/B variants, variables and Russian content."""

from __future__ import annotations

import datetime as dt

from app.accounts.services import Principal
from app.campaigns import services as campaigns
from app.campaigns.schemas import CampaignIn, ContentIn, VariantIn
from app.lib.db import current_uow

LIST_NAME = "Regulars (demo campaign list)"


async def write(owner: Principal, anchor: dt.datetime) -> None:
    conn = current_uow().connection
    members = [r["id"] for r in await conn.fetch(
        "SELECT c.id FROM contact c WHERE EXISTS (SELECT 1 FROM contact_phone p WHERE p.contact = c.id) "
        "AND c.deleted_at IS NULL ORDER BY c.id LIMIT 24")]
    if not members:
        return
    segment = await conn.fetchval("INSERT INTO segment (name, kind, description) VALUES ($1, 'static', $2) "
                                  "ON CONFLICT (name) DO NOTHING RETURNING id", LIST_NAME,
                                  "Clients with a phone, for the demo's spring SMS campaign.")
    if segment is None:
        return
    await conn.executemany("INSERT INTO segment_member (segment, contact, source) VALUES ($1, $2, 'selection') "
                           "ON CONFLICT DO NOTHING", [(segment, c) for c in members])
    done = await campaigns.create(owner, CampaignIn(
        name="Spring beans are in", channel="sms", segment_id=segment, holdout_percent=15, quiet_start=dt.time(21),
        quiet_end=dt.time(9), throttle_per_minute=60, variants=[
            VariantIn(key="A", weight=1, content={
                "": ContentIn(body="Hi {{ contact.first_name|default('there') }}! Spring beans are in: 10% off "
                                   "this week."),
                "ru": ContentIn(body="Здравствуйте, {{ contact.first_name|default('друг') }}! Весенний урожай "
                                     "уже у нас: скидка 10% на этой неделе.")}),
            VariantIn(key="B", weight=1, content={
                "": ContentIn(body="{{ contact.first_name|default('Hello') }}, your last order "
                                   "{{ last_order.number|default('') }} was a while ago: spring beans, 10% off.")})]))
    await campaigns.start(done["id"], enqueue=False)
    sent_at = anchor - dt.timedelta(days=5)
    await conn.execute(
        "UPDATE campaign_recipient SET status = 'delivered', claimed_at = $2::timestamptz, "
        "sent_at = $2::timestamptz, delivered_at = $2::timestamptz + interval '4 seconds' "
        "WHERE campaign = $1 AND status = 'queued'", done["id"], sent_at)
    first = await conn.fetchval("SELECT id FROM campaign_recipient WHERE campaign = $1 AND status = 'delivered' "
                                "ORDER BY id LIMIT 1", done["id"])
    if first is not None:  # opted out between the campaign's start and their message
        await conn.execute("UPDATE campaign_recipient SET status = 'skipped', skip_reason = 'opted_out', "
                           "sent_at = NULL, delivered_at = NULL WHERE id = $1", first)
    converted = await conn.fetch(
        "SELECT r.id, o.id AS order_id, o.total FROM campaign_recipient r JOIN LATERAL (SELECT id, total FROM "
        "shop_order WHERE contact = r.contact ORDER BY placed_at DESC LIMIT 1) o ON true "
        "WHERE r.campaign = $1 AND r.status = 'delivered' ORDER BY r.id LIMIT 2", done["id"])
    for i, row in enumerate(converted):
        await conn.execute("UPDATE campaign_recipient SET converted_at = $2::timestamptz, order_id = $3, "
                           "revenue = $4, replied_at = CASE WHEN $5 THEN $2::timestamptz - interval '1 hour' END "
                           "WHERE id = $1", row["id"], sent_at + dt.timedelta(days=1 + i), row["order_id"],
                           int(row["total"] or 0), i == 0)
    await conn.execute("UPDATE campaign SET status = 'done', started_at = $2::timestamptz, "
                       "finished_at = $2::timestamptz + interval '3 minutes', "
                       "created_at = $2::timestamptz - interval '1 day', updated_at = $2 WHERE id = $1",
                       done["id"], sent_at)
    await campaigns.create(owner, CampaignIn(
        name="Reorder reminder (draft)", channel="email", segment_id=segment, holdout_percent=10, cap_messages=2,
        cap_days=7, variants=[VariantIn(key="A", content={
            "": ContentIn(subject="{{ contact.first_name|default('Hello') }}, time for more?",
                          body="Your last order {{ last_order.number|default('') }} ({{ last_order.date|default('') }})"
                               " may be running low. {{ suggestion.product_name|default('Our new roasts') }}: "
                               "https://shop.example/reorder"),
            "ru": ContentIn(subject="{{ contact.first_name|default('Здравствуйте') }}, пора пополнить запасы?",
                            body="Ваш последний заказ {{ last_order.number|default('') }} скоро закончится. "
                                 "https://shop.example/reorder")})]))

