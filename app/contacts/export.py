"""CSV export of the filtered contact list: produced in chunks from a cursor, UTF-8 with BOM so Excel opens it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from app.contacts import fields, queries
from app.contacts import fields_spec as spec
from app.lib.db import current_uow

CHUNK = 1000
BOM = "\ufeff"
NO_LIMIT = 2**62
# Cells a spreadsheet would run as a formula (CSV injection); phone numbers and plain numbers are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBERISH = re.compile(r"^[+-]?[\d\s().-]+$")
# How a field that is not a plain `contact` column is read; the others are `c.<column>`.
_COMPUTED = {
    "owner_id": "u.name",
    "phones": "(SELECT string_agg(p.e164, ', ' ORDER BY p.position, p.id) FROM contact_phone p "
              "WHERE p.contact = c.id)",
    "emails": "(SELECT string_agg(e.email, ', ' ORDER BY e.position, e.id) FROM contact_email e "
              "WHERE e.contact = c.id)",
}


def columns(fields: spec.Fields = spec.FIELDS) -> tuple[tuple[str, ...], str]:
    """The export's built-in column headers and the query that reads them for a chunk of contact ids."""
    exported = spec.exported(fields)
    cols = ", ".join(f'{_COMPUTED.get(f.name) or "c." + str(f.column)} AS "{f.export}"' for f in exported)
    sql = (f"SELECT {cols}, c.custom AS _custom "  # noqa: S608 (identifiers from the field declaration)
           "FROM contact c LEFT JOIN app_user u ON u.id = c.owner WHERE c.id = ANY($1::int[])")
    return tuple(str(f.export) for f in exported), sql


HEADER, _DETAILS = columns()


def safe_cell(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _NUMBERISH.match(value):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return out.getvalue()


async def _id_chunks(f: queries.ContactFilter) -> AsyncIterator[list[int]]:
    sql, args = queries.build(f, limit=NO_LIMIT, offset=0)
    chunk: list[int] = []
    # A server-side cursor in the request's transaction: one consistent snapshot, CHUNK ids in memory at a time.
    async for record in current_uow().connection.cursor(sql, *args, prefetch=CHUNK):
        chunk.append(record["id"])
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def csv_chunks(f: queries.ContactFilter) -> AsyncIterator[bytes]:
    """The header, then one chunk of lines per CHUNK contacts, in the list's order. `f` must have been through
    `services.prepare_filter` (so a bad filter is a 400 before the first byte is sent)."""
    defs = await fields.definitions()
    yield (BOM + _line([*HEADER, *(d["key"] for d in defs)])).encode("utf-8")
    conn = current_uow().connection
    async for ids in _id_chunks(f):
        by_id = {r["id"]: r for r in await conn.fetch(_DETAILS, ids)}
        lines = []
        for contact_id in ids:
            r = by_id.get(contact_id)
            if r is None:
                continue
            custom = json.loads(r["_custom"]) if isinstance(r["_custom"], str) else (r["_custom"] or {})
            cells = [_text(r[k]) for k in HEADER]
            cells += [_text(custom.get(d["key"])) for d in defs]
            lines.append(_line(cells))
        yield "".join(lines).encode("utf-8")
