"""The refused rows of a CSV import as a file to fix and import again: the rows as they were, plus an `error` column.

Shared by the contact and the order import: both keep their row errors as dicts with `row` (the row number a
spreadsheet shows; 0 for the file as a whole), `field` and `message`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

from litestar import Request
from litestar.response import Stream

from app.lib import i18n
from app.lib.reqctx import STREAM_RESPONSE
from app.lib.uploads import download_headers

BOM = b"\xef\xbb\xbf"


class CsvRow(Protocol):
    row: int
    cells: list[str]


async def rejected_rows_chunks(header: list[str], batches: AsyncIterable[Iterable[CsvRow]],
                               errors: Iterable[Mapping[str, Any]], delimiter: str, *,
                               not_kept: int = 0) -> AsyncIterator[bytes]:
    """The refused rows in file order with the file's separator, a chunk per batch of the file's rows (read no
    further than the last refused one); UTF-8 with BOM so Excel reads it. Several reasons for one row are joined
    with `; `, each prefixed by its field. `not_kept`: refused rows counted but not kept in detail (past the
    import's limit): a last line says how many, so none goes missing unsaid."""
    problems: dict[int, list[str]] = {}
    for e in errors:
        if e["row"] > 0:
            problems.setdefault(e["row"], []).append(f"{e['field']}: {e['message']}" if e["field"] else e["message"])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([*header, "error"])
    yield BOM + _take(out)
    last = max(problems, default=0)
    async for batch in batches:
        done = False
        for rec in batch:
            if rec.row in problems:
                writer.writerow([*rec.cells, *[""] * (len(header) - len(rec.cells)), "; ".join(problems[rec.row])])
            done = rec.row >= last
            if done:
                break
        yield _take(out)
        if done:
            break
    if not_kept > 0:
        writer.writerow([*[""] * len(header), i18n.ngettext(
            "%(num)s more refused row is not listed here (only the first %(kept)s are kept in detail).",
            "%(num)s more refused rows are not listed here (only the first %(kept)s are kept in detail).",
            not_kept, kept=len(problems))])
        yield _take(out)


def _take(out: io.StringIO) -> bytes:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text.encode("utf-8")


def download_name(filename: str) -> str:
    """`orders.csv` -> `orders-errors.csv`."""
    return f"{filename.rsplit('.', 1)[0]}-errors.csv"


def errors_csv_response(request: Request[Any, Any, Any], filename: str, chunks: AsyncIterator[bytes]) -> Stream:
    """errors.csv streamed as it is read from storage (a read-only answer: the tenant's transaction need not hold
    it, see tenants/routing.py)."""
    request.scope.setdefault("state", {})[STREAM_RESPONSE] = True
    headers = download_headers(filename, "text/plain; charset=utf-8")
    headers.pop("Content-Type")
    return Stream(chunks, media_type="text/csv; charset=utf-8", headers=headers)
