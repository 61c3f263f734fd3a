"""Campaign rules: drafts (validated templates), the audience frozen when sending starts, pause / resume / cancel,
counts per status and the recipients' page. The sending itself is `app.campaigns.sender` (a job)."""

from __future__ import annotations

import json
import re
from typing import Any

from app.accounts.services import Principal
from app.campaigns import templating
from app.campaigns.events import CAMPAIGN_PROGRESS
from app.campaigns.schemas import CampaignIn, CampaignPatch, ContentIn, PreviewIn, VariantIn
from app.campaigns.tables import CHANNELS, PURPOSES, RECIPIENT_STATUSES
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Conflict, Invalid, NotFound
from app.segments import services as segments
from realtime.publish import emit

RUN_JOB = "campaigns.run"
MAX_NAME = 200
KEY_RE = re.compile(r"^[A-Z]$")
LANG_RE = re.compile(r"^([a-z]{2,3}(-[A-Za-z]{2,4})?)?$")
SMS_MAX = 1600
EDITABLE = ("draft",)
COLUMNS = ("name", "channel", "purpose", "scheduled_at", "quiet_start", "quiet_end", "throttle_per_minute",
           "cap_messages", "cap_days", "holdout_percent", "conversion_days")


# -- drafts ---------------------------------------------------------------------------------------------------------

def _check_variants(variants: list[VariantIn], channel: str) -> list[dict[str, Any]]:
    if not variants:
        raise Invalid("A campaign needs at least one variant with a message.", field="variants")
    keys: set[str] = set()
    out = []
    for i, v in enumerate(variants):
        where = f"variants[{i}]"
        if not KEY_RE.match(v.key) or v.key in keys:
            raise Invalid("%(where)s.key must be one capital letter (A, B, ...), each used once.", field=f"{where}.key",
                          where=where)
        keys.add(v.key)
        if not v.content:
            raise Invalid("%(where)s has no content; give at least the default language (key \"\").",
                          field=f"{where}.content", where=where)
        content: dict[str, dict[str, str]] = {}
        for lang, c in v.content.items():
            field = f"{where}.content.{lang or 'default'}"
            if not LANG_RE.match(lang):
                raise Invalid("%(lang)s is not a language code (use \"\", \"en\", \"ru\", \"bg\", ...).", field=field,
                              lang=repr(lang))
            body, subject = c.body.strip(), c.subject.strip()
            if not body:
                raise Invalid("%(field_name)s: the message is empty.", field=f"{field}.body", field_name=field)
            if channel == "sms" and len(body) > SMS_MAX:
                raise Invalid("An SMS can be at most %(max_body)s characters.", field=f"{field}.body", max_body=SMS_MAX)
            if channel == "email" and not subject:
                raise Invalid("%(field_name)s: an email needs a subject.", field=f"{field}.subject",
                              field_name=field)
            templating.check(body, f"{field}.body")
            templating.check(subject, f"{field}.subject")
            content[lang] = {"subject": subject, "body": body}
        out.append({"key": v.key, "weight": v.weight, "content": content})
    if sum(v["weight"] for v in out) <= 0:
        raise Invalid("At least one variant needs a weight above 0.", field="variants")
    return out


async def _check_fields(values: dict[str, Any]) -> None:
    name = str(values.get("name") or "").strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid("The name must be 1 to %(max)s characters.", field="name", max=MAX_NAME)
    values["name"] = name
    if values.get("channel") not in CHANNELS:
        raise Invalid("channel must be one of %(choices)s.", field="channel", choices=", ".join(CHANNELS))
    if values.get("purpose") not in PURPOSES:
        raise Invalid("purpose must be one of %(choices)s.", field="purpose", choices=", ".join(PURPOSES))
    if (values.get("quiet_start") is None) != (values.get("quiet_end") is None):
        raise Invalid("Give both ends of the quiet hours, or neither.", field="quiet_end")
    if (values.get("cap_messages") is None) != (values.get("cap_days") is None):
        raise Invalid("A frequency cap needs both cap_messages and cap_days.", field="cap_days")
    at = values.get("scheduled_at")
    if at is not None and at.tzinfo is None:
        raise Invalid("scheduled_at needs a time zone offset (e.g. 2026-12-24T09:00:00+02:00).", field="scheduled_at")
    segment = values.get("segment")
    if segment is not None and not await current_uow().connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM segment WHERE id = $1)", segment):
        raise Invalid("No segment %(segment_id)s.", field="segment_id", segment_id=segment)


async def _save_variants(campaign_id: int, variants: list[dict[str, Any]]) -> None:
    conn = current_uow().connection
    await conn.execute("DELETE FROM campaign_variant WHERE campaign = $1", campaign_id)
    await conn.executemany("INSERT INTO campaign_variant (campaign, key, weight, content) VALUES ($1, $2, $3, $4)",
                           [(campaign_id, v["key"], v["weight"], json.dumps(v["content"])) for v in variants])


async def create(actor: Principal, data: CampaignIn) -> dict[str, Any]:
    values = {k: getattr(data, k) for k in COLUMNS}
    values["segment"] = data.segment_id
    await _check_fields(values)
    variants = _check_variants(data.variants, values["channel"])
    cols = [*COLUMNS, "segment"]
    row_id = await current_uow().connection.fetchval(
        f"INSERT INTO campaign ({', '.join(cols)}, created_by) VALUES "  # noqa: S608 (fixed column names)
        f"({', '.join(f'${i + 1}' for i in range(len(cols)))}, ${len(cols) + 1}) RETURNING id",
        *[values[c] for c in cols], actor.user_id or None)
    await _save_variants(int(row_id), variants)
    return await get(int(row_id))


async def update(campaign_id: int, data: CampaignPatch) -> dict[str, Any]:
    current = await _row(campaign_id, lock=True)
    if current["status"] not in EDITABLE:
        raise Conflict("Only a draft can be edited; this campaign is %(status)s.", status=current["status"])
    changes = data.changes()
    values = {k: current[k] for k in (*COLUMNS, "segment")}
    for key, value in changes.items():
        if key == "segment_id":
            values["segment"] = value
        elif key != "variants":
            values[key] = value
    await _check_fields(values)
    variants = changes.get("variants")
    if variants is None and "channel" in changes:
        variants = [VariantIn(key=v["key"], weight=v["weight"], content={
            lang: _content_in(c) for lang, c in v["content"].items()}) for v in await _variants(campaign_id)]
    if variants is not None:
        await _save_variants(campaign_id, _check_variants(variants, values["channel"]))
    cols = [*COLUMNS, "segment"]
    await current_uow().connection.execute(
        f"UPDATE campaign SET {', '.join(f'{c} = ${i + 2}' for i, c in enumerate(cols))}, "  # noqa: S608
        "updated_at = now() WHERE id = $1", campaign_id, *[values[c] for c in cols])
    return await get(campaign_id)


def _content_in(c: dict[str, Any]) -> Any:
    return ContentIn(body=c.get("body", ""), subject=c.get("subject", ""))


async def delete(campaign_id: int) -> None:
    row = await _row(campaign_id, lock=True)
    if row["status"] not in EDITABLE:
        raise Conflict("Only a draft can be deleted; cancel a campaign that started.")
    await current_uow().connection.execute("DELETE FROM campaign WHERE id = $1", campaign_id)


# -- reading ----------------------------------------------------------------------------------------------------------

async def _row(campaign_id: int, *, lock: bool = False) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        "SELECT * FROM campaign WHERE id = $1 FOR UPDATE" if lock else "SELECT * FROM campaign WHERE id = $1",
        campaign_id)
    if row is None:
        raise NotFound("No campaign %(campaign_id)s.", campaign_id=campaign_id)
    return dict(row)


async def _variants(campaign_id: int) -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(
        "SELECT key, weight, content FROM campaign_variant WHERE campaign = $1 ORDER BY key", campaign_id)
    return [{"key": r["key"], "weight": r["weight"], "content": json.loads(r["content"])} for r in rows]


async def counts(campaign_id: int) -> dict[str, int]:
    rows = await current_uow().connection.fetch(
        "SELECT status, count(*) AS n FROM campaign_recipient WHERE campaign = $1 GROUP BY status", campaign_id)
    found = {r["status"]: int(r["n"]) for r in rows}
    return {s: found.get(s, 0) for s in RECIPIENT_STATUSES}


def _out(row: dict[str, Any], variants: list[dict[str, Any]], counted: dict[str, int]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("segment", "created_by")}
    out.update(segment_id=row["segment"], variants=variants, counts=counted)
    return out


async def get(campaign_id: int) -> dict[str, Any]:
    row = await _row(campaign_id)
    return _out(row, await _variants(campaign_id), await counts(campaign_id))


async def search(*, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]],
                                                                                         int | None]:
    limit = max(1, min(limit, 200))
    conn = current_uow().connection
    rows = await conn.fetch("SELECT * FROM campaign WHERE ($1::text IS NULL OR status = $1) "
                            "ORDER BY id DESC LIMIT $2 OFFSET $3", status, limit + 1, max(offset, 0))
    ids = [r["id"] for r in rows[:limit]]
    variants = await conn.fetch("SELECT campaign, key, weight, content FROM campaign_variant "
                                "WHERE campaign = ANY($1::int[]) ORDER BY key", ids)
    tallies = await conn.fetch("SELECT campaign, status, count(*) AS n FROM campaign_recipient "
                               "WHERE campaign = ANY($1::int[]) GROUP BY 1, 2", ids)
    out = []
    for r in rows[:limit]:
        vs = [{"key": v["key"], "weight": v["weight"], "content": json.loads(v["content"])} for v in variants
              if v["campaign"] == r["id"]]
        counted = {s: 0 for s in RECIPIENT_STATUSES}
        counted.update({t["status"]: int(t["n"]) for t in tallies if t["campaign"] == r["id"]})
        out.append(_out(dict(r), vs, counted))
    return out, (offset + limit if len(rows) > limit else None)


async def recipients(campaign_id: int, *, status: str | None = None, limit: int = 50,
                     after: int = 0) -> tuple[list[dict[str, Any]], int | None]:
    await _row(campaign_id)
    if status is not None and status not in RECIPIENT_STATUSES:
        raise Invalid("status must be one of %(choices)s.", field="status", choices=", ".join(RECIPIENT_STATUSES))
    limit = max(1, min(limit, 500))
    rows = await current_uow().connection.fetch(
        "SELECT r.*, r.contact AS contact_id, c.name AS contact_name FROM campaign_recipient r "
        "JOIN contact c ON c.id = r.contact WHERE r.campaign = $1 AND ($2::text IS NULL OR r.status = $2) "
        "AND r.id > $3 ORDER BY r.id LIMIT $4", campaign_id, status, after, limit + 1)
    items = [dict(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


# -- preview ----------------------------------------------------------------------------------------------------------

async def preview(campaign_id: int | None, data: PreviewIn, channel: str = "sms") -> dict[str, Any]:
    """Every variant rendered for a sample contact, in their language (or the one asked) and zone."""
    if data.variants is not None:
        variants = _check_variants(data.variants, channel)
    elif campaign_id is not None:
        variants = await _variants(campaign_id)
    else:
        raise Invalid("Nothing to preview: give variants.", field="variants")
    conn = current_uow().connection
    contact_id = data.contact_id
    if contact_id is None:
        contact_id = await conn.fetchval("SELECT id FROM contact WHERE deleted_at IS NULL AND merged_into IS NULL "
                                         "ORDER BY id LIMIT 1")
    elif not await conn.fetchval("SELECT 1 FROM contact WHERE id = $1 AND deleted_at IS NULL", contact_id):
        raise NotFound("No contact %(contact_id)s.", contact_id=contact_id)
    variables = (await templating.variables_for([contact_id])).get(contact_id, {}) if contact_id else {}
    card = await conn.fetchrow(
        "SELECT c.language, COALESCE(NULLIF(c.timezone, ''), w.timezone) AS zone FROM contact c, "
        "(SELECT timezone FROM workspace LIMIT 1) w WHERE c.id = $1", contact_id) if contact_id else None
    language = data.language if data.language is not None else (card["language"] if card else "")
    zone = card["zone"] if card else ""
    items = []
    for v in variants:
        rendered = templating.render_for(v["content"], language, zone, variables, f"variants.{v['key']}.")
        items.append({"key": v["key"], **rendered})
    return {"contact_id": contact_id, "language": language, "items": items}


# -- the life of a campaign -------------------------------------------------------------------------------------------

async def _ready_to_send(row: dict[str, Any]) -> None:
    if row["segment"] is None:
        raise Invalid("Choose a segment to send to.", field="segment_id")
    if not await _variants(row["id"]):
        raise Invalid("A campaign needs at least one variant with a message.", field="variants")


async def send(actor: Principal, campaign_id: int) -> dict[str, Any]:
    """Start sending now, or at `scheduled_at` when that is in the future (status 'scheduled'). The audience is
    fixed when sending starts (now, or when the schedule fires)."""
    row = await _row(campaign_id, lock=True)
    if row["status"] != "draft":
        raise Conflict("This campaign is %(status)s; only a draft can be sent.", status=row["status"])
    await _ready_to_send(row)
    at = row["scheduled_at"]
    conn = current_uow().connection
    if at is not None and at > now():
        await conn.execute("UPDATE campaign SET status = 'scheduled', updated_at = now() WHERE id = $1", campaign_id)
        await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id}, delay=at - now())
    else:
        await start(campaign_id)
    await emit(CAMPAIGN_PROGRESS, campaign_id=campaign_id, status=(await _row(campaign_id))["status"])
    return await get(campaign_id)


async def start(campaign_id: int, *, enqueue: bool = True) -> int:
    """Freeze the audience (one INSERT ... SELECT from the segment's query), mark the campaign sending and queue
    its sender. Holdout and variant are drawn at random per recipient; the address is the contact's first phone
    (sms) or email on the channel at this moment; a contact without one is skipped ('no_address')."""
    row = await _row(campaign_id, lock=True)
    if row["segment"] is None:
        raise Invalid("Choose a segment to send to.", field="segment_id")
    sql, params = await segments.contact_ids_sql(row["segment"])
    variants = await _variants(campaign_id)
    live = [v for v in variants if v["weight"] > 0]
    keys = [v["key"] for v in live]
    cumulative, total = [], 0
    for v in live:
        total += v["weight"]
        cumulative.append(total)
    n = len(params)
    address = ("(SELECT e164 FROM contact_phone p WHERE p.contact = c.id ORDER BY p.position, p.id LIMIT 1)"
               if row["channel"] == "sms" else
               "(SELECT lower(email) FROM contact_email e WHERE e.contact = c.id ORDER BY e.position, e.id LIMIT 1)")
    conn = current_uow().connection
    status = await conn.execute(f"""
        INSERT INTO campaign_recipient (campaign, contact, variant, holdout, address, language, timezone, token,
                                        status, skip_reason)
        SELECT ${n + 1}, a.id,
               CASE WHEN a.held THEN NULL ELSE (SELECT k FROM unnest(${n + 2}::text[], ${n + 3}::int[]) AS u(k, w)
                                               WHERE a.r2 * ${n + 4} < u.w ORDER BY u.w LIMIT 1) END,
               a.held, COALESCE(a.address, ''), a.language,
               CASE WHEN a.zone IN (SELECT name FROM pg_timezone_names) THEN a.zone ELSE 'UTC' END,
               replace(gen_random_uuid()::text, '-', ''),
               CASE WHEN a.held THEN 'held_out' WHEN a.address IS NULL THEN 'skipped' ELSE 'queued' END,
               CASE WHEN NOT a.held AND a.address IS NULL THEN 'no_address' END
        FROM (SELECT c.id, random() * 100 < ${n + 5} AS held, random() AS r2, {address} AS address,
                     c.language, COALESCE(NULLIF(c.timezone, ''), (SELECT timezone FROM workspace LIMIT 1), 'UTC')
                     AS zone
              FROM contact c WHERE c.id IN ({sql}) AND c.deleted_at IS NULL) a
        ON CONFLICT (campaign, contact) DO NOTHING""",  # noqa: S608 (the segment's SQL is built with parameters)
        *params, campaign_id, keys, cumulative, total, row["holdout_percent"])
    count = int(status.split()[-1])
    await conn.execute("UPDATE campaign SET status = 'sending', started_at = now(), audience_count = $2, "
                       "updated_at = now() WHERE id = $1", campaign_id, count)
    if enqueue:
        await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id})
    return count


async def pause(campaign_id: int) -> dict[str, Any]:
    row = await _row(campaign_id, lock=True)
    if row["status"] not in ("sending", "scheduled"):
        raise Conflict("Only a campaign that is sending can be paused; this one is %(status)s.", status=row["status"])
    if row["status"] == "scheduled":
        raise Conflict("This campaign has not started; cancel it or wait until it starts.")
    await current_uow().connection.execute(
        "UPDATE campaign SET status = 'paused', updated_at = now() WHERE id = $1", campaign_id)
    await emit(CAMPAIGN_PROGRESS, campaign_id=campaign_id, status="paused")
    return await get(campaign_id)


async def resume(campaign_id: int) -> dict[str, Any]:
    row = await _row(campaign_id, lock=True)
    if row["status"] != "paused":
        raise Conflict("Only a paused campaign can be resumed; this one is %(status)s.", status=row["status"])
    await current_uow().connection.execute(
        "UPDATE campaign SET status = 'sending', updated_at = now() WHERE id = $1", campaign_id)
    await jobs.enqueue(RUN_JOB, {"campaign_id": campaign_id})
    await emit(CAMPAIGN_PROGRESS, campaign_id=campaign_id, status="sending")
    return await get(campaign_id)


async def cancel(campaign_id: int) -> dict[str, Any]:
    """Stop for good: whoever has not been sent to yet is 'skipped' with the reason 'cancelled'."""
    row = await _row(campaign_id, lock=True)
    if row["status"] not in ("scheduled", "sending", "paused"):
        raise Conflict("Only a scheduled, sending or paused campaign can be cancelled; this one is %(status)s.",
                       status=row["status"])
    conn = current_uow().connection
    await conn.execute("UPDATE campaign_recipient SET status = 'skipped', skip_reason = 'cancelled' "
                       "WHERE campaign = $1 AND status = 'queued'", campaign_id)
    await conn.execute("UPDATE campaign SET status = 'cancelled', finished_at = now(), updated_at = now() "
                       "WHERE id = $1", campaign_id)
    await emit(CAMPAIGN_PROGRESS, campaign_id=campaign_id, status="cancelled")
    return await get(campaign_id)

