"""Upsell rules: association pairs and reorder intervals from the shop's own orders, suggestions per contact with
their reason, and what the suggestions brought (shown, accepted, ordered with revenue).

A basket is a contact's set of products over their orders that count as sales and were not refunded entirely;
a product is its sku, else its lower-cased name (`product_key`). For a rule "bought X, also bought Y" over N
baskets: support = |X and Y| / N, confidence = |X and Y| / |X|, lift = confidence / (|Y| / N). Everything is
computed in SQL (a self-join of the contact x product set), so it scales with the orders, not with Python.

A reorder is due `interval` days after the contact's last purchase of a product: the median of their own intervals
between purchases of it (days in the workspace's zone) or, for a one-time buyer, the median of everyone's intervals
when enough clients reorder it (at least `min_count` of them, and `min_confidence` of its buyers). It is suggested
from its due day until three intervals have passed.

Every function runs inside the caller's unit of work."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from app.accounts.services import workspace_zone
from app.contacts.tables import Contact
from app.lib import clock, i18n
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Invalid, NotFound
from app.lib.i18n import N_
from app.orders.revenue import SALE_SQL
from app.upsell.schemas import Suggestion
from app.upsell.tables import EVENT_SOURCES, PAIR_LEVELS

KEY_SQL = "CASE WHEN i.sku <> '' THEN i.sku ELSE lower(i.name) END"
"""An order line's product key over `order_item i` (the one definition: sku, else lower(name))."""

SALE_ITEMS_SQL = f"""
SELECT o.id AS order_id, o.contact, {KEY_SQL} AS key, i.name, lower(i.category) AS category_key, i.category,
       o.placed_at, i.line_total, o.currency
FROM order_item i
JOIN shop_order o ON o.id = i.shop_order
LEFT JOIN order_status s ON s.key = o.status
JOIN contact c ON c.id = o.contact AND c.deleted_at IS NULL AND c.merged_into IS NULL
WHERE {SALE_SQL} AND NOT (o.total > 0 AND o.refunded >= o.total)
  AND NOT EXISTS (SELECT 1 FROM privacy_request pr WHERE pr.contact = o.contact AND pr.kind = 'erase')
"""  # noqa: S608 (constants)
"""Order lines that count for upsell: sales, not refunded entirely, of live contacts (not merged away, not erased
or asked to be)."""

REASON_PAIR = N_("Bought %(because)s: %(confidence)s of the clients who bought it also bought this "
                 "(lift %(lift)s).")
REASON_REORDER = N_("Usually reorders every %(interval)s days; it has been %(since)s.")
REASON_REORDER_TYPICAL = N_("Clients reorder this every %(interval)s days; it has been %(since)s.")

LAPSED = 3
"""A reorder is no longer suggested once this many intervals passed since the last purchase: the client moved on."""
SETTINGS_FIELDS = ("min_support", "min_confidence", "min_count", "recent_days", "attribution_days")
MAX_LIMIT = 20


# -- settings ---------------------------------------------------------------------------------------------------

_COLUMNS = ", ".join(SETTINGS_FIELDS)


async def settings() -> dict[str, Any]:
    conn = current_uow().connection
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM upsell_settings ORDER BY id LIMIT 1")  # noqa: S608
    if row is None:
        row = await conn.fetchrow(f"INSERT INTO upsell_settings DEFAULT VALUES RETURNING {_COLUMNS}")  # noqa: S608
    return dict(row)


async def save_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Set the shop's thresholds (fractions 0..1, whole days); a value out of range is refused with its field."""
    values = {**await settings(), **{k: v for k, v in data.items() if k in SETTINGS_FIELDS}}
    for name in ("min_support", "min_confidence"):
        try:
            values[name] = float(values[name])
        except (TypeError, ValueError):
            raise Invalid("%(name)s must be a number between 0 and 1.", field=name, name=name) from None
        if not 0 <= values[name] <= 1:
            raise Invalid("%(name)s must be a number between 0 and 1.", field=name, name=name)
    for name, low, high in (("min_count", 1, 100000), ("recent_days", 0, 3650), ("attribution_days", 1, 365)):
        try:
            values[name] = int(values[name])
        except (TypeError, ValueError):
            raise Invalid("%(name)s must be a whole number from %(low)s to %(high)s.", field=name, name=name,
                          low=low, high=high) from None
        if not low <= values[name] <= high:
            raise Invalid("%(name)s must be a whole number from %(low)s to %(high)s.", field=name, name=name,
                          low=low, high=high)
    await settings()
    await current_uow().connection.execute(
        "UPDATE upsell_settings SET min_support = $1, min_confidence = $2, min_count = $3, recent_days = $4, "
        "attribution_days = $5", *(values[k] for k in SETTINGS_FIELDS))
    return values


async def today() -> dt.date:
    """Today in the workspace's zone (by app.lib.clock)."""
    return clock.now().astimezone(await workspace_zone()).date()


# -- recompute --------------------------------------------------------------------------------------------------

_PAIRS_SQL = """
WITH basket AS (SELECT DISTINCT contact, {key} AS key FROM upsell_items WHERE {key} <> ''),
n AS (SELECT count(DISTINCT contact)::float AS n FROM basket),
per_key AS (SELECT key, count(*) AS c FROM basket GROUP BY key),
names AS (SELECT DISTINCT ON ({key}) {key} AS key, {name} AS name FROM upsell_items WHERE {key} <> ''
          ORDER BY {key}, placed_at DESC),
xy AS (SELECT a.key AS x, b.key AS y, count(*) AS cxy
       FROM basket a JOIN basket b ON a.contact = b.contact AND a.key <> b.key
       GROUP BY a.key, b.key HAVING count(*) >= $1)
INSERT INTO upsell_pair (level, antecedent, antecedent_name, consequent, consequent_name, baskets_x, baskets_y,
                         baskets_xy, support, confidence, lift, computed_at)
SELECT $4, xy.x, nx.name, xy.y, ny.name, px.c, py.c, xy.cxy, xy.cxy / n.n, xy.cxy::float / px.c,
       (xy.cxy::float / px.c) / (py.c / n.n), $5
FROM xy CROSS JOIN n
JOIN per_key px ON px.key = xy.x JOIN per_key py ON py.key = xy.y
JOIN names nx ON nx.key = xy.x JOIN names ny ON ny.key = xy.y
WHERE xy.cxy / n.n >= $2 AND xy.cxy::float / px.c >= $3
"""

_PAIR_SUGGESTIONS_SQL = """
INSERT INTO upsell_suggestion (contact, kind, product_key, product_name, reason, score, due_on, computed_at)
SELECT DISTINCT ON (b.contact, p.consequent) b.contact, 'pair', p.consequent, p.consequent_name,
       jsonb_build_object('because', p.antecedent_name, 'because_key', p.antecedent, 'support', p.support,
                          'confidence', p.confidence, 'lift', p.lift),
       p.confidence, NULL, $1
FROM (SELECT DISTINCT contact, key FROM upsell_items) b
JOIN upsell_pair p ON p.level = 'product' AND p.antecedent = b.key
WHERE NOT EXISTS (SELECT 1 FROM upsell_items h WHERE h.contact = b.contact AND h.key = p.consequent)
ORDER BY b.contact, p.consequent, p.confidence DESC, p.lift DESC, p.antecedent
"""

_REORDER_SQL = """
WITH days AS (SELECT DISTINCT contact, key, (placed_at AT TIME ZONE $1)::date AS day FROM upsell_items),
gaps AS (SELECT contact, key, day, day - lag(day) OVER (PARTITION BY contact, key ORDER BY day) AS gap FROM days),
mine AS (SELECT contact, key, max(day) AS last_day, count(gap) AS reorders,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median
         FROM gaps GROUP BY contact, key),
buyers AS (SELECT key, count(*) AS buyers, count(*) FILTER (WHERE reorders > 0) AS reorderers FROM mine GROUP BY key),
typical AS (SELECT g.key, percentile_cont(0.5) WITHIN GROUP (ORDER BY g.gap) AS median
            FROM gaps g JOIN buyers b ON b.key = g.key
            WHERE g.gap IS NOT NULL AND b.reorderers >= $2 AND b.reorderers::float / b.buyers >= $4
            GROUP BY g.key),
names AS (SELECT DISTINCT ON (key) key, name FROM upsell_items ORDER BY key, placed_at DESC),
due AS (SELECT m.contact, m.key, m.last_day, CASE WHEN m.reorders > 0 THEN 'contact' ELSE 'product' END AS basis,
               greatest(1, round(CASE WHEN m.reorders > 0 THEN m.median ELSE t.median END))::int AS interval_days
        FROM mine m LEFT JOIN typical t ON t.key = m.key
        WHERE m.reorders > 0 OR t.median IS NOT NULL)
INSERT INTO upsell_suggestion (contact, kind, product_key, product_name, reason, score, due_on, computed_at)
SELECT due.contact, 'reorder', due.key, names.name,
       jsonb_build_object('interval_days', due.interval_days, 'last_on', due.last_day, 'basis', due.basis),
       1.0, due.last_day + due.interval_days, $3
FROM due JOIN names ON names.key = due.key
"""


async def recompute() -> dict[str, int]:
    """Rebuild the pairs (products and categories) and every contact's suggestions from the orders, in one
    transaction: readers see the old set or the new one."""
    conn = current_uow().connection
    # One recompute per shop at a time (the job and the admin's button): the second one waits and then rebuilds
    # from what the first committed, instead of colliding on the suggestions' unique key.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('upsell.recompute:' || current_schema()))")
    cfg = await settings()
    at = clock.now()
    await conn.execute("DROP TABLE IF EXISTS upsell_items")
    await conn.execute(f"CREATE TEMP TABLE upsell_items ON COMMIT DROP AS {SALE_ITEMS_SQL}")
    await conn.execute("CREATE INDEX ON upsell_items (contact, key)")
    await conn.execute("ANALYZE upsell_items")
    await conn.execute("DELETE FROM upsell_pair")
    levels = {"product": ("key", "name"), "category": ("category_key", "category")}
    for level in PAIR_LEVELS:
        key, name = levels[level]
        await conn.execute(_PAIRS_SQL.format(key=key, name=name), cfg["min_count"], cfg["min_support"],
                           cfg["min_confidence"], level, at)
    await conn.execute("DELETE FROM upsell_suggestion")
    await conn.execute(_PAIR_SUGGESTIONS_SQL, at)
    await conn.execute(_REORDER_SQL, str(await workspace_zone()), max(2, cfg["min_count"]), at, cfg["min_confidence"])
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM upsell_pair WHERE level = 'product') AS pairs, "
        "(SELECT count(*) FROM upsell_pair WHERE level = 'category') AS category_pairs, "
        "(SELECT count(*) FROM upsell_suggestion WHERE kind = 'pair') AS pair_suggestions, "
        "(SELECT count(*) FROM upsell_suggestion WHERE kind = 'reorder') AS reorder_suggestions")
    await conn.execute("DROP TABLE IF EXISTS upsell_items")
    return dict(counts)


# -- reading suggestions ----------------------------------------------------------------------------------------

_SUGGESTIONS_SQL = f"""
SELECT u.contact, u.kind, u.product_key, u.product_name, u.reason, u.score, u.due_on
FROM upsell_suggestion u
JOIN contact c ON c.id = u.contact AND c.deleted_at IS NULL AND c.merged_into IS NULL
WHERE u.contact = ANY($1::int[])
  AND (u.due_on IS NULL OR u.due_on <= $2)
  AND (u.kind <> 'reorder' OR (u.reason->>'last_on')::date + {LAPSED} * (u.reason->>'interval_days')::int > $2)
  AND NOT EXISTS (SELECT 1 FROM shop_order o JOIN order_item i ON i.shop_order = o.id
                  LEFT JOIN order_status s ON s.key = o.status
                  WHERE o.contact = u.contact AND {KEY_SQL} = u.product_key AND {SALE_SQL}
                    AND (o.placed_at > u.computed_at OR o.placed_at > $3))
"""  # noqa: S608 (constants)


def _percent(value: float) -> str:
    return f"{round(value * 100)}%"


def _suggestion(row: dict[str, Any], today_: dt.date) -> Suggestion:
    reason = row["reason"] if isinstance(row["reason"], dict) else json.loads(row["reason"] or "{}")
    if row["kind"] == "pair":
        details = {k: reason.get(k) for k in ("because", "because_key", "support", "confidence", "lift")}
        lift = format(float(reason.get("lift") or 0), ".2f")
        text = i18n.gettext(REASON_PAIR, because=reason.get("because", ""),
                            confidence=_percent(float(reason.get("confidence") or 0)), lift=lift)
        score = float(row["score"])
    else:
        interval = int(reason.get("interval_days") or 1)
        last_on = dt.date.fromisoformat(str(reason.get("last_on")))
        since = (today_ - last_on).days
        details = {"interval_days": interval, "days_since": since, "last_on": last_on.isoformat(),
                   "basis": reason.get("basis", "contact")}
        template = REASON_REORDER if reason.get("basis", "contact") == "contact" else REASON_REORDER_TYPICAL
        text = i18n.gettext(template, interval=interval, since=i18n.ngettext("%(num)s day", "%(num)s days", since))
        score = 1.0 + since / interval
    return Suggestion(product_key=row["product_key"], product_name=row["product_name"], kind=row["kind"],
                      reason=text, score=round(score, 4), due_on=row["due_on"], details=details)


async def suggestions_for(contact_ids: list[int], limit: int = 3) -> dict[int, list[Suggestion]]:
    """Each contact's best current suggestions (due reorders first, then pairs by confidence), with the reason
    translated for the current language; a contact without any maps to []. Nothing the contact bought in the last
    `recent_days` days (or since the suggestions were computed) is suggested."""
    ids = sorted({int(c) for c in contact_ids})
    out: dict[int, list[Suggestion]] = {c: [] for c in ids}
    if not ids:
        return out
    cfg = await settings()
    day = await today()
    since = clock.now() - dt.timedelta(days=cfg["recent_days"])
    rows = await current_uow().connection.fetch(_SUGGESTIONS_SQL, ids, day, since)
    for row in rows:
        out[row["contact"]].append(_suggestion(dict(row), day))
    for contact_id, items in out.items():
        items.sort(key=lambda s: (-s.score, s.product_name))
        out[contact_id] = items[:max(0, min(limit, MAX_LIMIT))]
    return out


async def contact_suggestions(contact_id: int, limit: int = 3) -> list[Suggestion]:
    """One contact's suggestions (404 for no such contact)."""
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise NotFound("No such contact.")
    return (await suggestions_for([contact_id], limit))[contact_id]


# -- events -----------------------------------------------------------------------------------------------------

async def record(contact_id: int, product_key: str, kind: str, source: str, ref: str = "") -> bool:
    """Record that a suggestion was shown, offered or accepted. 'shown' is kept at most once a day per contact and
    product (False when it was already recorded today); 'ordered' comes from the order listener, not from here."""
    if kind not in ("shown", "offered", "accepted"):
        raise Invalid("kind must be one of: %(choices)s.", field="kind", choices="shown, offered, accepted")
    if source not in EVENT_SOURCES:
        raise Invalid("source must be one of: %(choices)s.", field="source", choices=", ".join(EVENT_SOURCES))
    product_key = (product_key or "").strip()
    if not product_key or len(product_key) > 200:
        raise Invalid("product_key must be 1 to 200 characters.", field="product_key")
    ref = (ref or "")[:64]
    if not await Contact.exists().where((Contact.id == contact_id) & Contact.deleted_at.is_null()):
        raise NotFound("No such contact.")
    conn = current_uow().connection
    at = clock.now()
    if kind == "shown":
        start = i18n.day_start(await workspace_zone(), at)
        # One writer per contact+product at a time, so two panels rendering at once record one 'shown'.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('upsell_shown'), hashtext($1))",
                           f"{contact_id}:{product_key}")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM upsell_event WHERE contact = $1 AND product_key = $2 "
                               "AND kind = 'shown' AND at >= $3)", contact_id, product_key, start):
            return False
    await conn.execute("INSERT INTO upsell_event (contact, product_key, kind, source, ref, at) "
                       "VALUES ($1, $2, $3, $4, $5, $6)", contact_id, product_key, kind, source, ref, at)
    return True


async def shown(contact_id: int, suggestions: list[Suggestion], source: str, ref: str = "") -> None:
    """Record 'shown' for what a panel rendered (once a day per contact and product)."""
    for s in suggestions:
        await record(contact_id, s.product_key, "shown", source, ref)


async def attribute_order(order_id: int) -> int:
    """An order holding a product that was shown or accepted to its contact within `attribution_days` before it:
    one 'ordered' event per product with the product's line totals as revenue. Idempotent (returns rows added)."""
    cfg = await settings()
    rows = await current_uow().connection.fetch(f"""
        WITH lines AS (SELECT h.contact, h.key, sum(h.line_total)::bigint AS revenue, min(h.placed_at) AS placed_at
                       FROM ({SALE_ITEMS_SQL}) h WHERE h.order_id = $1 GROUP BY h.contact, h.key),
        hit AS (SELECT DISTINCT ON (l.key) l.contact, l.key, l.revenue, l.placed_at, e.source, e.ref
                FROM lines l JOIN upsell_event e ON e.contact = l.contact AND e.product_key = l.key
                 AND e.kind IN ('shown', 'offered', 'accepted') AND e.at <= l.placed_at
                 AND e.at >= l.placed_at - make_interval(days => $2)
                ORDER BY l.key, (e.kind = 'accepted') DESC, (e.kind = 'offered') DESC, e.at DESC)
        INSERT INTO upsell_event (contact, product_key, kind, source, ref, order_id, revenue, at)
        SELECT contact, key, 'ordered', source, ref, $1, revenue, now() FROM hit
        ON CONFLICT (order_id, product_key) WHERE kind = 'ordered' DO NOTHING
        RETURNING id""", order_id, cfg["attribution_days"])  # noqa: S608 (constants)
    return len(rows)


# -- pairs and report -------------------------------------------------------------------------------------------

PAIR_COLUMNS = ("level, antecedent, antecedent_name, consequent, consequent_name, baskets_x, baskets_y, baskets_xy, "
                "support, confidence, lift")


async def pairs(level: str = "product", limit: int = 100) -> list[dict[str, Any]]:
    """The rules of the last recompute, strongest first (lift, then confidence)."""
    if level not in PAIR_LEVELS:
        raise Invalid("level must be one of: %(choices)s.", field="level", choices=", ".join(PAIR_LEVELS))
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be from 1 to 1000.", field="limit")
    rows = await current_uow().connection.fetch(
        f"SELECT {PAIR_COLUMNS} FROM upsell_pair WHERE level = $1 "  # noqa: S608 (constants)
        "ORDER BY lift DESC, confidence DESC, antecedent, consequent LIMIT $2", level, limit)
    return [dict(r) for r in rows]


async def report(days: int = 30) -> dict[str, Any]:
    """Suggestions shown, offered, accepted and ordered in the last `days` days and the revenue they brought."""
    if not 1 <= days <= 3650:
        raise Invalid("days must be from 1 to 3650.", field="days")
    conn = current_uow().connection
    since = clock.now() - dt.timedelta(days=days)
    totals = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE kind = 'shown') AS shown, count(*) FILTER (WHERE kind = 'offered') AS offered, "
        "count(*) FILTER (WHERE kind = 'accepted') AS "
        "accepted, count(*) FILTER (WHERE kind = 'ordered') AS ordered, "
        "coalesce(sum(revenue) FILTER (WHERE kind = 'ordered'), 0)::bigint AS revenue "
        "FROM upsell_event WHERE at >= $1", since)
    by_product = await conn.fetch(
        "SELECT t.*, coalesce((SELECT s.product_name FROM upsell_suggestion s WHERE s.product_key = t.product_key "
        "LIMIT 1), t.product_key) AS product_name FROM ("
        "SELECT product_key, count(*) FILTER (WHERE kind = 'shown') AS shown, "
        "count(*) FILTER (WHERE kind = 'offered') AS offered, count(*) FILTER (WHERE kind = 'accepted') AS accepted, "
        "count(*) FILTER (WHERE kind = 'ordered') AS ordered, "
        "coalesce(sum(revenue) FILTER (WHERE kind = 'ordered'), 0)::bigint AS revenue "
        "FROM upsell_event WHERE at >= $1 GROUP BY product_key) t "
        "ORDER BY t.revenue DESC, t.shown DESC, t.product_key LIMIT 50", since)
    currency = await conn.fetchval("SELECT currency FROM shop_order GROUP BY currency ORDER BY count(*) DESC LIMIT 1")
    return {"days": days, **dict(totals), "currency": currency or "", "by_product": [dict(r) for r in by_product],
            "pairs": await pairs("product")}


# -- merge ------------------------------------------------------------------------------------------------------

async def _move_to_contact(source: int, target: int) -> int:
    """Merge step: the merged-away contact's events become the survivor's; its suggestions are dropped (the next
    recompute, queued by the merge's order events or the nightly run, makes them for the survivor)."""
    conn = current_uow().connection
    await conn.execute("DELETE FROM upsell_suggestion WHERE contact = $1", source)
    status = await conn.execute("UPDATE upsell_event SET contact = $2 WHERE contact = $1", source, target)
    return int(status.split()[-1])


MERGE_STEP = MergeStep("upsell", _move_to_contact, tables=("upsell_suggestion", "upsell_event"))

