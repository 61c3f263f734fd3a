"""Order import from CSV (1C-style exports: `;`, Windows-1251, decimal commas, dd.mm.yyyy): upload (kept in
storage), map columns, preview, then a resumable background job.

Rows sharing an order id (external id) are the items of one order, wherever they are in the file. The import is
idempotent on that id: an order already known (from an earlier import or the API) is updated (items, status), never
created twice. A row that cannot be read refuses its whole order (half an order would show wrong totals); every
refused row is listed with its reason. The CSV reading (encoding, separator) is the contact import's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import structlog

from app.audit import services as audit
from app.contacts import import_csv
from app.contacts.imports import ImportActor, TooLarge, _one, max_bytes, too_large_message
from app.lib import jobs
from app.lib.db import TenantRef, current_uow, tenant_context, tenant_selected
from app.lib.errors import Conflict, DomainError, Invalid, NotFound
from app.lib.storage import ObjectNotFound, get_storage
from app.lib.uploads import safe_filename
from app.orders import import_mapping, money, pipeline, services
from app.orders.import_mapping import IGNORE, Line
from app.orders.schemas import CustomerIn, ItemIn, OrderIn
from app.orders.tables import Order, OrderImport

log = structlog.get_logger(__name__)

JOB = "orders.run_import"
SAMPLE_ROWS = 10
PREVIEW_ORDERS = 10
PREVIEW_SCAN_ROWS = 2000
BATCH_ORDERS = 50
BATCH_SECONDS = 0.5
MAX_ERRORS_KEPT = 20_000
ERRORS_SHOWN = 100
COLUMNS = (OrderImport.id, OrderImport.filename, OrderImport.encoding, OrderImport.delimiter, OrderImport.mapping,
           OrderImport.status, OrderImport.total, OrderImport.processed, OrderImport.orders_total,
           OrderImport.orders_done, OrderImport.created, OrderImport.updated, OrderImport.unchanged,
           OrderImport.failed, OrderImport.created_by, OrderImport.created_by.name.as_alias("created_by_name"),
           OrderImport.created_at, OrderImport.finished_at)


# -- reading ---------------------------------------------------------------------------------------------------

async def get(import_id: int) -> dict[str, Any]:
    row = await OrderImport.select(*COLUMNS).where(OrderImport.id == import_id).output(load_json=True).first()
    if row is None:
        raise NotFound(f"No order import {import_id}.")
    row["header"] = row["mapping"].get("header", [])
    row["fields"] = row["mapping"].get("fields", [])
    row["currency"] = row["mapping"].get("currency")
    row["percent"] = 100 if row["status"] == "done" else (int(row["processed"] * 100 / row["total"])
                                                          if row["total"] else 0)
    return row


async def errors(import_id: int, limit: int | None = ERRORS_SHOWN) -> list[dict[str, Any]]:
    """Refused rows in file order: row (as a spreadsheet numbers it), order id, field, reason."""
    await get(import_id)
    sql = ("SELECT x.e FROM order_import, jsonb_array_elements(errors) WITH ORDINALITY AS x(e, n) WHERE id = $1 "
           "ORDER BY (x.e->>'row')::int, x.n")
    rows = await current_uow().connection.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), import_id)
    return [json.loads(r["e"]) for r in rows]


async def recent(limit: int = 10) -> list[dict[str, Any]]:
    return await OrderImport.select(*COLUMNS).order_by(OrderImport.id, ascending=False).limit(limit).output(
        load_json=True)


async def _row_with_key(import_id: int, *, lock: bool = False) -> dict[str, Any]:
    sql = ("SELECT id, storage_key, encoding, delimiter, mapping, status, total, orders_done, created_by, "
           "jsonb_array_length(errors) AS errors_kept FROM order_import WHERE id = $1")
    row = await current_uow().connection.fetchrow(sql + " FOR UPDATE" if lock else sql, import_id)
    if row is None:
        raise NotFound(f"No order import {import_id}.")
    out = dict(row)
    out["mapping"] = json.loads(out["mapping"])
    return out


async def _file(row: dict[str, Any]) -> tuple[list[str], Iterator[import_csv.Record]]:
    try:
        data = await get_storage().read_all(row["storage_key"])
    except ObjectNotFound:
        raise NotFound(f"The file of order import {row['id']} is missing from storage.") from None
    return import_csv.records(import_csv.decode(data, row["encoding"]), row["delimiter"])


# -- grouping rows into orders -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Unit:
    """One order of the file (its rows, in file order), or a lone row that names no order (key None)."""

    key: str | None
    rows: list[int] = dataclasses.field(default_factory=list)
    lines: list[Line] = dataclasses.field(default_factory=list)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def group(fields: list[str], records: Iterator[import_csv.Record]) -> list[Unit]:
    """Orders in the order their first row appears; rows are read here, so a bad cell is known before any write."""
    id_col = fields.index("external_id") if "external_id" in fields else -1
    units: dict[str, Unit] = {}
    out: list[Unit] = []
    for rec in records:
        key = rec.cells[id_col].strip() if 0 <= id_col < len(rec.cells) else ""
        if key:
            unit = units.get(key)
            if unit is None:
                unit = units[key] = Unit(key)
                out.append(unit)
        else:
            unit = Unit(None)
            out.append(unit)
        unit.rows.append(rec.row)
        try:
            unit.lines.append(import_mapping.read(fields, rec.row, rec.cells))
        except DomainError as exc:
            unit.errors.append({"row": rec.row, "external_id": key, "field": exc.field or "", "message": exc.detail})
    return out


@dataclasses.dataclass
class Draft:
    """An order as the file describes it, ready for `services.create` (or to compare with the stored one)."""

    external_id: str
    currency: str
    items: list[dict[str, Any]]
    number: str | None
    customer: CustomerIn | None
    status: str | None
    placed_at: dt.datetime | None

    @property
    def total(self) -> int:
        return sum(i["quantity"] * i["unit_price"] for i in self.items)


def _status_key(text: str, defs: dict[str, dict[str, Any]]) -> str:
    wanted = text.strip().lower()
    for key, s in defs.items():
        if not s["archived"] and wanted in (key.lower(), s["label"].strip().lower()):
            return key
    live = [k for k, s in defs.items() if not s["archived"]]
    raise Invalid(f"Unknown status {text!r}; use one of: {', '.join(live)} (or their labels).", field="status")


def draft(unit: Unit, default_currency: str | None, defs: dict[str, dict[str, Any]]) -> Draft:
    """Combine the unit's rows into one order; Invalid names the row's field. A row error refuses the order."""
    if unit.errors:
        raise _UnitRefused
    lines = unit.lines
    currencies = {ln.currency for ln in lines if ln.currency}
    if len(currencies) > 1:
        raise _row_error(lines[0], "currency", f"The rows of order {unit.key} have different currencies "
                                               f"({', '.join(sorted(currencies))}).")
    currency = currencies.pop() if currencies else default_currency
    if not currency:
        raise _row_error(lines[0], "currency", "No currency: map a currency column or choose a default currency.")
    items = []
    for ln in lines:
        try:
            price = import_mapping.parse_price(ln.price_text, currency)
        except Invalid as exc:
            raise _row_error(ln, "price", exc.detail) from None
        items.append({"name": ln.item_name[:200], "sku": ln.sku[:64], "quantity": ln.quantity, "unit_price": price})
    status_text = import_mapping.first(lines, "status")
    try:
        status = _status_key(status_text, defs) if status_text else None
    except Invalid as exc:
        raise _row_error(next(ln for ln in lines if ln.status), "status", exc.detail) from None
    phone, email, name = (import_mapping.first(lines, a) for a in ("phone", "email", "name"))
    customer = CustomerIn(name=(name or "")[:200], email=email, phone=phone) if (phone or email or name) else None
    number = import_mapping.first(lines, "number")
    return Draft(external_id=str(unit.key), currency=currency, items=items, number=number[:50] if number else None,
                 customer=customer, status=status, placed_at=import_mapping.first(lines, "placed_at"))


class _RowError(Invalid):
    def __init__(self, row: int, detail: str, field: str) -> None:
        super().__init__(detail, field=field)
        self.row = row


class _UnitRefusedError(Exception):
    """The unit carries row errors already (recorded by `group`)."""


_UnitRefused = _UnitRefusedError()


def _row_error(line: Line, field: str, detail: str) -> _RowError:
    return _RowError(line.row, detail, field)


async def _apply(actor: ImportActor, d: Draft) -> tuple[str, int]:
    """Create the order, or bring the stored one (same external id) up to the file: items and status."""
    existing = await Order.select(Order.id).where(Order.external_id == d.external_id).first()
    if existing is None:
        if d.customer is None:
            raise Invalid("The order has no customer: map a phone, email or name column.", field="contact_phone")
        data = OrderIn(currency=d.currency, items=[ItemIn(**i) for i in d.items], external_id=d.external_id,
                       customer=d.customer, number=d.number, status=d.status, placed_at=d.placed_at)
        row, created = await services.create(actor, data)  # type: ignore[arg-type]
        if created:
            return "created", int(row["id"])
        existing = {"id": row["id"]}
    order_id = int(existing["id"])
    current = await services.get(order_id)
    if current["currency"] != d.currency:
        raise Conflict(f"Order {d.external_id} is in {current['currency']} already; the file says {d.currency}.",
                       field="currency")
    changed = False
    stored = [(i["name"], i["sku"], i["quantity"], i["unit_price"]) for i in current["items"]]
    if stored != [(i["name"], i["sku"], i["quantity"], i["unit_price"]) for i in d.items]:
        await services.update(actor, order_id, {"items": d.items})  # type: ignore[arg-type]
        changed = True
    if d.status and d.status != current["status"]:
        await services.change_status(actor, order_id, d.status)  # type: ignore[arg-type]
        changed = True
    return ("updated" if changed else "unchanged"), order_id


def _errors_of(unit: Unit, exc: BaseException | None) -> list[dict[str, Any]]:
    """The reasons a unit was refused: its bad rows, or the order's reason on its first row; the other rows of a
    refused order are listed too, so the list names every row that did not land."""
    if exc is None or isinstance(exc, _UnitRefusedError):
        errs = list(unit.errors)
    elif isinstance(exc, _RowError):
        errs = [{"row": exc.row, "external_id": unit.key or "", "field": exc.field or "", "message": exc.detail}]
    elif isinstance(exc, DomainError):
        errs = [{"row": unit.rows[0], "external_id": unit.key or "", "field": exc.field or "",
                 "message": exc.detail}]
    else:
        errs = [{"row": unit.rows[0], "external_id": unit.key or "", "field": "",
                 "message": f"The database refused this order: {exc}"}]
    named = {e["row"] for e in errs}
    errs += [{"row": r, "external_id": unit.key or "", "field": "",
              "message": f"Not imported: another row of order {unit.key} was refused."}
             for r in unit.rows if r not in named and unit.key]
    return errs


# -- upload, mapping, preview, start ---------------------------------------------------------------------------

def _inspect(data: bytes, name: str) -> tuple[import_csv.ParsedFile, list[str], list[list[str]], int]:
    parsed = import_csv.parse(data, name)
    header, rows = import_csv.records(parsed.text, parsed.delimiter)
    sample = [r.cells for r in itertools.islice(rows, SAMPLE_ROWS)]
    return parsed, header, sample, len(sample) + sum(1 for _ in rows)


async def upload(actor: Any, filename: str, data: bytes) -> dict[str, Any]:
    if len(data) > max_bytes():
        raise TooLarge(too_large_message(), field="file")
    name = safe_filename(filename or "orders.csv")
    parsed, header, sample, total = await asyncio.to_thread(_inspect, data, name)
    if total == 0:
        raise Invalid("The file has a header but no rows to import.", field="file")
    suggested = import_mapping.suggest(header)
    storage = get_storage()
    key = await storage.put(_one(data), namespace="imports")
    try:
        rows = await OrderImport.insert(OrderImport(
            filename=name, storage_key=key, encoding=parsed.encoding, delimiter=parsed.delimiter,
            mapping={"header": header, "fields": suggested, "suggested": suggested, "currency": None},
            status="uploaded", total=total, created_by=actor.user_id)).returning(OrderImport.id)
        import_id = int(rows[0]["id"])
        await audit.record("order_import.uploaded", actor_id=actor.user_id, actor=actor.label,
                           target_type="order_import", target_id=import_id,
                           detail={"filename": name, "rows": total, "encoding": parsed.encoding, "size": len(data)})
    except BaseException:
        await storage.delete(key)
        raise
    return {**await get(import_id), "sample": sample, "suggested": suggested}


async def sample(import_id: int) -> list[list[str]]:
    _, rows = await _file(await _row_with_key(import_id))
    return [r.cells for r in itertools.islice(rows, SAMPLE_ROWS)]


def _check_editable(row: dict[str, Any]) -> None:
    if row["status"] != "uploaded":
        raise Conflict(f"Order import {row['id']} has started already (status {row['status']}); upload the file "
                       "again to import it with another mapping.")


async def set_mapping(actor: Any, import_id: int, fields: list[str], currency: str | None = None) -> dict[str, Any]:
    row = await _row_with_key(import_id, lock=True)
    _check_editable(row)
    import_mapping.check(fields, row["mapping"]["header"])
    code = import_mapping.check_currency(currency)
    await OrderImport.update({OrderImport.mapping: {**row["mapping"], "fields": fields, "currency": code}}).where(
        OrderImport.id == import_id)
    return await get(import_id)


async def preview(import_id: int, limit: int = PREVIEW_ORDERS) -> list[dict[str, Any]]:
    """The first orders as they would land (create / update #id) or why they would be refused. Nothing is written;
    the customer's phone and email are checked when the job runs."""
    row = await _row_with_key(import_id)
    fields = row["mapping"]["fields"]
    import_mapping.check(fields, row["mapping"]["header"])
    _, records = await _file(row)
    units = group(fields, itertools.islice(records, PREVIEW_SCAN_ROWS))[:limit]
    defs = await pipeline.by_key()
    out = []
    for unit in units:
        item: dict[str, Any] = {"external_id": unit.key or "", "rows": unit.rows, "ok": True, "action": "create",
                                "order_id": None, "number": None, "customer": "", "items": [], "total": "",
                                "status": None, "errors": []}
        try:
            d = draft(unit, row["mapping"].get("currency"), defs)
            existing = await Order.select(Order.id, Order.status).where(Order.external_id == d.external_id).first()
            if existing is not None:
                item.update(action="update", order_id=existing["id"])
                if d.status and d.status != existing["status"]:
                    await pipeline.check_transition(existing["status"], d.status)
            elif d.customer is None:
                raise Invalid("The order has no customer: map a phone, email or name column.", field="contact_phone")
            elif d.status:
                await pipeline.check_transition(None, d.status)
            c = d.customer
            item.update(number=d.number, status=d.status, total=money.fmt(d.total, d.currency),
                        customer=" · ".join(x for x in (c.name, c.phone, c.email) if x) if c else "",
                        items=[f"{i['quantity']} x {i['name']} ({money.fmt(i['unit_price'], d.currency)})"
                               for i in d.items])
        except (DomainError, _UnitRefusedError) as exc:
            item.update(ok=False, action="skip", errors=[e for e in _errors_of(unit, exc)
                                                         if not e["message"].startswith("Not imported")])
        out.append(item)
    return out


async def start(actor: Any, import_id: int) -> dict[str, Any]:
    """Queue the job in this transaction: it runs only if the start commits, and a start is accepted once."""
    row = await _row_with_key(import_id, lock=True)
    _check_editable(row)
    import_mapping.check(row["mapping"]["fields"], row["mapping"]["header"])
    await OrderImport.update({OrderImport.status: "queued"}).where(OrderImport.id == import_id)
    await jobs.enqueue(JOB, {"import_id": import_id, "actor": actor.label})
    mapped = {h: f for h, f in zip(row["mapping"]["header"], row["mapping"]["fields"], strict=True) if f != IGNORE}
    await audit.record("order_import.started", actor_id=actor.user_id, actor=actor.label, target_type="order_import",
                       target_id=import_id, detail={"rows": row["total"], "mapping": mapped,
                                                    "currency": row["mapping"].get("currency")})
    return await get(import_id)


# -- the job ---------------------------------------------------------------------------------------------------

async def _process_batch(tenant: TenantRef, import_id: int, units: list[Unit], actor: ImportActor) -> bool:
    """One transaction: lock the import, handle orders from its committed `orders_done` on, store the counters with
    them. A crash rolls the batch back whole, so a retried job resumes there and no order lands twice (and if it
    did, the external id would make it an update)."""
    async with tenant_context(tenant) as uow:
        state = await _row_with_key(import_id, lock=True)
        if state["status"] in ("done", "failed"):
            return True
        start_at = state["orders_done"]
        defs = await pipeline.by_key()
        counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        errs: list[dict[str, Any]] = []
        rows_done = 0
        began = time.monotonic()
        position = start_at
        for unit in units[start_at:start_at + BATCH_ORDERS]:
            if position > start_at and time.monotonic() - began > BATCH_SECONDS:
                break
            problem: BaseException | None = None
            try:
                d = draft(unit, state["mapping"].get("currency"), defs)
                async with uow.connection.transaction():  # a savepoint: a refused order leaves nothing behind
                    outcome, _ = await _apply(actor, d)
            except (DomainError, _UnitRefusedError, asyncpg.DataError) as exc:
                outcome, problem = "failed", exc
            if unit.key is None:
                outcome, problem = "failed", None  # a lone row without an order id: its error is in unit.errors
            counts[outcome] += 1
            if outcome == "failed":
                errs += _errors_of(unit, problem)
            rows_done += len(unit.rows)
            position += 1
        finished = position >= len(units)
        room = max(MAX_ERRORS_KEPT - state["errors_kept"], 0)
        status = "done" if finished else "running"
        await uow.connection.execute(
            "UPDATE order_import SET orders_done = $2, processed = processed + $3, created = created + $4, "
            "updated = updated + $5, unchanged = unchanged + $6, failed = failed + $7, errors = errors || $8::jsonb, "
            "status = $9::varchar, orders_total = $10, "
            "finished_at = CASE WHEN $9::varchar = 'done' THEN now() ELSE finished_at END WHERE id = $1",
            import_id, position, rows_done, counts["created"], counts["updated"], counts["unchanged"],
            counts["failed"], json.dumps(errs[:room]), status, len(units))
        if finished:
            final = await get(import_id)
            await audit.record("order_import.finished", actor_id=state["created_by"], actor=actor.label,
                               target_type="order_import", target_id=import_id,
                               detail={k: final[k] for k in ("total", "created", "updated", "unchanged", "failed")})
    return finished


async def _fail(tenant: TenantRef, import_id: int, reason: str) -> None:
    async with tenant_context(tenant):
        await OrderImport.update({OrderImport.status: "failed", OrderImport.finished_at: dt.datetime.now(dt.UTC),
                                  OrderImport.errors: [{"row": 0, "external_id": "", "field": "file",
                                                        "message": reason}]}).where(OrderImport.id == import_id)
        await audit.record("order_import.failed", actor=f"Order import #{import_id}", target_type="order_import",
                           target_id=import_id, detail={"reason": reason})


async def run(tenant: TenantRef, import_id: int, *, actor_label: str = "") -> None:
    """The job body: idempotent (a finished import is left alone) and resumable (from the committed order)."""
    async with tenant_context(tenant):
        try:
            row = await _row_with_key(import_id)
        except NotFound:
            log.warning("order_import_vanished", tenant=tenant.slug, import_id=import_id)
            return
        if row["status"] in ("done", "failed"):
            return
        await OrderImport.update({OrderImport.status: "running"}).where(OrderImport.id == import_id)
    with tenant_selected(tenant):  # storage keys are checked against the current tenant
        try:
            _, records = await _file(row)
            units = await asyncio.to_thread(group, row["mapping"]["fields"], records)
        except DomainError as exc:
            await _fail(tenant, import_id, exc.detail)
            return
    actor = ImportActor(label=f"Order import #{import_id}" + (f" by {actor_label}" if actor_label else ""))
    while not await _process_batch(tenant, import_id, units, actor):
        pass
    log.info("order_import_finished", tenant=tenant.slug, import_id=import_id, orders=len(units))
