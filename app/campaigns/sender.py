"""The campaign sender: one job per campaign (`campaigns.run`), small committed steps, safe to kill at any moment.

Only one sender runs a campaign at a time: it holds a PostgreSQL advisory lock on a connection of its own, which
the server releases when the process dies. So a sender that gets the lock knows that any recipient still marked
'sending' was left by a dead one, and resolves it by asking Twilio (the Messages list, filtered by To and the
moment it was claimed) instead of sending again.

Each step: claim a batch (throttle, quiet hours in the recipient's zone, frequency cap), commit; then per
recipient, in its own transaction: is the campaign still sending, may this message go (consent and suppression,
checked now, so an opt-out recorded a second ago counts), render, hand it to Twilio, record it, commit. When
nobody can be sent to now (quiet hours, throttle), the job is queued again for the moment somebody can: never a
busy loop."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import structlog

from app.campaigns import mailing, templating
from app.campaigns.events import CAMPAIGN_PROGRESS, CAMPAIGN_RECIPIENT_CHANGED
from app.campaigns.services import RUN_JOB, start
from app.consent import services as consent
from app.lib import i18n, jobs
from app.lib.clock import now
from app.lib.db import TenantRef, current_uow, jsonb, raw_connect, resolve_active, tenant_context
from app.lib.errors import DomainError
from app.lib.quotas import QuotaExceeded
from realtime.publish import emit
from telephony import client as twilio
from telephony import config as twilio_config
from telephony import sms
from telephony.client import TwilioUnavailable

log = structlog.get_logger(__name__)

BATCH = 25
SEND_CONCURRENCY = 4
"""Messages of a batch in flight at once (Twilio's REST calls wait on the network, not on us)."""
QUIET_SQL = """($2::time IS NULL OR $2 = $3 OR NOT (CASE WHEN $2 < $3
    THEN (now() AT TIME ZONE r.timezone)::time >= $2 AND (now() AT TIME ZONE r.timezone)::time < $3
    ELSE (now() AT TIME ZONE r.timezone)::time >= $2 OR (now() AT TIME ZONE r.timezone)::time < $3 END))"""


async def run(payload: dict[str, Any]) -> None:
    """Job: send a campaign until it is done, paused, cancelled or has to wait (then it is queued again)."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    campaign_id = int(payload["campaign_id"])
    key = f"campaign:{tenant.slug}:{campaign_id}"
    lock = await raw_connect()
    try:
        if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key):
            return  # another sender has it; it queues itself again if it stops with work left
        try:
            outcome = await _run(tenant, campaign_id)
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
    finally:
        await lock.close()
    if outcome == "stopped":
        # Resumed while this sender was stopping (a resume's own job found the lock taken): carry on.
        async with tenant_context(tenant):
            status = await current_uow().connection.fetchval("SELECT status FROM campaign WHERE id = $1",
                                                             campaign_id)
            if status == "sending":
                await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id})


async def _run(tenant: TenantRef, campaign_id: int) -> str:
    async with tenant_context(tenant):
        row = await current_uow().connection.fetchrow("SELECT * FROM campaign WHERE id = $1 FOR UPDATE",
                                                      campaign_id)
        if row is None:
            return "gone"
        if row["status"] == "scheduled":
            if row["scheduled_at"] is not None and row["scheduled_at"] > now():
                await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id}, delay=row["scheduled_at"] - now())
                return "waiting"
            await start(campaign_id, enqueue=False)
            await emit(CAMPAIGN_PROGRESS, campaign_id=campaign_id, status="sending")
        elif row["status"] != "sending":
            return "stopped"
        campaign = dict(await current_uow().connection.fetchrow("SELECT * FROM campaign WHERE id = $1", campaign_id))
        variants = {r["key"]: jsonb(r["content"]) for r in await current_uow().connection.fetch(
            "SELECT key, content FROM campaign_variant WHERE campaign = $1", campaign_id)}
    await _resolve_orphans(tenant, campaign)
    while True:
        jobs.checkpoint()
        claimed, wait, done = await _claim(tenant, campaign)
        if done:
            return "done"
        if not claimed:
            if wait is None:
                return "stopped"
            async with tenant_context(tenant):
                await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id}, delay=wait)
            log.info("campaign_waiting", campaign_id=campaign_id, seconds=int(wait.total_seconds()))
            return "waiting"
        if not await _send_batch(tenant, campaign, variants, claimed):
            return "stopped"


# -- claiming -------------------------------------------------------------------------------------------------------

async def _claim(tenant: TenantRef, campaign: dict[str, Any]) -> tuple[list[dict[str, Any]], dt.timedelta | None,
                                                                       bool]:
    """(claimed recipients, how long to wait when none could be, whether the campaign is finished)."""
    cid = campaign["id"]
    async with tenant_context(tenant):
        conn = current_uow().connection
        status = await conn.fetchval("SELECT status FROM campaign WHERE id = $1 FOR UPDATE", cid)
        if status != "sending":
            return [], None, False
        limit = BATCH
        throttle = campaign["throttle_per_minute"]
        if throttle:
            window = await conn.fetchrow(
                "SELECT count(*) AS n, min(claimed_at) AS first FROM campaign_recipient "
                "WHERE campaign = $1 AND claimed_at > now() - interval '1 minute' AND status <> 'skipped'", cid)
            limit = min(limit, throttle - int(window["n"]))
            if limit <= 0:
                return [], max(window["first"] + dt.timedelta(minutes=1) - now(), dt.timedelta(seconds=1)), False
        rows = await conn.fetch(
            f"SELECT r.id, r.contact, r.address, r.variant, r.language, r.timezone, r.token "  # noqa: S608
            f"FROM campaign_recipient r WHERE r.campaign = $1 AND r.status = 'queued' AND {QUIET_SQL} "
            "ORDER BY r.id LIMIT $4 FOR UPDATE SKIP LOCKED", cid, campaign["quiet_start"], campaign["quiet_end"],
            limit)
        if not rows:
            zones = [r["timezone"] for r in await conn.fetch(
                "SELECT DISTINCT timezone FROM campaign_recipient WHERE campaign = $1 AND status = 'queued'", cid)]
            if zones:
                return [], _until_open(zones, campaign["quiet_start"], campaign["quiet_end"]), False
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM campaign_recipient WHERE campaign = $1 "
                                   "AND status = 'sending')", cid):
                return [], dt.timedelta(seconds=30), False  # cannot happen under the lock; wait rather than end
            await conn.execute("UPDATE campaign SET status = 'done', finished_at = now(), updated_at = now() "
                               "WHERE id = $1", cid)
            await emit(CAMPAIGN_PROGRESS, campaign_id=cid, status="done")
            return [], None, True
        ids = [r["id"] for r in rows]
        capped: set[int] = set()
        if campaign["cap_messages"] and campaign["cap_days"]:
            capped = {r["contact"] for r in await conn.fetch(
                "SELECT contact FROM campaign_recipient WHERE contact = ANY($1::int[]) AND campaign <> $2 "
                "AND (sent_at > now() - make_interval(days => $3) OR (status = 'sending' "
                "AND claimed_at > now() - make_interval(days => $3))) GROUP BY contact HAVING count(*) >= $4",
                [r["contact"] for r in rows], cid, campaign["cap_days"], campaign["cap_messages"])}
        skipped = [r["id"] for r in rows if r["contact"] in capped]
        if skipped:
            await conn.execute("UPDATE campaign_recipient SET status = 'skipped', skip_reason = 'frequency_cap' "
                               "WHERE id = ANY($1::bigint[])", skipped)
        claimed = [dict(r) for r in rows if r["contact"] not in capped]
        await conn.execute("UPDATE campaign_recipient SET status = 'sending', claimed_at = now() "
                           "WHERE id = ANY($1::bigint[])", [r["id"] for r in claimed])
        await emit(CAMPAIGN_RECIPIENT_CHANGED, campaign_id=cid, recipient_ids=ids)
        await emit(CAMPAIGN_PROGRESS, campaign_id=cid, status="sending")
    return claimed, None, False


def _until_open(zones: list[str], start: dt.time | None, end: dt.time | None) -> dt.timedelta:
    """How long until the quiet hours end for the first of these zones (at least a second)."""
    if start is None or end is None:
        return dt.timedelta(seconds=1)
    moment = now()
    best: dt.timedelta | None = None
    for name in zones:
        zone = i18n.pick_zone(name)
        local = moment.astimezone(zone)
        opening = dt.datetime.combine(local.date(), end, tzinfo=zone)
        if opening <= local:
            opening = dt.datetime.combine(local.date() + dt.timedelta(days=1), end, tzinfo=zone)
        wait = opening.astimezone(dt.UTC) - moment
        best = wait if best is None or wait < best else best
    return max(best or dt.timedelta(seconds=1), dt.timedelta(seconds=1))


# -- sending --------------------------------------------------------------------------------------------------------

async def _send_batch(tenant: TenantRef, campaign: dict[str, Any], variants: dict[str, Any],
                      claimed: list[dict[str, Any]]) -> bool:
    """Send the claimed recipients, a few at once (each in its own transaction, each checking the campaign's status
    first, so a pause still stops everything not yet handed to Twilio); False when the campaign stopped meanwhile.
    Every send finishes before the batch returns, even when one fails: the lock must not be released while a
    message is in flight."""
    async with tenant_context(tenant):
        values = await templating.variables_for([r["contact"] for r in claimed])
    slots = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(r: dict[str, Any]) -> bool:
        async with slots:
            return await _send_one(tenant, campaign, variants, r, values.get(r["contact"], {}))

    outcomes = await asyncio.gather(*(one(r) for r in claimed), return_exceptions=True)
    going = all(o is True for o in outcomes)
    async with tenant_context(tenant):
        await emit(CAMPAIGN_RECIPIENT_CHANGED, campaign_id=campaign["id"], recipient_ids=[r["id"] for r in claimed])
        await emit(CAMPAIGN_PROGRESS, campaign_id=campaign["id"], status="sending" if going else "paused")
    for o in outcomes:
        if isinstance(o, BaseException):
            raise o
    return going


async def _put_back(recipient_id: int, campaign_status: str) -> None:
    if campaign_status == "cancelled":
        await current_uow().connection.execute(
            "UPDATE campaign_recipient SET status = 'skipped', skip_reason = 'cancelled' WHERE id = $1 "
            "AND status = 'sending'", recipient_id)
    else:
        await current_uow().connection.execute(
            "UPDATE campaign_recipient SET status = 'queued', claimed_at = NULL WHERE id = $1 AND status = 'sending'",
            recipient_id)


async def _send_one(tenant: TenantRef, campaign: dict[str, Any], variants: dict[str, Any], r: dict[str, Any],
                    values: dict[str, Any]) -> bool:
    async with tenant_context(tenant):
        conn = current_uow().connection
        # FOR SHARE: a pause or cancel waits for this one message, and nothing is sent after it returns.
        status = await conn.fetchval("SELECT status FROM campaign WHERE id = $1 FOR SHARE", campaign["id"])
        if status != "sending":
            await _put_back(r["id"], status)
            return False
        if await conn.fetchval("SELECT status FROM campaign_recipient WHERE id = $1 FOR UPDATE", r["id"]) != "sending":
            return True
        reason = await consent.blocked(campaign["channel"], r["address"], contact_id=r["contact"],
                                       purpose=campaign["purpose"])
        if reason is not None:
            await _finish(r["id"], "skipped", skip_reason=reason)
            return True
        try:
            rendered = templating.render_for(variants.get(r["variant"] or "", {}), r["language"], r["timezone"],
                                             values)
        except DomainError:
            await _finish(r["id"], "failed", skip_reason="template_error")
            return True
        if not rendered["body"]:
            await _finish(r["id"], "failed", skip_reason="empty_message")
            return True
        try:
            if campaign["channel"] == "email":
                email_id = await mailing.queue_email(campaign, r, rendered)
                await _finish(r["id"], "sent", email_message_id=email_id)
                return True
            msg = await sms.send(None, r["contact"], rendered["body"], r["address"],
                                 extra={"campaign_id": campaign["id"], "campaign_recipient_id": r["id"]})
        except QuotaExceeded:
            # The plan's messages for today are used up: pause rather than fail everyone left.
            await conn.execute("UPDATE campaign SET status = 'paused', updated_at = now() WHERE id = $1",
                               campaign["id"])
            await _put_back(r["id"], "paused")
            log.warning("campaign_paused_quota", campaign_id=campaign["id"])
            return False
        except TwilioUnavailable as exc:
            code = exc.extra.get("twilio_code")
            if code is None:
                raise  # unreachable: the job retries; the recipient stays 'sending' and is looked up first
            await _finish(r["id"], "failed", skip_reason=f"twilio_{code}"[:32])
            return True
        except DomainError as exc:  # no Twilio or SMTP set up, a number that is not one
            await _finish(r["id"], "failed", skip_reason=(exc.field or "invalid")[:32])
            return True
        await _finish(r["id"], "sent", sms_message_id=msg["id"])
        return True


async def _finish(recipient_id: int, status: str, *, skip_reason: str | None = None,
                  sms_message_id: int | None = None, email_message_id: int | None = None) -> None:
    await current_uow().connection.execute(
        "UPDATE campaign_recipient SET status = $2::varchar, skip_reason = $3, sms_message_id = $4, "
        "email_message_id = $5, sent_at = CASE WHEN $2::varchar = 'sent' THEN now() END, "
        "failed_at = CASE WHEN $2::varchar = 'failed' THEN now() END "
        "WHERE id = $1", recipient_id, status, skip_reason, sms_message_id, email_message_id)


# -- after a crash --------------------------------------------------------------------------------------------------

async def _resolve_orphans(tenant: TenantRef, campaign: dict[str, Any]) -> None:
    """Recipients left 'sending' by a sender that died between claiming and recording. For SMS, Twilio is asked
    whether it took a message to that number since the claim: if so it is recorded as sent (never sent again),
    else the recipient goes back to the queue. An email's outbox row is written in the same transaction as 'sent',
    so an email orphan was never queued: back to the queue."""
    async with tenant_context(tenant):
        conn = current_uow().connection
        orphans = [dict(r) for r in await conn.fetch(
            "SELECT id, contact, address, claimed_at FROM campaign_recipient WHERE campaign = $1 "
            "AND status = 'sending' ORDER BY id", campaign["id"])]
        config = await twilio_config.load() if orphans and campaign["channel"] == "sms" else None
        known: set[str] = set()
    for o in orphans:
        found = None
        if config is not None:
            since = (o["claimed_at"] or now()) - dt.timedelta(seconds=5)
            messages = await twilio.call(config, lambda c, o=o, since=since: c.messages.list(
                to=o["address"], date_sent_after=since, limit=20))
            async with tenant_context(tenant):
                sids = [m.sid for m in messages]
                known = {r["sid"] for r in await current_uow().connection.fetch(
                    "SELECT sid FROM sms_message WHERE sid = ANY($1::text[])", sids)}
            found = next((m for m in messages if m.sid not in known and m.from_ in config.numbers
                          and (m.direction or "").startswith("outbound")), None)
        async with tenant_context(tenant):
            if found is None:
                await _put_back(o["id"], "sending")
                log.info("campaign_orphan_requeued", campaign_id=campaign["id"], recipient_id=o["id"])
                continue
            msg = await sms.record_outbound(None, o["contact"], sid=found.sid, to=found.to, from_=found.from_,
                                            body=found.body or "", status=found.status or "queued",
                                            extra={"campaign_id": campaign["id"], "campaign_recipient_id": o["id"]})
            await _finish(o["id"], "sent", sms_message_id=msg["id"])
            log.info("campaign_orphan_found_at_twilio", campaign_id=campaign["id"], recipient_id=o["id"],
                     sid=found.sid)
