"""Contact import from CSV: upload (kept in storage), map columns, preview, then a resumable background job that
lands rows in batches, merging rows that match an existing contact.

A batch is set-based: its rows are validated by the card's rules in memory (`services.validate_plain`), matched
against the contacts owning their phones and emails (claimed in one statement) and against the batch's earlier rows,
then written with one statement per table (COPY for new rows), with one progress event per batch. What lands is
what `services.create` / `services.update` row after row would leave; a batch whose rows need a rule that asks the
database (a unique custom field) or that the database refuses goes row by row through the services instead."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
from collections.abc import AsyncIterable, Iterator
from typing import Any

import asyncpg
import structlog

from app.audit import services as audit
from app.contacts import events, fields, identities, import_mapping, imports_prepare, services
from app.contacts import fields_spec as spec
from app.contacts.tables import ContactImport
from app.lib import i18n, import_csv, jobs, quotas, reqctx
from app.lib.clock import now
from app.lib.db import TenantRef, current_uow, tenant_context
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.identities import normalize_email, try_phone
from app.lib.imports import ERRORS_SHOWN, MAX_ERRORS_KEPT, ImportActor, ImportKind
from app.settings import get_settings
from realtime.publish import emit

log = structlog.get_logger(__name__)

PREVIEW_ROWS = 10
__all__ = ["ERRORS_SHOWN", "KIND", "errors", "errors_csv", "get", "preview", "recent", "run", "sample",
           "set_mapping", "start", "upload"]


def _decorate(row: dict[str, Any]) -> None:
    row["unchanged"] = max(row["processed"] - row["created"] - row["updated"] - row["failed"], 0)


KIND = ImportKind(
    table=ContactImport, noun=N_("import"), audit_name="contact_import", audit=audit.record,
    default_filename="contacts.csv",
    job="contacts.run_import", state_columns=("processed",), decorate=_decorate, error_keys=(("index", -1),),
    columns=(ContactImport.id, ContactImport.filename, ContactImport.encoding, ContactImport.delimiter,
             ContactImport.mapping, ContactImport.status, ContactImport.total, ContactImport.processed,
             ContactImport.created, ContactImport.updated, ContactImport.failed, ContactImport.created_by,
             ContactImport.created_by.name.as_alias("created_by_name"), ContactImport.created_at,
             ContactImport.finished_at))
get, errors, recent, sample, errors_csv = KIND.get, KIND.errors, KIND.recent, KIND.sample, KIND.errors_csv


# -- upload, mapping, preview, start ---------------------------------------------------------------------------

async def _suggest(header: list[str]) -> list[str]:
    return import_mapping.suggest(header, await fields.definitions())


async def upload(actor: Any, filename: str, data: bytes | AsyncIterable[bytes]) -> dict[str, Any]:
    """Check and keep the file (bytes, or streamed: `ImportKind.upload`); the mapping starts as a guess from the
    header. Returns the import and a sample."""
    return await KIND.upload(actor, filename, data, _suggest)


async def set_mapping(actor: Any, import_id: int, mapping: list[str]) -> dict[str, Any]:
    async def check(state: dict[str, Any]) -> None:
        import_mapping.check(mapping, state["mapping"]["header"], await fields.definitions())

    await KIND.save_mapping(import_id, check, fields=mapping)
    return await get(import_id)


async def _context() -> tuple[dict[str, str], str]:
    kinds = {d["key"]: d["kind"] for d in await fields.definitions()}
    return kinds, await services.default_region()


class _Known:
    """The phones and emails of existing contacts that rows of a batch may match: looked up once per batch (not
    twice per row) through `identities`, and kept current as rows create or extend contacts, so a file that names
    the same person twice matches its own earlier row. The first match wins: phones before emails, lowest contact
    id. The job claims (locks) the batch's addresses, so a call or an email from a new address arriving meanwhile
    waits for the batch and finds its contact instead of making a second one."""

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

    async def load(self, rows: list[dict[str, Any]], *, claim: bool) -> _Known:
        """Who owns the rows' addresses; `claim` also locks them until the batch's transaction ends."""
        phones = {p for v in rows for raw in v.get("phones", []) if (p := self._phone_of(raw))}
        emails = {e for v in rows for raw in v.get("emails", []) if (e := self._email_of(raw))}
        found = await (identities.claim if claim else identities.owners)(phones, emails)
        self.phones.update(found.phones)
        self.emails.update(found.emails)
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
    row = await KIND.state(import_id)
    mapping = row["mapping"]["fields"]
    kinds, region = await _context()
    records = [(rec, import_mapping.row_values(mapping, rec.cells, kinds)) for rec in await KIND.head(row, limit)]
    known = await _Known(region).load([values for _, values in records], claim=False)
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
    async def check(state: dict[str, Any]) -> None:
        import_mapping.check(state["mapping"]["fields"], state["mapping"]["header"], await fields.definitions())
        await quotas.check("contacts", state["total"], message=quotas.IMPORT_REFUSAL)

    return await KIND.start(actor, import_id, check, import_mapping.IGNORE)


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
    importable = spec.importable()
    for key in (f.name for f in importable if f.kind in ("text", "longtext")):
        if clean.get(key) and not current[key]:
            changes[key] = clean[key]
    for key in (f.name for kind in ("date", "choice") for f in importable if f.kind == kind):
        if clean.get(key) is not None and current[key] is None:
            changes[key] = clean[key]
    for key in (f.name for f in importable if f.kind == "list"):
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
    """The file's data rows, read once per job run as they are taken (the file is streamed from storage, read off
    the event loop). While a batch is written, the next one is read ahead in a thread and its values and addresses
    worked out by the `Preparer` (in worker processes for a big file): the Python work of the next batch overlaps
    the database work of this one."""

    def __init__(self, rows: Iterator[import_csv.Record], preparer: imports_prepare.Preparer | None = None) -> None:
        self._rows = rows
        self._preparer = preparer or imports_prepare.Preparer(0)
        self._buffer: list[tuple[import_csv.Record, dict[str, Any] | None]] = []
        self._ahead: asyncio.Future[list[tuple[import_csv.Record, dict[str, Any] | None]]] | None = None
        self._prepared_for: Any = None
        self.position = 0
        """Index of the next row to hand out."""

    def _read(self, n: int) -> list[tuple[import_csv.Record, dict[str, Any] | None]]:
        return [(rec, None) for rec in itertools.islice(self._rows, n)]

    async def _take(self, n: int) -> list[tuple[import_csv.Record, dict[str, Any] | None]]:
        if self._ahead is not None:
            self._buffer += await self._ahead
            self._ahead = None
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        if len(out) < n:
            out += await asyncio.to_thread(self._read, n - len(out))
        self.position += len(out)
        return out

    async def take(self, n: int, mapping: list[str], kinds: dict[str, str]) -> list[tuple[import_csv.Record,
                                                                                         dict[str, Any]]]:
        """The next `n` rows with their values (read ahead under the same mapping, or worked out now)."""
        ready = self._prepared_for == (mapping, kinds)
        return [(rec, values if ready and values is not None else import_mapping.row_values(mapping, rec.cells, kinds))
                for rec, values in await self._take(n)]

    def read_ahead(self, n: int, mapping: list[str], kinds: dict[str, str], region: str) -> None:
        """Start reading the next `n` rows (in a thread) and working out their values and addresses (in the
        preparer's processes) while the caller writes the current batch."""
        if self._ahead is not None:
            return

        async def ahead() -> list[tuple[import_csv.Record, dict[str, Any] | None]]:
            records = [rec for rec, _ in await asyncio.to_thread(self._read, n)]
            values = await self._preparer.values(mapping, kinds, region, [rec.cells for rec in records])
            return list(zip(records, values, strict=True))

        self._prepared_for = (mapping, kinds)
        self._ahead = asyncio.ensure_future(ahead())

    async def skip_to(self, position: int) -> None:
        if position < self.position:
            raise RuntimeError(f"rows cannot go back from {self.position} to {position}")
        while self.position < position and await self._take(min(position - self.position, 10_000)):
            pass

    async def close(self) -> None:
        """Wait for a read ahead still running (it cannot be cancelled), so nothing outlives the job; stop the
        preparer's processes."""
        if self._ahead is not None:
            await asyncio.gather(self._ahead, return_exceptions=True)
            self._ahead = None
        await self._preparer.close()


# -- a batch, set-based ----------------------------------------------------------------------------------------

_IMPORTABLE = spec.importable()
_BLANK: dict[str, Any] = {f.name: [] if f.kind == "list" else None if f.kind in ("choice", "date") else ""
                          for f in _IMPORTABLE}
"""A new card's fields before a row fills them (what `services.create` stores for a field it is not given)."""
_SQL_TYPES = {"text": "varchar", "longtext": "text", "list": "varchar[]", "choice": "varchar", "date": "date",
              "timezone": "varchar"}
_COLUMNS = [(f.name, f.column or f.name, _SQL_TYPES[f.kind]) for f in _IMPORTABLE if f.column]
"""(field, contact column, SQL type) of every importable field the contact row stores (phones/emails have tables)."""
_SET = ", ".join(f"{col} = u.{col}" for _, col, _ in _COLUMNS)
_RECORD = ", ".join(f"{col} {kind}" for _, col, kind in _COLUMNS)
_UPDATE = (f"UPDATE contact c SET {_SET}, custom = u.custom, version = c.version + u.bumps, updated_at = $2 "  # noqa: S608
           f"FROM jsonb_to_recordset($1::jsonb) AS u(id integer, {_RECORD}, custom jsonb, bumps integer) "
           "WHERE c.id = u.id")
"""Filled existing contacts, all at once: their importable fields, custom values and version as the batch left them."""
CREATED_SUMMARY = N_("Contact created (%(source)s)")


@dataclasses.dataclass
class _Landing:
    """A batch's rows applied in memory, in file order, before one write per table: the cards it creates (ids
    below zero until drawn from the sequence) and the existing cards it fills, as `services.create` and
    `services.update` would have left them row after row."""

    cards: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    new: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    kept: dict[int, tuple[int, int, int]] = dataclasses.field(default_factory=dict)
    """Existing card id -> how many phones and emails it had (the rest are the batch's to insert), its version."""
    dirty: set[int] = dataclasses.field(default_factory=set)
    updates: list[tuple[int, list[str]]] = dataclasses.field(default_factory=list)
    """(card id, fields changed) of every update, for its audit entry."""

    def create(self, clean: dict[str, Any]) -> dict[str, Any]:
        card = {**{k: list(v) if isinstance(v, list) else v for k, v in _BLANK.items()}, **clean,
                "phones": clean.get("phones", []), "emails": clean.get("emails", []), "version": 1,
                "id": -len(self.new) - 1}
        self.new.append(card)
        self.cards[card["id"]] = card
        return card

    def update(self, card: dict[str, Any], clean: dict[str, Any]) -> None:
        """`services.update` of the card with cleaned changes: the fields that differ, the version bumped."""
        phones, emails = clean.pop("phones", None), clean.pop("emails", None)
        lists = {"phones": phones, "emails": emails}
        changed = sorted(k for k in [*clean, *(k for k, v in lists.items() if v is not None)]
                         if card.get(k) != (lists[k] if k in lists else clean.get(k)))
        if not changed:
            return
        card.update(clean)
        card.update({k: v for k, v in lists.items() if v is not None})
        card["version"] += 1
        self.updates.append((card["id"], changed))
        if card["id"] > 0:
            self.dirty.add(card["id"])


def _land(todo: list[tuple[import_csv.Record, dict[str, Any]]], known: _Known, rules: services.Rules,
          existing: dict[int, dict[str, Any]], batch: _Batch) -> _Landing:
    """Every row's outcome, as `_apply` row after row would decide it, without a query: the rows' matches were
    claimed and their cards read before. fields.NeedsDatabase when a row needs a rule that asks the database."""
    landing = _Landing(cards=dict(existing))
    landing.kept = {i: (len(c["phones"]), len(c["emails"]), c["version"]) for i, c in existing.items()}
    for rec, values in todo:
        try:
            match = known.match(values)
            if match is None:
                card = landing.create(services.validate_plain(values, rules))
                known.learn(card["id"], card)
                batch.created += 1
                continue
            card = landing.cards[match]
            clean = services.validate_plain(values, rules, current=card)  # the whole row, even what will not be used
            changes = _fills(card, values, clean)
            if not changes:
                continue
            landing.update(card, services.validate_plain(changes, rules, current=card))
            known.learn(match, card)
            batch.updated += 1
        except DomainError as exc:
            batch.failed += 1
            batch.errors.append({"index": rec.index, "row": rec.row, "field": exc.field or "", "message": exc.detail})
    return landing


async def _matched_cards(known: _Known) -> dict[int, dict[str, Any]]:
    """The existing cards the batch's addresses belong to, locked (after the addresses, as a merge locks them)."""
    ids = sorted(set(known.phones.values()) | set(known.emails.values()))
    if not ids:
        return {}
    await current_uow().connection.execute("SELECT 1 FROM contact WHERE id = ANY($1::int[]) FOR UPDATE", ids)
    return {c["id"]: c for c in await services._cards(ids)}


async def _write(landing: _Landing, actor: ImportActor) -> None:
    """The batch's changes, one statement per table: new contacts, their phones and emails, their timeline
    entries; the filled existing contacts; the audit entries of every update."""
    conn = current_uow().connection
    schema = current_uow().schema
    when = now()
    if landing.new:
        ids = sorted(r[0] for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('contact', 'id')) FROM generate_series(1, $1)", len(landing.new)))
        for card, contact_id in zip(landing.new, ids, strict=True):
            card["id"] = contact_id
        await conn.copy_records_to_table(
            "contact", schema_name=schema,
            columns=["id", *(col for _, col, _ in _COLUMNS), "custom", "search_text", "version"],
            records=[(c["id"], *(c[name] for name, _, _ in _COLUMNS), json.dumps(c["custom"]),
                      services.search_text(c["name"], c["company"], c["emails"], c["phones"]), c["version"])
                     for c in landing.new])
        stored = i18n.STORED_TEXT
        summary = i18n.fill(CREATED_SUMMARY, {"source": "import"})
        payload = json.dumps({"event": "created", "source": "import",
                              stored: i18n.stored_text(CREATED_SUMMARY, {"source": "import"})})
        await conn.copy_records_to_table(
            "interaction", schema_name=schema,
            columns=["contact", "channel", "direction", "occurred_at", "actor_type", "actor_id", "actor_label",
                     "summary", "payload", "links"],
            records=[(c["id"], "system", "internal", when, "system", None, actor.label[:254], summary[:500], payload,
                      "{}") for c in landing.new])
    phones, emails = [], []
    for card in [*landing.new, *(landing.cards[i] for i in sorted(landing.dirty))]:
        kept_phones, kept_emails, _ = landing.kept.get(card["id"], (0, 0, 0))
        phones += [(card["id"], p, i) for i, p in enumerate(card["phones"]) if i >= kept_phones]
        emails += [(card["id"], e, i) for i, e in enumerate(card["emails"]) if i >= kept_emails]
    if phones:
        await conn.copy_records_to_table("contact_phone", schema_name=schema, columns=["contact", "e164", "position"],
                                         records=phones)
    if emails:
        await conn.copy_records_to_table("contact_email", schema_name=schema, columns=["contact", "email", "position"],
                                         records=emails)
    if landing.dirty:
        rows = [{"id": c["id"], **{col: c[name].isoformat() if isinstance(c[name], dt.date) else c[name]
                                   for name, col, _ in _COLUMNS},
                 "custom": c["custom"], "bumps": c["version"] - landing.kept[c["id"]][2]}
                for c in (landing.cards[i] for i in sorted(landing.dirty))]
        await conn.execute(_UPDATE, json.dumps(rows), when)
        await conn.execute(f"UPDATE contact c SET search_text = {services.SEARCH_TEXT_SQL} "  # noqa: S608
                           "WHERE c.id = ANY($1::int[])", sorted(landing.dirty))
    if landing.updates:
        ip = reqctx.client_ip.get()
        await conn.copy_records_to_table(
            "audit_entry", schema_name=schema,
            columns=["actor_id", "actor", "action", "target_type", "target_id", "detail", "ip"],
            records=[(None, actor.label, "contact.updated", "contact", str(landing.cards[i]["id"]),
                      json.dumps({"fields": changed}), ip) for i, changed in landing.updates])


async def _land_set_based(todo: list[tuple[import_csv.Record, dict[str, Any]]], region: str,
                          actor: ImportActor) -> _Batch | None:
    """The batch in a few statements; None when it must go row by row (a rule asks the database, or the database
    refuses a value: then nothing of the batch is written)."""
    known = await _Known(region).load([values for _, values in todo], claim=True)
    existing = await _matched_cards(known)
    batch = _Batch()
    try:
        landing = _land(todo, known, await services.rules(), existing, batch)
    except fields.NeedsDatabase:
        return None
    try:
        async with current_uow().connection.transaction():  # a savepoint: a refused value leaves nothing behind
            await _write(landing, actor)
    except asyncpg.DataError:
        log.info("import_batch_row_by_row", rows=len(todo))
        return None
    return batch


async def _land_row_by_row(todo: list[tuple[import_csv.Record, dict[str, Any]]], region: str,
                           actor: ImportActor) -> _Batch:
    """Each row through the services in its own savepoint: a batch with a unique custom field (checked against the
    database row by row), or one the database refused set-based (this finds the row and reports it)."""
    uow = current_uow()
    known = await _Known(region).load([values for _, values in todo], claim=True)
    batch = _Batch()
    for rec, values in todo:
        try:
            async with uow.connection.transaction():  # a savepoint: a refused row leaves nothing behind
                outcome, contact_id, card = await _apply(actor, values, known)
            known.learn(contact_id, card)
        except DomainError as exc:
            outcome = "failed"
            batch.errors.append({"index": rec.index, "row": rec.row, "field": exc.field or "", "message": exc.detail})
        except asyncpg.DataError as exc:  # a value the rules let through but the column refuses
            outcome = "failed"
            batch.errors.append({"index": rec.index, "row": rec.row, "field": "",
                                 "message": i18n.gettext("The database refused this row: %(exc)s", exc=exc)})
        if outcome == "created":
            batch.created += 1
        elif outcome == "updated":
            batch.updated += 1
        elif outcome == "failed":
            batch.failed += 1
    return batch


ANALYZE_FIRST = 10_000
"""Contacts a job lands before it first refreshes the planner's statistics (then each time it has landed as many
as the table held at the last refresh)."""


class _Statistics:
    """The planner's statistics of the tables each batch reads (`contact`, `contact_phone`, `contact_email`), kept
    current by the job that fills them. A table the planner has never seen analysed (a new shop's) is guessed small:
    the batch's owner lookup then hashes every live contact (the `deleted_at IS NULL` side of its join) instead of
    probing the primary key for the few addresses found, and reading the matched cards scans their phones and
    emails. Each batch cost grew with the table (230 ms a batch at 217k contacts). Autovacuum would fix it, late
    (a minute's nap, then 10% of the table), or never where it is off. So the job analyses the tables after its
    first `ANALYZE_FIRST` contacts and whenever it has landed as many again as the table held at the last refresh
    (~7 refreshes over 1M rows, a fraction of a second each: ANALYZE reads a fixed sample); the planner scales the
    analysed row counts by the tables' current size in between."""

    def __init__(self) -> None:
        self.landed = 0
        self.due = ANALYZE_FIRST

    async def landed_rows(self, tenant: TenantRef, rows: int) -> None:
        self.landed += rows
        if self.landed < self.due:
            return
        async with tenant_context(tenant) as uow:  # its own transaction: no batch waits for it
            await uow.connection.execute("ANALYZE contact, contact_phone, contact_email")
            size = await uow.connection.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'contact'::regclass")
        log.info("import_analyzed", tenant=tenant.slug, contacts=int(size))
        self.landed, self.due = 0, max(ANALYZE_FIRST, int(size))


async def _process_batch(tenant: TenantRef, import_id: int, rows: _Rows, actor: ImportActor, *,
                         batch_rows: int) -> tuple[bool, int]:
    """One transaction: lock the import, land rows from its committed `processed` on, store the counters with them,
    announce the progress (one event). Returns whether the file is finished and how many contacts the batch created
    or filled. A crash rolls the batch back whole, so a retried job resumes at the last committed row and no row
    lands twice."""
    async with tenant_context(tenant) as uow:
        # A batch lost in a database crash is lost with its progress counter (one transaction): the job resumes
        # before it, so its commit need not wait for the disk.
        await uow.connection.execute("SET LOCAL synchronous_commit = off")
        state = await KIND.state(import_id, lock=True)
        if state["status"] in ("done", "failed"):
            return True, 0
        await rows.skip_to(state["processed"])  # another run may have got further
        mapping = state["mapping"]["fields"]
        kinds, region = await _context()
        todo = await rows.take(batch_rows, mapping, kinds)
        batch = _Batch()
        if todo:
            rows.read_ahead(batch_rows, mapping, kinds, region)
            batch = await _land_set_based(todo, region, actor) or await _land_row_by_row(todo, region, actor)
        finished = not todo
        room = max(MAX_ERRORS_KEPT - state["errors_kept"], 0)
        # A batch with no error to keep leaves the kept errors as they are: no rewrite of a value that grows to
        # MBs over a 1M-row file (the unchanged TOAST pointer is kept)
        status = "done" if finished else "running"
        counters = await uow.connection.fetchrow(
            "UPDATE contact_import SET processed = $2, created = created + $3, updated = updated + $4, "
            "failed = failed + $5, errors = CASE WHEN $6::jsonb = '[]' THEN errors ELSE errors || $6::jsonb END, "
            "status = $7::varchar, "
            "finished_at = CASE WHEN $7::varchar = 'done' THEN now() ELSE finished_at END WHERE id = $1 "
            "RETURNING processed, created, updated, failed",
            import_id, rows.position, batch.created, batch.updated, batch.failed, json.dumps(batch.errors[:room]),
            status)
        if finished:
            await KIND.finished(state, actor, import_id)
        await emit(events.CONTACT_IMPORT_PROGRESS, import_id=import_id, status=status, **dict(counters))
    return finished, batch.created + batch.updated


def default_batch_rows() -> int:
    """Rows per batch (IMPORT_BATCH_ROWS): one transaction, a few set-based statements, one progress event (its last
    write, so the tenant's event counter (realtime/log.py) is held only for the commit)."""
    return get_settings().jobs.import_batch_rows


async def run(tenant: TenantRef, import_id: int, *, actor_label: str = "", batch_rows: int | None = None,
              processes: int | None = None) -> None:
    """The job body: idempotent (a finished import is left alone) and resumable (from the committed position).
    `processes`: workers that prepare rows ahead (default: one per core for a big file, none for a small one)."""
    begun = await KIND.begin(tenant, import_id, actor_label, stream=True)
    if begun is None:
        return
    state, records, actor = begun
    if processes is None:
        processes = imports_prepare.processes_for(state["total"] - state["processed"])
    rows = _Rows(records, imports_prepare.Preparer(processes))
    size = batch_rows or default_batch_rows()
    statistics = _Statistics()
    try:
        while True:
            finished, landed = await _process_batch(tenant, import_id, rows, actor, batch_rows=size)
            if finished:
                break
            await statistics.landed_rows(tenant, landed)
            jobs.checkpoint()  # a stopping worker puts the import back here; the next one resumes at this batch
    finally:
        await rows.close()
    log.info("import_finished", tenant=tenant.slug, import_id=import_id, rows=rows.position)
