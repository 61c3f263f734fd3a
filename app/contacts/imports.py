"""Contact import from CSV: upload (kept in storage), map columns, preview, then a resumable background job that
lands rows in batches through `services.create` / `services.update`, merging rows that match an existing contact."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import structlog

from app.audit import services as audit
from app.contacts import fields, identities, import_mapping, services
from app.contacts import fields_spec as spec
from app.contacts.tables import ContactImport
from app.lib import i18n, import_csv, jobs
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import DomainError, Invalid
from app.lib.i18n import N_
from app.lib.identities import normalize_email, try_phone
from app.lib.imports import ERRORS_SHOWN, MAX_ERRORS_KEPT, ImportActor, ImportKind

log = structlog.get_logger(__name__)

PREVIEW_ROWS = 10
BATCH_ROWS = 200
BATCH_SECONDS = 0.5
"""A batch ends at whichever comes first: each batch is one transaction, and contact events taken in it hold the
tenant's event counter until commit (realtime/log.py), so batches stay short for everyone else's sake."""
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


async def upload(actor: Any, filename: str, data: bytes) -> dict[str, Any]:
    """Check and keep the file; the mapping starts as a guess from the header. Returns the import and a sample."""
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
    _, rows = await KIND.file(row)
    kinds, region = await _context()
    records = [(rec, import_mapping.row_values(mapping, rec.cells, kinds)) for rec in itertools.islice(rows, limit)]
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
        state = await KIND.state(import_id, lock=True)
        if state["status"] in ("done", "failed"):
            return True
        rows.skip_to(state["processed"])  # another run may have got further
        mapping = state["mapping"]["fields"]
        kinds, region = await _context()
        todo = [(rec, import_mapping.row_values(mapping, rec.cells, kinds)) for rec in rows.take(batch_rows)]
        known = await _Known(region).load([values for _, values in todo], claim=True)
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
                                     "message": i18n.gettext("The database refused this row: %(exc)s", exc=exc)})
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
            await KIND.finished(state, actor, import_id)
    return finished


async def run(tenant: TenantRef, import_id: int, *, actor_label: str = "", batch_rows: int = BATCH_ROWS) -> None:
    """The job body: idempotent (a finished import is left alone) and resumable (from the committed position)."""
    begun = await KIND.begin(tenant, import_id, actor_label)
    if begun is None:
        return
    _, records, actor = begun
    rows = _Rows(records)
    while not await _process_batch(tenant, import_id, rows, actor, batch_rows=batch_rows):
        jobs.checkpoint()  # a stopping worker puts the import back here; the next one resumes at this batch
    log.info("import_finished", tenant=tenant.slug, import_id=import_id, rows=rows.position)
