"""Segments: saved dynamic segments (a condition tree compiled to one SQL query over contacts) and static lists;
counts, membership, RFM scores. Every query runs in the caller's unit of work (the tenant's schema)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from app.audit import services as audit
from app.contacts import services as contacts
from app.lib import import_csv
from app.lib.db import current_uow
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, Invalid, NotFound
from app.lib.identities import try_phone
from app.segments import compile as compiler
from app.segments import events, fields
from app.segments.tables import KINDS, SOURCES
from realtime.publish import emit


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


# -- saved segments --------------------------------------------------------------------------------------------

MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_MEMBERS_PER_CALL = 10_000
_COLUMNS = "id, name, kind, definition, description, created_by, created_at, updated_at"


def _row(record: Any) -> dict[str, Any]:
    d = dict(record)
    d["definition"] = compiler.tree_of(d["definition"])
    return d


async def list_segments() -> list[dict[str, Any]]:
    rows = await current_uow().connection.fetch(f"SELECT {_COLUMNS} FROM segment ORDER BY lower(name), id")  # noqa: S608
    return [_row(r) for r in rows]


async def get(segment_id: int) -> dict[str, Any]:
    row = await current_uow().connection.fetchrow(f"SELECT {_COLUMNS} FROM segment WHERE id = $1",  # noqa: S608
                                                  segment_id)
    if row is None:
        raise NotFound("There is no segment %(id)s.", id=segment_id)
    return _row(row)


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        raise Invalid("A segment needs a name.", field="name")
    if len(name) > MAX_NAME:
        raise Invalid("A segment's name is at most %(max)s characters.", field="name", max=MAX_NAME)
    return name


def _description(value: Any) -> str:
    text = str(value or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Invalid("A description is at most %(max)s characters.", field="description", max=MAX_DESCRIPTION)
    return text


async def _check_definition(definition: Any, editing: int | None = None) -> dict[str, Any]:
    """The checked tree; compiling it also checks the segments it points at (exist, no cycle)."""
    tree = compiler.check(definition)
    compiler.definition_sql(tree, await _segments(), editing=editing)
    return tree


async def _unique(name: str, segment_id: int | None = None) -> None:
    taken = await current_uow().connection.fetchval(
        "SELECT id FROM segment WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2", name, segment_id)
    if taken:
        raise Conflict("There is a segment named %(name)s already.", field="name", name=name)


async def create(actor: Any, *, name: Any, definition: Any = None, kind: str = "dynamic",
                 description: Any = "") -> dict[str, Any]:
    if kind not in KINDS:
        raise Invalid("kind is one of: %(choices)s.", field="kind", choices=", ".join(KINDS))
    name = _name(name)
    tree = {"all": []} if kind == "static" else await _check_definition(definition)
    await _unique(name)
    row = await current_uow().connection.fetchrow(
        "INSERT INTO segment (name, kind, definition, description, created_by) VALUES ($1, $2, $3::jsonb, $4, $5) "
        "RETURNING id", name, kind, json.dumps(tree), _description(description), getattr(actor, "user_id", None))
    await audit.record("segment.created", actor_id=getattr(actor, "user_id", None),
                       actor=getattr(actor, "label", "system"), target_type="segment", target_id=row["id"],
                       detail={"kind": kind})
    await emit(events.SEGMENT_CHANGED, segment_id=row["id"])
    return await get(row["id"])


async def update(actor: Any, segment_id: int, values: dict[str, Any]) -> dict[str, Any]:
    current = await get(segment_id)
    changes: dict[str, Any] = {}
    if "name" in values:
        changes["name"] = _name(values["name"])
        await _unique(changes["name"], segment_id)
    if "description" in values:
        changes["description"] = _description(values["description"])
    if "definition" in values:
        if current["kind"] == "static":
            raise Invalid("A static list has members, not a definition.", field="definition")
        changes["definition"] = json.dumps(await _check_definition(values["definition"], editing=segment_id))
    if not changes:
        return current
    sets = ", ".join(f"{k} = ${i + 2}{'::jsonb' if k == 'definition' else ''}" for i, k in enumerate(changes))
    await current_uow().connection.execute(
        f"UPDATE segment SET {sets}, updated_at = now() WHERE id = $1", segment_id, *changes.values())  # noqa: S608
    await audit.record("segment.updated", actor_id=getattr(actor, "user_id", None),
                       actor=getattr(actor, "label", "system"), target_type="segment", target_id=segment_id,
                       detail={"fields": sorted(changes)})
    await emit(events.SEGMENT_CHANGED, segment_id=segment_id)
    return await get(segment_id)


async def delete(actor: Any, segment_id: int) -> None:
    await get(segment_id)
    for other in (await _segments()).values():
        if other["id"] != segment_id and segment_id in compiler.segments_in(compiler.tree_of(other["definition"])):
            raise Conflict("Segment %(other)s uses this one (in segment); change it first.", other=other["name"])
    await current_uow().connection.execute("DELETE FROM segment WHERE id = $1", segment_id)
    await audit.record("segment.deleted", actor_id=getattr(actor, "user_id", None),
                       actor=getattr(actor, "label", "system"), target_type="segment", target_id=segment_id)
    await emit(events.SEGMENT_CHANGED, segment_id=segment_id)


async def preview(definition: Any, *, editing: int | None = None) -> int:
    """How many contacts an unsaved definition holds (the builder's live count)."""
    sql, args = compiler.definition_sql(definition, await _segments(), editing=editing)
    return int(await current_uow().connection.fetchval(f"SELECT count(*) FROM ({sql}) s", *args))  # noqa: S608


async def definition_ids_sql(definition: Any) -> tuple[str, list[Any]]:
    return compiler.definition_sql(definition, await _segments())


async def contact_page(segment_id: int, *, limit: int = 50, after: int = 0) -> tuple[list[int], int | None]:
    """The segment's contact ids in id order after `after` (keyset pages), and the cursor of the next page."""
    limit = min(max(limit, 1), 500)
    sql, args = await contact_ids_sql(segment_id)
    args += [after, limit + 1]
    rows = await current_uow().connection.fetch(
        f"SELECT s.id FROM ({sql}) s WHERE s.id > ${len(args) - 1} ORDER BY s.id LIMIT ${len(args)}",  # noqa: S608
        *args)
    ids = [r["id"] for r in rows]
    return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)


async def counts(segment_ids: list[int]) -> dict[int, int]:
    return {sid: await count(sid) for sid in segment_ids}


async def memberships(contact_id: int) -> list[int]:
    """The ids of the segments that hold this contact (automation's `contact.in_segment`)."""
    known = await _segments()
    out = []
    for sid in known:
        sql, args = compiler.segment_sql(sid, known)
        args.append(contact_id)
        if await current_uow().connection.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM ({sql}) s WHERE s.id = ${len(args)})", *args):  # noqa: S608
            out.append(sid)
    return out


# -- static lists ----------------------------------------------------------------------------------------------

async def _static(segment_id: int) -> dict[str, Any]:
    seg = await get(segment_id)
    if seg["kind"] != "static":
        raise Invalid("Segment %(id)s is dynamic: its definition decides who is in it.", field="segment_id",
                      id=segment_id)
    return seg


async def add_members(actor: Any, segment_id: int, contact_ids: list[int], source: str = "api") -> int:
    """Add contacts to a static list; ids of unknown, deleted or merged contacts are refused by name."""
    await _static(segment_id)
    if source not in SOURCES:
        raise Invalid("source is one of: %(choices)s.", field="source", choices=", ".join(SOURCES))
    ids = sorted({int(i) for i in contact_ids})
    if len(ids) > MAX_MEMBERS_PER_CALL:
        raise Invalid("At most %(max)s contacts at a time.", field="contact_ids", max=MAX_MEMBERS_PER_CALL)
    conn = current_uow().connection
    found = {r["id"] for r in await conn.fetch(
        f"SELECT c.id FROM contact c WHERE c.id = ANY($1::int[]) AND {compiler.BASE_WHERE}", ids)}  # noqa: S608
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid("No contact %(ids)s.", field="contact_ids", ids=", ".join(map(str, missing[:10])))
    status = await conn.execute(
        "INSERT INTO segment_member (segment, contact, source) SELECT $1, unnest($2::int[]), $3 "
        "ON CONFLICT DO NOTHING", segment_id, ids, source)
    added = int(status.split()[-1])
    if added:
        await audit.record("segment.members_added", actor_id=getattr(actor, "user_id", None),
                           actor=getattr(actor, "label", "system"), target_type="segment", target_id=segment_id,
                           detail={"added": added, "source": source})
        await emit(events.SEGMENT_CHANGED, segment_id=segment_id)
    return added


async def remove_members(actor: Any, segment_id: int, contact_ids: list[int]) -> int:
    await _static(segment_id)
    status = await current_uow().connection.execute(
        "DELETE FROM segment_member WHERE segment = $1 AND contact = ANY($2::int[])", segment_id,
        sorted({int(i) for i in contact_ids}))
    removed = int(status.split()[-1])
    if removed:
        await audit.record("segment.members_removed", actor_id=getattr(actor, "user_id", None),
                           actor=getattr(actor, "label", "system"), target_type="segment", target_id=segment_id,
                           detail={"removed": removed})
        await emit(events.SEGMENT_CHANGED, segment_id=segment_id)
    return removed


async def import_members(actor: Any, segment_id: int, data: bytes) -> dict[str, int]:
    """A CSV (or one value a line) of phones and emails: every cell that is an email or a phone of a contact adds
    that contact. Returns {"added", "matched", "unmatched"} (cells that named nobody)."""
    await _static(segment_id)
    import_csv.check_is_text(data, "list.csv")
    text = import_csv.decode(data, import_csv.detect_encoding(data))
    region = await contacts.default_region()
    emails: set[str] = set()
    phones: set[str] = set()
    for line in csv.reader(io.StringIO(text)):
        for cell in line:
            value = cell.strip().lstrip("\ufeff")
            if "@" in value:
                emails.add(value.lower())
            elif value:
                phone = try_phone(value, region)
                if phone:
                    phones.add(phone)
    conn = current_uow().connection
    rows = await conn.fetch(
        "SELECT e.contact AS id, lower(e.email) AS v FROM contact_email e WHERE lower(e.email) = ANY($1::text[]) "
        "UNION ALL SELECT p.contact, p.e164 FROM contact_phone p WHERE p.e164 = ANY($2::text[])",
        sorted(emails), sorted(phones))
    alive = {r["id"] for r in await conn.fetch(
        f"SELECT c.id FROM contact c WHERE c.id = ANY($1::int[]) AND {compiler.BASE_WHERE}",  # noqa: S608
        sorted({r["id"] for r in rows}))}
    named = {r["v"] for r in rows if r["id"] in alive}
    added = await add_members(actor, segment_id, sorted(alive), "import") if alive else 0
    return {"added": added, "matched": len(alive), "unmatched": len(emails | phones) - len(named)}


async def _move_to_contact(source: int, target: int) -> int:
    """Merge: the survivor joins the lists the merged-away contact was on."""
    conn = current_uow().connection
    await conn.execute("INSERT INTO segment_member (segment, contact, added_at, source) SELECT segment, $2, added_at, "
                       "source FROM segment_member WHERE contact = $1 ON CONFLICT DO NOTHING", source, target)
    status = await conn.execute("DELETE FROM segment_member WHERE contact = $1", source)
    return int(status.split()[-1])


MERGE_STEP = MergeStep("segment_members", _move_to_contact, tables=("segment_member",))


# -- one contact's values (what an automation rule evaluates) -----------------------------------------------------

async def values_for(contact_id: int) -> dict[str, Any]:
    """The segment fields of one contact, as app.lib.conditions.evaluate reads them (`contact.<name>`): order
    aggregates, bought products and categories, RFM scores, last channel, marketing consent per channel and the
    segments that hold them. The same definitions as the compiled SQL (tests hold the two together)."""
    conn = current_uow().connection
    row = await conn.fetchrow(
        f"SELECT oa.orders_count, oa.total_spent, oa.last_order_at, "  # noqa: S608 (constants)
        f"{compiler.last_channel_sql('$2')} AS last_channel, "
        + ", ".join(f"{compiler.consent_sql(ch)} AS consent_marketing_{ch}" for ch in fields.CONSENT_CHANNELS)
        + f" FROM contact c {compiler.ORDER_AGG} WHERE c.id = $1", contact_id, list(fields.LAST_CHANNELS))
    if row is None:
        return {}
    bought = await conn.fetch(
        "SELECT DISTINCT lower(btrim(i.sku)) AS sku, lower(btrim(i.name)) AS name, lower(btrim(i.category)) AS cat "  # noqa: S608
        f"FROM shop_order o JOIN order_item i ON i.shop_order = o.id LEFT JOIN order_status s ON s.key = o.status "
        f"WHERE o.contact = $1 AND {compiler.SALE}", contact_id)
    scores = (await rfm([contact_id])).get(contact_id)
    return {
        **dict(row),
        "bought_product": sorted({v for b in bought for v in (b["sku"], b["name"]) if v}),
        "bought_category": sorted({b["cat"] for b in bought if b["cat"]}),
        "rfm_r": scores.r if scores else None, "rfm_f": scores.f if scores else None,
        "rfm_m": scores.m if scores else None,
        "in_segment": await memberships(contact_id),
    }


async def members_among(segment_id: int, contact_ids: list[int]) -> list[int]:
    """Which of these contacts the segment holds (reports group orders by segment)."""
    if not contact_ids:
        return []
    sql, args = await contact_ids_sql(segment_id)
    args.append(contact_ids)
    rows = await current_uow().connection.fetch(
        f"SELECT s.id FROM ({sql}) s WHERE s.id = ANY(${len(args)}::int[])", *args)  # noqa: S608
    return [r["id"] for r in rows]
