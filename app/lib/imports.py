"""What every CSV import shares, whatever it imports: the uploaded file kept in storage, its import row (encoding,
separator, column mapping, status, counters, refused rows), the upload limit, the sample shown beside the mapping,
the editable-until-started rule, queueing the job, the job's start and failure, and errors.csv.

A domain (contacts, orders) describes its import table with an `ImportKind` and keeps only its own rules: how
columns map to fields, the preview, and how a batch of rows lands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import json
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from piccolo.table import Table

from app.lib import i18n, import_csv, import_errors, jobs
from app.lib.clock import now
from app.lib.db import TenantRef, current_tenant, current_uow, tenant_context, tenant_selected
from app.lib.errors import Conflict, DomainError, Invalid, NotFound
from app.lib.storage import CHUNK, ObjectNotFound, get_storage
from app.lib.uploads import safe_filename, upload_chunks
from app.settings import get_settings

SAMPLE_ROWS = 10
ERRORS_SHOWN = 100
MAX_ERRORS_KEPT = 20_000
"""Row errors kept in detail (and in errors.csv); `failed` counts them all."""
FINISHED = ("done", "failed")


class TooLarge(DomainError):
    status_code = 413


def max_bytes() -> int:
    return get_settings().storage.import_max_mb * 1024 * 1024


def too_large_message() -> str:
    return i18n.gettext("The file is larger than the %(mb)s MB import limit; split it into smaller files and import "
                        "them one after another.", mb=get_settings().storage.import_max_mb)


# -- the HTTP edge of an upload ---------------------------------------------------------------------------------

MULTIPART_OVERHEAD = 64 * 1024


def body_limit() -> int:
    """The route-level cap Litestar enforces while it reads the request (413 past it)."""
    return max_bytes() + MULTIPART_OVERHEAD


def too_large_response(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response[Any]:
    message = too_large_message()
    return Response({"detail": message, "status_code": 413, "errors": [{"field": "file", "message": message}]},
                    status_code=413)


async def read_upload(upload: Any) -> tuple[str, bytes]:
    """The file of a form field, read up to one byte past the limit (the service refuses it with 413)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid("Choose a CSV file to upload (multipart field `file`).", field="file")
    parts: list[bytes] = []
    size = 0
    while size <= max_bytes() and (chunk := await upload.read(CHUNK)):
        parts.append(chunk)
        size += len(chunk)
    return upload.filename, b"".join(parts)


def upload_stream(upload: Any) -> tuple[str, AsyncIterator[bytes]]:
    """The file of a form field as chunks (Litestar has spooled it to a temporary file): for `ImportKind.upload`,
    which keeps it in storage as it reads, the size limit checked as it goes (413)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid("Choose a CSV file to upload (multipart field `file`).", field="file")
    return upload.filename, upload_chunks(upload)


class UploadAnswer(msgspec.Struct):
    """What an upload answers, whatever is imported: the file as read, a sample, the mapping guess and the choices.
    Each domain's answer subclasses it (its own name in /schema) and builds it with `of()`."""

    id: int
    filename: str
    encoding: str
    delimiter: str
    columns: list[str]
    sample: list[list[str]]
    """The first data rows, as split."""
    suggested_mapping: list[str]
    """A guess from the column names (English and Russian), one field per column."""
    fields: list[dict[str, str]]
    """Every field a column can map to: key and label."""
    total: int
    status: str

    @classmethod
    def of(cls, row: dict[str, Any], fields: list[dict[str, str]]) -> Any:
        """The answer for an upload row (`ImportKind.upload`'s) and the mapping's choices."""
        return cls(id=row["id"], filename=row["filename"], encoding=row["encoding"], delimiter=row["delimiter"],
                   columns=row["header"], sample=row["sample"], suggested_mapping=row["suggested"], fields=fields,
                   total=row["total"], status=row["status"])


@dataclasses.dataclass(frozen=True)
class ImportActor:
    """Who the services see as the author of imported changes: the import itself (the timeline says which and
    who started it; the audit log has one entry per import rather than one per row)."""

    label: str
    user_id: int | None = None
    name: str = ""
    email: str = ""


class _Pull(io.RawIOBase):
    """The bytes of a storage stream for a reader running in another thread (the CSV reader of a job): each read
    asks the event loop for the next chunk. Reading it on the loop's own thread would wait for itself: refused."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = chunks
        self._loop = loop
        self._left = b""

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        return await anext(self._chunks, b"")

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            if threading.get_ident() == getattr(self._loop, "_thread_id", None):
                raise RuntimeError("a streamed import file is read off the event loop (asyncio.to_thread)")
            self._left = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _batches(rows: Iterator[import_csv.Record], size: int = 5_000) -> AsyncIterator[list[import_csv.Record]]:
    """A streamed file's rows, `size` at a time, each batch read off the event loop."""
    while batch := await asyncio.to_thread(lambda: list(itertools.islice(rows, size))):
        yield batch


def _sample_and_count(rows: Iterator[import_csv.Record]) -> tuple[list[list[str]], int]:
    sample = [r.cells for r in itertools.islice(rows, SAMPLE_ROWS)]
    return sample, len(sample) + sum(1 for _ in rows)


@dataclasses.dataclass(frozen=True)
class ImportKind:
    """One import table (`contact_import`, `order_import`) and how it is named to people and in the audit log."""

    table: type[Table]
    noun: str
    """What a person calls one: "import", "order import"."""
    audit_name: str
    """Prefix of the audit actions and the target type: "contact_import"."""
    audit: Callable[..., Awaitable[None]]
    """Writes one audit entry in the current unit of work: app.audit.services.record, handed in by the domain
    (lib sits below the audit domain)."""
    default_filename: str
    job: str
    columns: tuple[Any, ...]
    """What `get` selects (Piccolo columns)."""
    state_columns: tuple[str, ...]
    """Extra columns the job needs besides the common ones (its resume position)."""
    error_order: str = "x.n"
    """ORDER BY of the kept row errors (`x.e` is one error, `x.n` its position)."""
    decorate: Callable[[dict[str, Any]], None] = lambda row: None
    """Adds the kind's derived values to a row `get` returns."""
    error_keys: tuple[tuple[str, Any], ...] = ()
    """Keys every kept row error of this kind has besides row/field/message (and their value for a file error)."""

    @property
    def tablename(self) -> str:
        return self.table._meta.tablename

    def _label(self, import_id: int) -> str:
        return f"{self.noun.capitalize()} #{import_id}"

    # -- reading -------------------------------------------------------------------------------------------------

    async def get(self, import_id: int) -> dict[str, Any]:
        row = await self.table.select(*self.columns).where(self.table.id == import_id).output(load_json=True).first()
        if row is None:
            raise NotFound("No %(noun)s %(import_id)s.", noun=i18n.gettext(self.noun), import_id=import_id)
        row["header"] = row["mapping"].get("header", [])
        row["fields"] = row["mapping"].get("fields", [])
        row["percent"] = 100 if row["status"] == "done" else (int(row["processed"] * 100 / row["total"])
                                                              if row["total"] else 0)
        row["stranded"] = row["status"] in ("queued", "running") and not await jobs.pending(self._job_key(import_id))
        """Started, unfinished, and no job queued or running for it: its owner can resume it (start)."""
        self.decorate(row)
        return row

    async def errors(self, import_id: int, limit: int | None = ERRORS_SHOWN) -> list[dict[str, Any]]:
        """Row errors: row (as a spreadsheet numbers it; 0 for the whole file), field and message."""
        await self.get(import_id)
        sql = (f"SELECT x.e FROM {self.tablename}, jsonb_array_elements(errors) WITH ORDINALITY AS x(e, n) "  # noqa: S608
               f"WHERE id = $1 ORDER BY {self.error_order}")
        rows = await current_uow().connection.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), import_id)
        return [json.loads(r["e"]) for r in rows]

    async def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        return await self.table.select(*self.columns).order_by(self.table.id, ascending=False).limit(limit).output(
            load_json=True)

    async def state(self, import_id: int, *, lock: bool = False) -> dict[str, Any]:
        """The row as the job and the mapping steps need it (storage key, mapping, errors kept), optionally locked."""
        cols = ", ".join(("id", "storage_key", "encoding", "delimiter", "mapping", "status", "total", "created_by",
                          *self.state_columns))
        sql = f"SELECT {cols}, jsonb_array_length(errors) AS errors_kept FROM {self.tablename} WHERE id = $1"  # noqa: S608
        row = await current_uow().connection.fetchrow(sql + " FOR UPDATE" if lock else sql, import_id)
        if row is None:
            raise NotFound("No %(noun)s %(import_id)s.", noun=i18n.gettext(self.noun), import_id=import_id)
        out = dict(row)
        out["mapping"] = json.loads(out["mapping"])
        return out

    async def file(self, state: dict[str, Any]) -> tuple[list[str], Iterator[import_csv.Record]]:
        try:
            data = await get_storage().read_all(state["storage_key"])
        except ObjectNotFound:
            raise NotFound("The file of %(noun)s %(id)s is missing from storage.", noun=i18n.gettext(self.noun),
                           id=state["id"]) from None
        return import_csv.records(import_csv.decode(data, state["encoding"]), state["delimiter"])

    async def stream(self, state: dict[str, Any]) -> tuple[list[str], Iterator[import_csv.Record]]:
        """Like `file`, without holding the file in memory: storage is read as rows are taken, so a 1M-row file
        costs a few chunks. Take the rows off the event loop (`asyncio.to_thread`): they wait for its reads."""
        try:
            chunks = await get_storage().open(state["storage_key"])
        except ObjectNotFound:
            raise NotFound("The file of %(noun)s %(id)s is missing from storage.", noun=i18n.gettext(self.noun),
                           id=state["id"]) from None
        raw = io.BufferedReader(_Pull(chunks, asyncio.get_running_loop()), buffer_size=CHUNK)
        text = io.TextIOWrapper(raw, encoding=state["encoding"], newline="")
        return await asyncio.to_thread(import_csv.records, text, state["delimiter"])

    async def head(self, state: dict[str, Any], n: int) -> list[import_csv.Record]:
        """The first `n` data rows, reading no more of the file than they take (a 1M-row file's preview)."""
        _, rows = await self.stream(state)
        return await asyncio.to_thread(lambda: list(itertools.islice(rows, n)))

    async def sample(self, import_id: int) -> list[list[str]]:
        return [r.cells for r in await self.head(await self.state(import_id), SAMPLE_ROWS)]

    async def errors_csv(self, import_id: int) -> tuple[str, AsyncIterator[bytes]]:
        """The refused rows as they were in the file, plus an `error` column (app/lib/import_errors.py): the name
        and the chunks, the file streamed from storage (a 1M-row file is never held whole) up to its last refused
        row. Consume the chunks in the caller's tenant (storage keys are the tenant's)."""
        state = await self.state(import_id)
        meta = await self.get(import_id)
        problems = await self.errors(import_id, limit=None)
        header, rows = await self.stream(state)
        # Kept in full below the limit; at it, the rows `failed` counts past the kept ones were not kept.
        more = meta["failed"] - sum(1 for p in problems if p["row"] > 0) if len(problems) >= MAX_ERRORS_KEPT else 0
        return import_errors.download_name(meta["filename"]), import_errors.rejected_rows_chunks(
            header, _batches(rows), problems, state["delimiter"], not_kept=more)

    # -- upload, mapping, start ----------------------------------------------------------------------------------

    async def upload(self, actor: Any, filename: str, data: bytes | AsyncIterable[bytes],
                     suggest: Callable[[list[str]], Any], **mapping_extra: Any) -> dict[str, Any]:
        """Check and keep the file; the mapping starts as `suggest(header)`. Returns the import and a sample.
        `data` may stream (an upload's chunks): it goes to storage as it comes, a chunk and the first 256 KiB held
        (`import_csv.Watch`), then is read back from storage once to count its rows: a 1M-row file never sits in
        memory whole."""
        name = safe_filename(filename or self.default_filename)
        watch = import_csv.Watch(_one(data) if isinstance(data, bytes) else data, max_bytes(),
                                 lambda: TooLarge(too_large_message(), field="file"))
        storage = get_storage()
        key = await storage.put(watch, namespace="imports")
        try:
            encoding, delimiter = watch.sniff(name)
            header, rows = await self.stream({"id": 0, "storage_key": key, "encoding": encoding,
                                              "delimiter": delimiter})
            sample, total = await asyncio.to_thread(_sample_and_count, rows)
            if total == 0:
                raise Invalid("The file has a header but no rows to import.", field="file")
            suggested = await suggest(header)
            inserted = await self.table.insert(self.table(
                filename=name, storage_key=key, encoding=encoding, delimiter=delimiter,
                mapping={"header": header, "fields": suggested, "suggested": suggested, **mapping_extra},
                status="uploaded", total=total, created_by=actor.user_id)).returning(self.table.id)
            import_id = int(inserted[0]["id"])
            await self.audit(f"{self.audit_name}.uploaded", actor_id=actor.user_id, actor=actor.label,
                             target_type=self.audit_name, target_id=import_id,
                             detail={"filename": name, "rows": total, "encoding": encoding, "size": watch.size})
        except BaseException:
            await storage.delete(key)
            raise
        return {**await self.get(import_id), "sample": sample, "suggested": suggested}

    def check_editable(self, state: dict[str, Any]) -> None:
        if state["status"] != "uploaded":
            raise Conflict("The %(noun)s #%(id)s has started already (status %(status)s); upload the file again to "
                           "import it with another mapping.", noun=i18n.gettext(self.noun), id=state["id"],
                           status=state["status"])

    async def save_mapping(self, import_id: int, check: Callable[[dict[str, Any]], Any], **changes: Any) -> None:
        """Change the mapping of an import that has not started; `check(state)` refuses a bad one first."""
        state = await self.state(import_id, lock=True)
        self.check_editable(state)
        await check(state)
        await self.table.update({self.table.mapping: {**state["mapping"], **changes}}).where(
            self.table.id == import_id)

    def _job_key(self, import_id: int) -> str:
        """One live job per import: a start while it is queued or running adds nothing."""
        return f"{self.job}:{current_tenant().slug}:{import_id}"

    async def start(self, actor: Any, import_id: int, check: Callable[[dict[str, Any]], Any],
                    ignore: str) -> dict[str, Any]:
        """Queue the job in this transaction: it runs only if the start commits, and a start is accepted once. The
        audit entry names the mapped columns and the kind's own mapping choices (an order import's currency).
        A start of an import left queued or running with no job to carry it (held after its last attempt, or
        lost) queues it again: it resumes at its last committed row."""
        state = await self.state(import_id, lock=True)
        if state["status"] in ("queued", "running"):
            return await self._resume(actor, state)
        self.check_editable(state)
        await check(state)
        await self.table.update({self.table.status: "queued"}).where(self.table.id == import_id)
        await jobs.enqueue(self.job, {"import_id": import_id, "actor": actor.label},
                           dedupe_key=self._job_key(import_id))
        mapped = {h: f for h, f in zip(state["mapping"]["header"], state["mapping"]["fields"], strict=True)
                  if f != ignore}
        choices = {k: v for k, v in state["mapping"].items() if k not in ("header", "fields", "suggested")}
        await self.audit(f"{self.audit_name}.started", actor_id=actor.user_id, actor=actor.label,
                         target_type=self.audit_name, target_id=import_id,
                         detail={"rows": state["total"], "mapping": mapped, **choices})
        return await self.get(import_id)

    async def _resume(self, actor: Any, state: dict[str, Any]) -> dict[str, Any]:
        import_id = state["id"]
        queued = await jobs.enqueue(self.job, {"import_id": import_id, "actor": actor.label},
                                    dedupe_key=self._job_key(import_id))
        if queued is None:
            raise Conflict("The %(noun)s #%(id)s has started already (status %(status)s) and a worker has it in "
                           "hand; wait for it to finish, or upload the file again to import it with another mapping.",
                           noun=i18n.gettext(self.noun), id=import_id, status=state["status"])
        await self.table.update({self.table.status: "queued"}).where(self.table.id == import_id)
        await self.audit(f"{self.audit_name}.resumed", actor_id=actor.user_id, actor=actor.label,
                         target_type=self.audit_name, target_id=import_id,
                         detail={"rows": state["total"], "was": state["status"]})
        return await self.get(import_id)

    # -- the job -------------------------------------------------------------------------------------------------

    async def begin(self, tenant: TenantRef, import_id: int, actor_label: str, *, stream: bool = False
                    ) -> tuple[dict[str, Any], Iterator[import_csv.Record], ImportActor] | None:
        """The job's first step: mark the import running and open its file (`stream`: as `stream` does, the rows
        then taken off the event loop). None when there is nothing to do (a finished or vanished import: the job is
        idempotent) or the file cannot be read (the import has failed)."""
        async with tenant_context(tenant):
            try:
                state = await self.state(import_id)
            except NotFound:
                return None
            if state["status"] in FINISHED:
                return None
            await self.table.update({self.table.status: "running"}).where(self.table.id == import_id)
            # The refused rows' reasons are stored in the words of whoever started the import (their language, else
            # the workspace's): the progress page and the errors file show them as written.
            i18n.switch(await current_uow().connection.fetchval(
                "SELECT COALESCE(NULLIF((SELECT language FROM app_user WHERE id = $1), ''), "
                "(SELECT language FROM workspace LIMIT 1), '')", state["created_by"]))
        with tenant_selected(tenant):  # storage keys are checked against the current tenant
            try:
                _, records = await (self.stream(state) if stream else self.file(state))
            except DomainError as exc:
                await self.fail(tenant, import_id, exc.detail)
                return None
        actor = ImportActor(label=self._label(import_id) + (f" by {actor_label}" if actor_label else ""))
        return state, records, actor

    async def fail(self, tenant: TenantRef, import_id: int, reason: str) -> None:
        """The whole file is refused (e.g. it vanished from storage): say so as the import's only error."""
        async with tenant_context(tenant):
            error = {**dict(self.error_keys), "row": 0, "field": "file", "message": reason}
            await self.table.update({self.table.status: "failed", self.table.finished_at: now(),
                                     self.table.errors: [error]}).where(self.table.id == import_id)
            await self.audit(f"{self.audit_name}.failed", actor=self._label(import_id),
                             target_type=self.audit_name, target_id=import_id, detail={"reason": reason})

    async def finished(self, state: dict[str, Any], actor: ImportActor, import_id: int) -> None:
        """Audit the end of an import with its final counters (inside the batch transaction that finished it)."""
        final = await self.get(import_id)
        await self.audit(f"{self.audit_name}.finished", actor_id=state["created_by"], actor=actor.label,
                         target_type=self.audit_name, target_id=import_id,
                         detail={k: final[k] for k in ("total", "created", "updated", "unchanged", "failed")})
