"""Contact import from CSV: upload (kept in storage), map columns, preview, then a resumable background job that
lands rows in batches through `services.create` / `services.update`, merging rows that match an existing contact."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import structlog

from app.audit import services as audit
from app.contacts import fields, import_csv, import_mapping, services
from app.contacts.tables import ContactImport
from app.lib import jobs
from app.lib.db import TenantRef, current_uow, tenant_context, tenant_selected
from app.lib.errors import Conflict, DomainError, Invalid, NotFound
from app.lib.identities import normalize_email, try_phone
from app.lib.storage import ObjectNotFound, get_storage
from app.lib.uploads import safe_filename
from app.settings import get_settings

log = structlog.get_logger(__name__)

JOB = "contacts.run_import"
PREVIEW_ROWS = 10
SAMPLE_ROWS = 10
BATCH_ROWS = 200
BATCH_SECONDS = 0.5
"""A batch ends at whichever comes first: each batch is one transaction, and contact events taken in it hold the
tenant's event counter until commit (realtime/log.py), so batches stay short for everyone else's sake."""
MAX_ERRORS_KEPT = 20_000
"""Row errors kept in detail (and in errors.csv); `failed` counts them all."""
ERRORS_SHOWN = 100
STATUSES = ("uploaded", "queued", "running", "done", "failed")
COLUMNS = (ContactImport.id, ContactImport.filename, ContactImport.encoding, ContactImport.delimiter,
           ContactImport.mapping, ContactImport.status, ContactImport.total, ContactImport.processed,
           ContactImport.created, ContactImport.updated, ContactImport.failed, ContactImport.created_by,
           ContactImport.created_by.name.as_alias("created_by_name"), ContactImport.created_at,
           ContactImport.finished_at)


class TooLarge(DomainError):
    status_code = 413


def max_bytes() -> int:
    return get_settings().storage.import_max_mb * 1024 * 1024


def too_large_message() -> str:
    return (f"The file is larger than the {get_settings().storage.import_max_mb} MB import limit; split it into "
            "smaller files and import them one after another.")


@dataclasses.dataclass(frozen=True)
class ImportActor:
    """Who the services see as the author of imported changes: the import itself (the timeline says which and
    who started it; the audit log has one entry per import rather than one per row)."""

    label: str
    user_id: int | None = None
    name: str = ""
    email: str = ""


# -- reading ---------------------------------------------------------------------------------------------------

async def get(import_id: int) -> dict[str, Any]:
    row = await ContactImport.select(*COLUMNS).where(ContactImport.id == import_id).output(load_json=True).first()
    if row is None:
        raise NotFound(f"No import {import_id}.")
    row["header"] = row["mapping"].get("header", [])
    row["fields"] = row["mapping"].get("fields", [])
    row["unchanged"] = max(row["processed"] - row["created"] - row["updated"] - row["failed"], 0)
    row["percent"] = 100 if row["status"] == "done" else (int(row["processed"] * 100 / row["total"])
                                                          if row["total"] else 0)
    return row


async def errors(import_id: int, limit: int | None = ERRORS_SHOWN) -> list[dict[str, Any]]:
    """Row errors in file order: row (as a spreadsheet numbers it), field and message."""
    await get(import_id)
    sql = ("SELECT x.e FROM contact_import, jsonb_array_elements(errors) WITH ORDINALITY AS x(e, n) WHERE id = $1 "
           "ORDER BY x.n")
    rows = await current_uow().connection.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), import_id)
    return [json.loads(r["e"]) for r in rows]


async def recent(limit: int = 10) -> list[dict[str, Any]]:
    return await ContactImport.select(*COLUMNS).order_by(ContactImport.id, ascending=False).limit(limit).output(
        load_json=True)


async def _file(row: dict[str, Any]) -> tuple[list[str], Iterator[import_csv.Record]]:
    try:
        data = await get_storage().read_all(row["storage_key"])
    except ObjectNotFound:
        raise NotFound(f"The file of import {row['id']} is missing from storage.") from None
    return import_csv.records(import_csv.decode(data, row["encoding"]), row["delimiter"])


async def _row_with_key(import_id: int, *, lock: bool = False) -> dict[str, Any]:
    sql = ("SELECT id, storage_key, encoding, delimiter, mapping, status, total, processed, created_by, "
           "jsonb_array_length(errors) AS errors_kept FROM contact_import WHERE id = $1")
    row = await current_uow().connection.fetchrow(sql + " FOR UPDATE" if lock else sql, import_id)
    if row is None:
        raise NotFound(f"No import {import_id}.")
    out = dict(row)
    out["mapping"] = json.loads(out["mapping"])
    return out


# -- upload, mapping, preview, start ---------------------------------------------------------------------------

async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload(actor: Any, filename: str, data: bytes) -> dict[str, Any]:
    """Check and keep the file; the mapping starts as a guess from the header. Returns the import and a sample."""
    if len(data) > max_bytes():
        raise TooLarge(too_large_message(), field="file")
    name = safe_filename(filename or "contacts.csv")
    parsed, header, sample, total = await asyncio.to_thread(_inspect, data, name)  # up to 20 MB of parsing
    if total == 0:
        raise Invalid("The file has a header but no rows to import.", field="file")
    suggested = import_mapping.suggest(header, await fields.definitions())
    storage = get_storage()
    key = await storage.put(_one(data), namespace="imports")
    try:
        inserted = await ContactImport.insert(ContactImport(
            filename=name, storage_key=key, encoding=parsed.encoding, delimiter=parsed.delimiter,
            mapping={"header": header, "fields": suggested, "suggested": suggested}, status="uploaded", total=total,
            created_by=actor.user_id)).returning(ContactImport.id)
        import_id = int(inserted[0]["id"])
        await audit.record("contact_import.uploaded", actor_id=actor.user_id, actor=actor.label,
                           target_type="contact_import", target_id=import_id,
                           detail={"filename": name, "rows": total, "encoding": parsed.encoding, "size": len(data)})
    except BaseException:
        await storage.delete(key)
        raise
    return {**await get(import_id), "sample": sample, "suggested": suggested}


def _inspect(data: bytes, name: str) -> tuple[import_csv.ParsedFile, list[str], list[list[str]], int]:
    parsed = import_csv.parse(data, name)
    header, rows = import_csv.records(parsed.text, parsed.delimiter)
    sample = [r.cells for r in itertools.islice(rows, SAMPLE_ROWS)]
    return parsed, header, sample, len(sample) + sum(1 for _ in rows)


async def sample(import_id: int) -> list[list[str]]:
    row = await _row_with_key(import_id)
    _, rows = await _file(row)
    return [r.cells for r in itertools.islice(rows, SAMPLE_ROWS)]


def _check_editable(row: dict[str, Any]) -> None:
    if row["status"] != "uploaded":
        raise Conflict(f"Import {row['id']} has started already (status {row['status']}); upload the file again to "
                       "import it with another mapping.")


async def set_mapping(actor: Any, import_id: int, mapping: list[str]) -> dict[str, Any]:
    row = await _row_with_key(import_id, lock=True)
    _check_editable(row)
    header = row["mapping"]["header"]
    import_mapping.check(mapping, header, await fields.definitions())
    await ContactImport.update({ContactImport.mapping: {**row["mapping"], "fields": mapping}}).where(
        ContactImport.id == import_id)
    return await get(import_id)


async def _context() -> tuple[dict[str, str], str]:
    kinds = {d["key"]: d["kind"] for d in await fields.definitions()}
    return kinds, await services.default_region()


class _Known:
    """The phones and emails of existing contacts that rows of a batch may match: looked up in one query each per
    batch (not two per row), and kept current as rows create or extend contacts, so a file that names the same
    person twice matches its own earlier row. The first match wins: phones before emails, lowest contact id."""

    _PHONES = ("SELECT p.e164 AS key, p.contact FROM contact_phone p JOIN contact c ON c.id = p.contact "
               "WHERE c.deleted_at IS NULL AND p.e164 = ANY($1::varchar[]) ORDER BY p.contact DESC")
    _EMAILS = ("SELECT e.email AS key, e.contact FROM contact_email e JOIN contact c ON c.id = e.contact "
               "WHERE c.deleted_at IS NULL AND e.email = ANY($1::varchar[]) ORDER BY e.contact DESC")

    def __init__(self, region: str) -> None:
        self.region = region
        self.phones: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self._e164: dict[str, str | None] = {}
        self._email: dict[str, str | None] = {}

    def _phone_of(self, raw: str) -> str | None:
        if raw not in self._e164:
            self._e164[raw] = try_phone(raw, self.region)
        return self._e164[raw]

    def _email_of(self, raw: str) -> str | None:
        if raw not in self._email:
            try:
                self._email[raw] = normalize_email(raw)
            except Invalid:
                self._email[raw] = None
        return self._email[raw]

    async def load(self, rows: list[dict[str, Any]]) -> _Known:
        phones = {p for v in rows for raw in v.get("phones", []) if (p := self._phone_of(raw))}
        emails = {e for v in rows for raw in v.get("emails", []) if (e := self._email_of(raw))}
        conn = current_uow().connection
        for sql, keys, known in ((self._PHONES, phones, self.phones), (self._EMAILS, emails, self.emails)):
            if keys:
                known.update({r["key"]: r["contact"] for r in await conn.fetch(sql, list(keys))})  # lowest id last
        return self

    def match(self, values: dict[str, Any]) -> int | None:
        for raw in values.get("phones", []):
            if (p := self._phone_of(raw)) and p in self.phones:
                return self.phones[p]
        for raw in values.get("emails", []):
            if (e := self._email_of(raw)) and e in self.emails:
                return self.emails[e]
        return None

    def learn(self, contact_id: int, card: dict[str, Any]) -> None:
        for p in card["phones"]:
            self.phones.setdefault(p, contact_id)
        for e in card["emails"]:
            self.emails.setdefault(e, contact_id)


async def preview(import_id: int, limit: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first rows as they would land: the values, what would happen (create / update #id), or the reason the
    row would be refused. Nothing is written."""
    row = await _row_with_key(import_id)
    mapping = row["mapping"]["fields"]
    _, rows = await _file(row)
    kinds, region = await _context()
    records = [(rec, import_mapping.row_values(mapping, rec.cells, kinds)) for rec in itertools.islice(rows, limit)]
    known = await _Known(region).load([values for _, values in records])
    out = []
    for rec, values in records:
        item: dict[str, Any] = {"row": rec.row, "values": values, "ok": True, "action": "create", "contact_id": None,
                                "field": None, "message": None}
        try:
            match = known.match(values)
            await services.validate(values, contact_id=match)
            if match is not None:
                item.update(action="update", contact_id=match)
        except DomainError as exc:
            item.update(ok=False, action="skip", field=exc.field, message=exc.detail)
        out.append(item)
    return out


async def start(actor: Any, import_id: int) -> dict[str, Any]:
    """Queue the job in this transaction: it runs only if the start commits, and a start is accepted once."""
    row = await _row_with_key(import_id, lock=True)
    _check_editable(row)
    import_mapping.check(row["mapping"]["fields"], row["mapping"]["header"], await fields.definitions())
    await ContactImport.update({ContactImport.status: "queued"}).where(ContactImport.id == import_id)
    await jobs.enqueue(JOB, {"import_id": import_id, "actor": actor.label})
    mapped = {h: f for h, f in zip(row["mapping"]["header"], row["mapping"]["fields"], strict=True)
              if f != import_mapping.IGNORE}
    await audit.record("contact_import.started", actor_id=actor.user_id, actor=actor.label,
                       target_type="contact_import", target_id=import_id,
                       detail={"rows": row["total"], "mapping": mapped})
    return await get(import_id)


# -- the job ---------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Batch:
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _fills(current: dict[str, Any], values: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
    """What a row adds to the contact it matched: empty fields filled, new phones/emails/tags appended. Values
    already on the card win, so re-importing a file (or an old export) never undoes an operator's edit."""
    changes: dict[str, Any] = {}
    for key in ("name", "company", "address", "preferences"):
        if clean.get(key) and not current[key]:
            changes[key] = clean[key]
    for key in ("birth_date", "temperature"):
        if clean.get(key) is not None and current[key] is None:
            changes[key] = clean[key]
    for key in ("phones", "emails", "tags"):
        new = [v for v in clean.get(key, []) if v not in current[key]]
        if new:
            changes[key] = [*current[key], *new]
    custom = {k: clean["custom"][k] for k in values.get("custom", {})
              if k in clean.get("custom", {}) and current["custom"].get(k) in (None, "", [])}
    if custom:
        changes["custom"] = custom
    return changes


async def _apply(actor: ImportActor, values: dict[str, Any], known: _Known) -> tuple[str, int, dict[str, Any]]:
    match = known.match(values)
    if match is None:
        card = await services.create(actor, values, source="import")
        return "created", card["id"], card
    clean = await services.validate(values, contact_id=match)  # the whole row, even what will not be used
    changes = _fills(await services.get(match), values, clean)
    if not changes:
        return "unchanged", match, {"phones": [], "emails": []}
    return "updated", match, await services.update(actor, match, changes)


class _Rows:
    """The file's data rows, read once per job run; a batch can hand back rows it had no time for."""

    def __init__(self, rows: Iterator[import_csv.Record]) -> None:
        self._rows = rows
        self._back: list[import_csv.Record] = []
        self.position = 0
        """Index of the next row to hand out."""

    def take(self, n: int) -> list[import_csv.Record]:
        out, self._back = self._back[:n], self._back[n:]
        out += itertools.islice(self._rows, n - len(out))
        self.position += len(out)
        return out

    def give_back(self, rows: list[import_csv.Record]) -> None:
        self._back = rows + self._back
        self.position -= len(rows)

    def skip_to(self, position: int) -> None:
        if position < self.position:
            raise RuntimeError(f"rows cannot go back from {self.position} to {position}")
        while self.position < position and self.take(min(position - self.position, 10_000)):
            pass


async def _process_batch(tenant: TenantRef, import_id: int, rows: _Rows, actor: ImportActor, *,
                         batch_rows: int) -> bool:
    """One transaction: lock the import, run rows from its committed `processed` on, store the counters with them.
    Returns whether the file is finished. A crash rolls the batch back whole, so a retried job resumes at the last
    committed row and no row lands twice."""
    async with tenant_context(tenant) as uow:
        state = await _row_with_key(import_id, lock=True)
        if state["status"] in ("done", "failed"):
            return True
        rows.skip_to(state["processed"])  # another run may have got further
        mapping = state["mapping"]["fields"]
        kinds, region = await _context()
        todo = [(rec, import_mapping.row_values(mapping, rec.cells, kinds)) for rec in rows.take(batch_rows)]
        known = await _Known(region).load([values for _, values in todo])
        batch = _Batch()
        started = time.monotonic()
        for n, (rec, values) in enumerate(todo):
            if n and time.monotonic() - started > BATCH_SECONDS:
                rows.give_back([r for r, _ in todo[n:]])
                break
            try:
                async with uow.connection.transaction():  # a savepoint: a refused row leaves nothing behind
                    outcome, contact_id, card = await _apply(actor, values, known)
                known.learn(contact_id, card)
            except DomainError as exc:
                outcome = "failed"
                batch.errors.append({"index": rec.index, "row": rec.row, "field": exc.field or "",
                                     "message": exc.detail})
            except asyncpg.DataError as exc:  # a value the rules let through but the column refuses
                outcome = "failed"
                batch.errors.append({"index": rec.index, "row": rec.row, "field": "",
                                     "message": f"The database refused this row: {exc}"})
            if outcome == "created":
                batch.created += 1
            elif outcome == "updated":
                batch.updated += 1
            elif outcome == "failed":
                batch.failed += 1
        finished = not todo
        room = max(MAX_ERRORS_KEPT - state["errors_kept"], 0)
        status = "done" if finished else "running"
        await uow.connection.execute(
            "UPDATE contact_import SET processed = $2, created = created + $3, updated = updated + $4, "
            "failed = failed + $5, errors = errors || $6::jsonb, status = $7::varchar, "
            "finished_at = CASE WHEN $7::varchar = 'done' THEN now() ELSE finished_at END WHERE id = $1",
            import_id, rows.position, batch.created, batch.updated, batch.failed, json.dumps(batch.errors[:room]),
            status)
        if finished:
            final = await get(import_id)
            await audit.record("contact_import.finished", actor_id=state["created_by"], actor=actor.label,
                               target_type="contact_import", target_id=import_id,
                               detail={k: final[k] for k in ("total", "created", "updated", "unchanged", "failed")})
    return finished


async def _fail(tenant: TenantRef, import_id: int, reason: str) -> None:
    async with tenant_context(tenant):
        await ContactImport.update({ContactImport.status: "failed", ContactImport.finished_at: dt.datetime.now(dt.UTC),
                                    ContactImport.errors: [{"index": -1, "row": 0, "field": "file",
                                                            "message": reason}]}).where(ContactImport.id == import_id)
        await audit.record("contact_import.failed", actor=f"Import #{import_id}", target_type="contact_import",
                           target_id=import_id, detail={"reason": reason})


async def run(tenant: TenantRef, import_id: int, *, actor_label: str = "", batch_rows: int = BATCH_ROWS) -> None:
    """The job body: idempotent (a finished import is left alone) and resumable (from the committed position)."""
    async with tenant_context(tenant):
        try:
            row = await _row_with_key(import_id)
        except NotFound:
            log.warning("import_vanished", tenant=tenant.slug, import_id=import_id)
            return
        if row["status"] in ("done", "failed"):
            return
        await ContactImport.update({ContactImport.status: "running"}).where(ContactImport.id == import_id)
    with tenant_selected(tenant):  # storage keys are checked against the current tenant
        try:
            _, records = await _file(row)
        except DomainError as exc:
            await _fail(tenant, import_id, exc.detail)
            return
    actor = ImportActor(label=f"Import #{import_id}" + (f" by {actor_label}" if actor_label else ""))
    rows = _Rows(records)
    while not await _process_batch(tenant, import_id, rows, actor, batch_rows=batch_rows):
        pass
    log.info("import_finished", tenant=tenant.slug, import_id=import_id, rows=rows.position)


# -- errors.csv ------------------------------------------------------------------------------------------------

async def errors_csv(import_id: int) -> tuple[str, bytes]:
    """The refused rows as they were in the file, plus an `error` column; UTF-8 with BOM so Excel reads it."""
    row = await _row_with_key(import_id)
    meta = await get(import_id)
    problems: dict[int, list[str]] = {}
    for e in await errors(import_id, limit=None):
        if e["index"] >= 0:
            problems.setdefault(e["index"], []).append(f"{e['field']}: {e['message']}" if e["field"] else e["message"])
    header, rows = await _file(row)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=row["delimiter"], lineterminator="\r\n")
    writer.writerow([*header, "error"])
    for rec in rows:
        if rec.index in problems:
            writer.writerow([*rec.cells, *[""] * (len(header) - len(rec.cells)), "; ".join(problems[rec.index])])
    stem = meta["filename"].rsplit(".", 1)[0]
    return f"{stem}-errors.csv", b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
