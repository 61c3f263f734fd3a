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
from collections.abc import AsyncIterable, Iterator
from typing import Any

import asyncpg
import structlog

from app.audit import services as audit
from app.lib import i18n, import_csv, jobs, money
from app.lib.db import TenantRef, tenant_context
from app.lib.errors import Conflict, DomainError, Invalid
from app.lib.i18n import N_
from app.lib.imports import ERRORS_SHOWN, MAX_ERRORS_KEPT, ImportActor, ImportKind
from app.orders import import_mapping, pipeline, services
from app.orders.import_mapping import IGNORE, Line
from app.orders.schemas import CustomerIn, ItemIn, OrderIn
from app.orders.tables import Order, OrderImport

log = structlog.get_logger(__name__)

PREVIEW_ORDERS = 10
PREVIEW_SCAN_ROWS = 2000
BATCH_ORDERS = 50
BATCH_SECONDS = 0.5
__all__ = ["ERRORS_SHOWN", "KIND", "errors", "errors_csv", "get", "preview", "recent", "run", "sample",
           "set_mapping", "start", "upload"]


def _decorate(row: dict[str, Any]) -> None:
    row["currency"] = row["mapping"].get("currency")


KIND = ImportKind(
    table=OrderImport, noun=N_("order import"), audit_name="order_import", audit=audit.record,
    default_filename="orders.csv",
    job="orders.run_import", state_columns=("orders_done",), decorate=_decorate,
    error_order="(x.e->>'row')::int, x.n", error_keys=(("external_id", ""),),
    columns=(OrderImport.id, OrderImport.filename, OrderImport.encoding, OrderImport.delimiter, OrderImport.mapping,
             OrderImport.status, OrderImport.total, OrderImport.processed, OrderImport.orders_total,
             OrderImport.orders_done, OrderImport.created, OrderImport.updated, OrderImport.unchanged,
             OrderImport.failed, OrderImport.created_by, OrderImport.created_by.name.as_alias("created_by_name"),
             OrderImport.created_at, OrderImport.finished_at))
get, errors, recent, sample, errors_csv = KIND.get, KIND.errors, KIND.recent, KIND.sample, KIND.errors_csv


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
        if not s["archived"] and wanted in pipeline.spellings(s):
            return key
    live = [k for k, s in defs.items() if not s["archived"]]
    raise Invalid("Unknown status %(text)s; use one of: %(choices)s (or their labels).", field="status",
                  text=repr(text), choices=', '.join(live))


def draft(unit: Unit, default_currency: str | None, defs: dict[str, dict[str, Any]]) -> Draft:
    """Combine the unit's rows into one order; Invalid names the row's field. A row error refuses the order."""
    if unit.errors:
        raise _UnitRefused
    lines = unit.lines
    currencies = {ln.currency for ln in lines if ln.currency}
    if len(currencies) > 1:
        raise _row_error(lines[0], "currency", i18n.gettext(
            "The rows of order %(order)s have different currencies (%(currencies)s).", order=unit.key,
            currencies=", ".join(sorted(currencies))))
    currency = currencies.pop() if currencies else default_currency
    if not currency:
        raise _row_error(lines[0], "currency", i18n.gettext(
            "No currency: map a currency column or choose a default currency."))
    items = []
    for ln in lines:
        try:
            price = import_mapping.parse_price(ln.price_text, currency)
        except Invalid as exc:
            raise _row_error(ln, "price", exc.detail) from None
        items.append({"name": ln.item_name[:200], "sku": ln.sku[:64], "category": ln.category[:100],
                      "quantity": ln.quantity, "unit_price": price})
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
        raise Conflict("Order %(external_id)s is in %(currency)s already; the file says %(file_currency)s.",
                       field="currency", external_id=d.external_id, currency=current["currency"],
                       file_currency=d.currency)
    changed = False
    stored = [(i["name"], i["sku"], i.get("category", ""), i["quantity"], i["unit_price"]) for i in current["items"]]
    if stored != [(i["name"], i["sku"], i.get("category", ""), i["quantity"], i["unit_price"]) for i in d.items]:
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
                 "message": i18n.gettext("The database refused this order: %(exc)s", exc=exc)}]
    named = {e["row"] for e in errs}
    errs += [{"row": r, "external_id": unit.key or "", "field": "",
              "message": i18n.gettext("Not imported: another row of order %(order)s was refused.", order=unit.key)}
             for r in unit.rows if r not in named and unit.key]
    return errs


# -- upload, mapping, preview, start ---------------------------------------------------------------------------

async def _suggest(header: list[str]) -> list[str]:
    return import_mapping.suggest(header)


async def upload(actor: Any, filename: str, data: bytes | AsyncIterable[bytes]) -> dict[str, Any]:
    return await KIND.upload(actor, filename, data, _suggest, currency=None)


async def set_mapping(actor: Any, import_id: int, fields: list[str], currency: str | None = None) -> dict[str, Any]:
    async def check(state: dict[str, Any]) -> None:
        import_mapping.check(fields, state["mapping"]["header"])

    code = import_mapping.check_currency(currency)
    await KIND.save_mapping(import_id, check, fields=fields, currency=code)
    return await get(import_id)


async def preview(import_id: int, limit: int = PREVIEW_ORDERS) -> list[dict[str, Any]]:
    """The first orders as they would land (create / update #id) or why they would be refused. Nothing is written;
    the customer's phone and email are checked when the job runs."""
    row = await KIND.state(import_id)
    fields = row["mapping"]["fields"]
    import_mapping.check(fields, row["mapping"]["header"])
    _, records = await KIND.file(row)
    units = group(fields, itertools.islice(records, PREVIEW_SCAN_ROWS))[:limit]
    defs = await pipeline.by_key()
    fallback = await services.default_currency()
    out = []
    for unit in units:
        item: dict[str, Any] = {"external_id": unit.key or "", "rows": unit.rows, "ok": True, "action": "create",
                                "order_id": None, "number": None, "customer": "", "items": [], "total": "",
                                "status": None, "errors": []}
        try:
            d = draft(unit, row["mapping"].get("currency") or fallback, defs)
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
    async def check(state: dict[str, Any]) -> None:
        import_mapping.check(state["mapping"]["fields"], state["mapping"]["header"])

    return await KIND.start(actor, import_id, check, IGNORE)


# -- the job ---------------------------------------------------------------------------------------------------

async def _process_batch(tenant: TenantRef, import_id: int, units: list[Unit], actor: ImportActor) -> bool:
    """One transaction: lock the import, handle orders from its committed `orders_done` on, store the counters with
    them. A crash rolls the batch back whole, so a retried job resumes there and no order lands twice (and if it
    did, the external id would make it an update)."""
    async with tenant_context(tenant) as uow:
        state = await KIND.state(import_id, lock=True)
        if state["status"] in ("done", "failed"):
            return True
        start_at = state["orders_done"]
        defs = await pipeline.by_key()
        fallback = await services.default_currency()
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
                d = draft(unit, state["mapping"].get("currency") or fallback, defs)
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
            await KIND.finished(state, actor, import_id)
    return finished


async def run(tenant: TenantRef, import_id: int, *, actor_label: str = "") -> None:
    """The job body: idempotent (a finished import is left alone) and resumable (from the committed order)."""
    begun = await KIND.begin(tenant, import_id, actor_label)
    if begun is None:
        return
    state, records, actor = begun
    try:
        units = await asyncio.to_thread(group, state["mapping"]["fields"], records)
    except DomainError as exc:
        await KIND.fail(tenant, import_id, exc.detail)
        return
    while not await _process_batch(tenant, import_id, units, actor):
        jobs.checkpoint()  # a stopping worker puts the import back here; the next one resumes at this batch
    log.info("order_import_finished", tenant=tenant.slug, import_id=import_id, orders=len(units))
