"""Segments: saved dynamic segments (a condition tree compiled to one SQL query over contacts) and static lists;
counts, membership, RFM scores. Every query runs in the caller's unit of work (the tenant's schema)."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.lib.db import current_uow
from app.lib.errors import NotFound
from app.segments import compile as compiler


@dataclasses.dataclass(frozen=True)
class RFM:
    """A buyer's recency (days since the last sale), frequency (sales), monetary value (net minor units) and their
    1-5 scores among the shop's buyers (5 = most recent, most frequent, most spent; ties share a score)."""

    recency_days: int
    frequency: int
    monetary: int
    r: int
    f: int
    m: int


async def _segments() -> dict[int, dict[str, Any]]:
    rows = await current_uow().connection.fetch("SELECT id, name, kind, definition FROM segment")
    return {r["id"]: dict(r) for r in rows}


async def contact_ids_sql(segment_id: int) -> tuple[str, list[Any]]:
    """A SELECT returning one column `id` (the segment's contacts; erased, merged and deleted contacts excluded)
    with asyncpg $n parameters, e.g. for `INSERT ... SELECT` snapshots. NotFound for an unknown segment."""
    known = await _segments()
    if segment_id not in known:
        raise NotFound("There is no segment %(id)s.", id=segment_id)
    return compiler.segment_sql(segment_id, known)


async def count(segment_id: int) -> int:
    sql, args = await contact_ids_sql(segment_id)
    return int(await current_uow().connection.fetchval(f"SELECT count(*) FROM ({sql}) s", *args))  # noqa: S608


async def contains(segment_id: int, contact_id: int) -> bool:
    sql, args = await contact_ids_sql(segment_id)
    args.append(contact_id)
    return bool(await current_uow().connection.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM ({sql}) s WHERE s.id = ${len(args)})", *args))  # noqa: S608


async def rfm(contact_ids: list[int]) -> dict[int, RFM]:
    """RFM of these contacts; a contact with no sale is absent."""
    if not contact_ids:
        return {}
    rows = await current_uow().connection.fetch(
        f"{compiler.RFM_CTE} SELECT * FROM rfm WHERE contact = ANY($1::int[])", contact_ids)  # noqa: S608
    return {r["contact"]: RFM(int(r["recency_days"]), int(r["frequency"]), int(r["monetary"]), r["r"], r["f"],
                              r["m"]) for r in rows}
