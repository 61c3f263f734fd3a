"""Temperature from behaviour: the shop's rules turn buyers hot, warm or cold from recency, frequency and money.

A durable listener recomputes a contact after their order events; a nightly job (self-rescheduling, one per tenant
per night, like privacy's retention run) recomputes everyone, since time alone cools a buyer down. A hand-set
temperature (`contact.temperature_manual`) holds against the rules until a person hands it back. Every change is
on the contact's timeline, saying whether the rules or a person moved it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.accounts.services import workspace_zone
from app.audit import services as audit
from app.contacts import events as contact_events
from app.contacts import services as contacts
from app.lib import jobs
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, resolve_active, tenant_context
from app.lib.errors import Invalid
from app.segments.compile import NET, SALE
from realtime.events import Event
from realtime.publish import emit

RECOMPUTE_JOB = "segments.recompute_temperature"
NIGHTLY_JOB = "segments.nightly_temperature"
NIGHT_HOUR = 2
"""Local hour (the workspace's zone) of the nightly run."""
LISTENER_NAME = "segments.temperature"
ORDER_EVENTS = frozenset({"order.created", "order.updated", "order.status_changed"})
RULE_FIELDS = ("hot_days", "hot_orders", "hot_spent", "warm_days", "warm_orders", "warm_spent")
MAX_DAYS = 3650
MAX_MONEY = 10**15


async def rules() -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(
        "SELECT enabled, hot_days, hot_orders, hot_spent, warm_days, warm_orders, warm_spent, updated_at "
        "FROM temperature_rules ORDER BY id LIMIT 1")
    return dict(row)


def _int(values: dict[str, Any], key: str, low: int, high: int) -> int:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise Invalid("%(name)s is a whole number.", field=key, name=key)
    number = int(value)
    if not low <= number <= high:
        raise Invalid("%(name)s is between %(low)s and %(high)s.", field=key, name=key, low=low, high=high)
    return number


async def save_rules(actor: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Change the rules (missing keys keep their value); enabling them recomputes every buyer now (a job) and
    schedules the nightly run."""
    current = await rules()
    merged = {**current, **{k: v for k, v in values.items() if k in (*RULE_FIELDS, "enabled")}}
    clean: dict[str, Any] = {"enabled": bool(merged["enabled"])}
    for key in RULE_FIELDS:
        high = MAX_DAYS if key.endswith("_days") else MAX_MONEY if key.endswith("_spent") else 100_000
        clean[key] = _int(merged, key, 1 if key.endswith("_days") else 0, high)
    if clean["hot_days"] > clean["warm_days"]:
        raise Invalid("A hot buyer's last order is at most as old as a warm one's: hot days must not be more than "
                      "warm days.", field="hot_days")
    await current_uow().connection.execute(
        "UPDATE temperature_rules SET enabled = $1, hot_days = $2, hot_orders = $3, hot_spent = $4, warm_days = $5, "
        "warm_orders = $6, warm_spent = $7, updated_at = now()", *[clean[k] for k in ("enabled", *RULE_FIELDS)])
    await audit.record("segments.temperature_rules", actor_id=getattr(actor, "user_id", None),
                       actor=getattr(actor, "label", "system"), target_type="temperature_rules", target_id=1,
                       detail=clean)
    if clean["enabled"]:
        await jobs.enqueue(RECOMPUTE_JOB, {}, dedupe_key=f"segments:temperature:{current_tenant().slug}:all")
        await schedule_next()
    return await rules()


_RECOMPUTE = f"""
WITH r AS (SELECT * FROM temperature_rules WHERE enabled ORDER BY id LIMIT 1),
agg AS (
    SELECT o.contact, max(o.placed_at) FILTER (WHERE {SALE}) AS last_at,
           count(*) FILTER (WHERE {SALE}) AS n, coalesce(sum({NET}), 0) AS spent
    FROM shop_order o LEFT JOIN order_status s ON s.key = o.status
    WHERE $1::int[] IS NULL OR o.contact = ANY($1::int[])
    GROUP BY o.contact HAVING count(*) FILTER (WHERE {SALE}) > 0),
target AS (
    SELECT agg.contact, CASE
        WHEN agg.last_at >= $2::timestamptz - make_interval(days => r.hot_days) AND agg.n >= r.hot_orders
             AND agg.spent >= r.hot_spent THEN 'hot'
        WHEN agg.last_at >= $2::timestamptz - make_interval(days => r.warm_days) AND agg.n >= r.warm_orders
             AND agg.spent >= r.warm_spent THEN 'warm'
        ELSE 'cold' END AS t
    FROM agg, r)
UPDATE contact c SET temperature = target.t, updated_at = $2::timestamptz, version = c.version + 1
FROM target JOIN contact old ON old.id = target.contact
WHERE c.id = target.contact AND NOT c.temperature_manual AND c.deleted_at IS NULL AND c.merged_into IS NULL
  AND c.temperature IS DISTINCT FROM target.t
RETURNING c.id, old.temperature AS previous, c.temperature
"""  # noqa: S608 (constants)


async def recompute(contact_ids: list[int] | None = None, *, at: dt.datetime | None = None) -> int:
    """Apply the rules to these contacts (None: every buyer) as of `at` (now); returns how many moved. Disabled
    rules move nobody."""
    at = at or now()
    rows = await current_uow().connection.fetch(_RECOMPUTE, contact_ids, at)
    for r in rows:
        await contacts.temperature_set(r["id"], r["previous"], r["temperature"], rule=True, at=at)
        await emit(contact_events.CONTACT_UPDATED, contact_id=r["id"])
    return len(rows)


async def set_automatic(actor: Any, contact_id: int) -> dict[str, Any]:
    """Hand a hand-set temperature back to the rules: the flag goes, the rules apply at once."""
    card = await contacts.get(contact_id)
    if card.get("temperature_manual"):
        await current_uow().connection.execute("UPDATE contact SET temperature_manual = false WHERE id = $1",
                                               contact_id)
        await audit.record("contact.temperature_automatic", actor_id=getattr(actor, "user_id", None),
                           actor=getattr(actor, "label", "system"), target_type="contact", target_id=contact_id)
        if not await recompute([contact_id]):
            await emit(contact_events.CONTACT_UPDATED, contact_id=contact_id)
    return await contacts.get(contact_id)


# -- the listener and the jobs ---------------------------------------------------------------------------------

async def on_order_event(event: Event) -> None:
    """Durable listener on order events: the contact's temperature follows their orders (idempotent: recomputing
    twice moves nobody the second time)."""
    contact_id = event.data.get("contact_id")
    if contact_id and (await rules())["enabled"]:
        await recompute([int(contact_id)])


async def recompute_job(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        if (await rules())["enabled"]:
            await recompute(None)


async def nightly_job(payload: dict[str, Any]) -> None:
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        if (await rules())["enabled"]:
            await recompute(None)
            await schedule_next(after=now() + dt.timedelta(hours=1))


async def schedule_next(after: dt.datetime | None = None) -> None:
    """Queue the next nightly run (02:00 in the workspace's zone) unless one is queued for that night already."""
    await jobs.enqueue_nightly(NIGHTLY_JOB, hour=NIGHT_HOUR, zone=await workspace_zone(), after=after,
                               key=f"segments:temperature:{current_tenant().slug}")
