"""Likely duplicates: contacts sharing a phone or email, or with a similar name (pg_trgm when installed)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from app.contacts import services
from app.lib.db import current_uow

NAME_SIMILARITY = 0.5
# A value shared by more contacts than this is a switchboard or a family inbox, not a duplicate: skip it in the
# tenant-wide review so one busy number cannot produce thousands of pairs.
MAX_SHARING = 10

_SAME_PHONE = """
SELECT DISTINCT p2.contact AS id, p2.e164 AS value FROM contact_phone p1
JOIN contact_phone p2 ON p2.e164 = p1.e164 AND p2.contact <> p1.contact
JOIN contact c ON c.id = p2.contact AND c.deleted_at IS NULL
WHERE p1.contact = $1
"""
_SAME_EMAIL = """
SELECT DISTINCT e2.contact AS id, e2.email AS value FROM contact_email e1
JOIN contact_email e2 ON e2.email = e1.email AND e2.contact <> e1.contact
JOIN contact c ON c.id = e2.contact AND c.deleted_at IS NULL
WHERE e1.contact = $1
"""
# `%` narrows through the trigram index (threshold 0.3); the similarity filter then applies our bar.
_SIMILAR_NAME = """
SELECT id, public.similarity(lower(name), $1)::float8 AS score FROM contact
WHERE deleted_at IS NULL AND id <> $2 AND lower(name) OPERATOR(public.%) $1
  AND public.similarity(lower(name), $1) > $3
ORDER BY score DESC, id LIMIT $4
"""
_EQUAL_NAME = """
SELECT id, 1.0::float8 AS score FROM contact
WHERE deleted_at IS NULL AND id <> $2 AND lower(name) = $1 AND $3::float8 IS NOT NULL
ORDER BY id LIMIT $4
"""
_PAIRS = """
WITH shared AS (
    SELECT 'phone' AS kind, p.e164 AS value, array_agg(DISTINCT p.contact) AS ids
    FROM contact_phone p JOIN contact c ON c.id = p.contact AND c.deleted_at IS NULL
    GROUP BY p.e164 HAVING count(DISTINCT p.contact) BETWEEN 2 AND $2
    UNION ALL
    SELECT 'email', e.email, array_agg(DISTINCT e.contact)
    FROM contact_email e JOIN contact c ON c.id = e.contact AND c.deleted_at IS NULL
    GROUP BY e.email HAVING count(DISTINCT e.contact) BETWEEN 2 AND $2
), pairs AS (
    SELECT a, b, array_agg(s.kind || ':' || s.value ORDER BY s.kind, s.value) AS reasons
    FROM shared s, unnest(s.ids) a, unnest(s.ids) b WHERE a < b
    GROUP BY a, b
)
SELECT p.a AS contact_id, ca.name AS contact_name, p.b AS other_id, cb.name AS other_name, p.reasons
FROM pairs p JOIN contact ca ON ca.id = p.a JOIN contact cb ON cb.id = p.b
ORDER BY cardinality(p.reasons) DESC, p.b DESC, p.a LIMIT $1
"""


async def has_trgm(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"))


async def for_contact(contact_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """Live contacts that look like the same person, most reasons first: [{contact, reasons, score}]."""
    card = await services.get(contact_id)
    conn = current_uow().connection
    reasons: dict[int, list[str]] = defaultdict(list)
    scores: dict[int, float] = defaultdict(float)
    for kind, sql in (("phone", _SAME_PHONE), ("email", _SAME_EMAIL)):
        for row in await conn.fetch(sql, contact_id):
            reasons[row["id"]].append(f"{kind}:{row['value']}")
    name = " ".join(card["name"].split()).lower()
    if name:
        sql = _SIMILAR_NAME if await has_trgm(conn) else _EQUAL_NAME
        for row in await conn.fetch(sql, name, contact_id, NAME_SIMILARITY, limit):
            reasons[row["id"]].append("name")
            scores[row["id"]] = round(float(row["score"]), 3)
    ranked = sorted(reasons, key=lambda i: (-len(reasons[i]), -scores[i], i))[:limit]
    cards = {c["id"]: c for c in await services._cards(ranked)}
    return [{"contact": cards[i], "reasons": sorted(reasons[i]), "score": scores[i]} for i in ranked if i in cards]


async def pairs(*, limit: int = 50) -> list[dict[str, Any]]:
    """Across the tenant: pairs of live contacts sharing a phone or an email, most shared values first."""
    limit = min(max(limit, 1), 500)
    rows = await current_uow().connection.fetch(_PAIRS, limit, MAX_SHARING)
    return [dict(r) for r in rows]
