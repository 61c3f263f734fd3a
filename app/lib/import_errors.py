"""The refused rows of a CSV import as a file to fix and import again: the rows as they were, plus an `error` column.

Shared by the contact and the order import: both keep their row errors as dicts with `row` (the row number a
spreadsheet shows; 0 for the file as a whole), `field` and `message`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from litestar import Response

from app.lib.uploads import download_headers

BOM = b"\xef\xbb\xbf"


class CsvRow(Protocol):
    row: int
    cells: list[str]


def rejected_rows_csv(header: list[str], records: Iterable[CsvRow], errors: Iterable[Mapping[str, Any]],
                      delimiter: str) -> bytes:
    """The refused rows in file order with the file's separator; UTF-8 with BOM so Excel reads it. Several reasons
    for one row are joined with `; `, each prefixed by its field."""
    problems: dict[int, list[str]] = {}
    for e in errors:
        if e["row"] > 0:
            problems.setdefault(e["row"], []).append(f"{e['field']}: {e['message']}" if e["field"] else e["message"])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([*header, "error"])
    for rec in records:
        if rec.row in problems:
            writer.writerow([*rec.cells, *[""] * (len(header) - len(rec.cells)), "; ".join(problems[rec.row])])
    return BOM + out.getvalue().encode("utf-8")


def download_name(filename: str) -> str:
    """`orders.csv` -> `orders-errors.csv`."""
    return f"{filename.rsplit('.', 1)[0]}-errors.csv"


def errors_csv_response(filename: str, body: bytes) -> Response[bytes]:
    headers = download_headers(filename, "text/plain; charset=utf-8")
    headers.pop("Content-Type")
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
