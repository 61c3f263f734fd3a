"""Reading an uploaded CSV as people export it: encoding and separator detected, blank lines skipped, quotes kept."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator

from charset_normalizer import from_bytes

from app.lib.errors import Invalid
from app.lib.uploads import TEXT, sniff

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_LINES = 50
MAX_COLUMNS = 200
# Field size guard: a file with an unbalanced quote would otherwise swallow the rest of the file into one cell.
MAX_CELL = 100_000
CYRILLIC_SINGLE_BYTE = ("cp1251", "koi8_r")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_ALIASES = {"windows-1251": "cp1251", "koi8-r": "koi8_r", "koi8_u": "koi8_r", "koi8-u": "koi8_r",
            "mac_cyrillic": "cp1251", "cp866": "cp1251", "iso8859_5": "cp1251", "ascii": "utf-8", "utf_8": "utf-8",
            "windows-1252": "cp1252"}
_LOWER = frozenset(chr(c) for c in range(0x430, 0x450)) | {"\u0451"}  # Cyrillic lowercase and yo
_UPPER = frozenset(chr(c) for c in range(0x410, 0x430)) | {"\u0401"}  # Cyrillic capitals and Yo


@dataclasses.dataclass(frozen=True)
class Record:
    """One non-blank data row: its place among data rows (0-based, the resume point of a job) and the row
    number a spreadsheet shows for it (the header is row 1; blank lines count, as Excel shows them)."""

    index: int
    row: int
    cells: list[str]


def detect_encoding(data: bytes, utf8: bool | None = None) -> str:
    """A codec name for `data`: BOM first, then strict UTF-8, then the most likely legacy code page. `utf8`: whether
    the whole file is UTF-8, when `data` is only its head (a file streamed to storage: `Watch`).

    charset-normalizer tells Cyrillic single-byte text from Latin; cp1251 and KOI8-R are then told apart by case:
    the same bytes are lowercase letters in one and capitals in the other, and real text is mostly lowercase.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    if utf8 is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            utf8 = False
        else:
            utf8 = True
    return "utf-8" if utf8 else _legacy(data)


def _legacy(data: bytes) -> str:
    best = from_bytes(data[:200_000]).best()
    if best is None:
        raise Invalid("The file is not text in any encoding we know; upload a CSV file (UTF-8 or Windows-1251).",
                      field="file")
    name = _ALIASES.get(best.encoding, best.encoding)
    if name in CYRILLIC_SINGLE_BYTE or _cyrillic_share(data, "cp1251") > 0.3:
        return max(CYRILLIC_SINGLE_BYTE, key=lambda enc: _lowercase_score(data, enc))
    return name


def _cyrillic_share(data: bytes, encoding: str) -> float:
    high = [b for b in data[:100_000] if b >= 0x80]
    if not high:
        return 0.0
    text = bytes(high).decode(encoding, errors="replace")
    return sum(1 for ch in text if "\u0400" <= ch <= "\u04ff") / len(text)


def _lowercase_score(data: bytes, encoding: str) -> float:
    text = data[:100_000].decode(encoding, errors="replace")
    lower = sum(1 for ch in text if ch in _LOWER)
    upper = sum(1 for ch in text if ch in _UPPER)
    return lower - upper


def check_is_text(data: bytes, filename: str) -> None:
    """Refuse what is not a text file, saying what it looks like (the usual mistake: an .xlsx workbook)."""
    if not data.strip():
        raise Invalid("The file is empty.", field="file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    kind = sniff(data[:8192], filename)
    if kind == TEXT:
        return
    if "spreadsheet" in kind or "excel" in kind or filename.lower().endswith((".xlsx", ".xls", ".ods")):
        raise Invalid("This is a spreadsheet workbook, not a CSV file: open it and save it as CSV "
                      "(File → Save as → CSV), then upload that.", field="file")
    if b"\x00" in data[:8192] or kind != "application/octet-stream":
        raise Invalid("This is not a CSV file (it looks like %(kind)s); upload a text file with one contact per line.",
                      field="file", kind=kind)


def decode(data: bytes, encoding: str, *, final: bool = True) -> str:
    """The text of `data`; `final=False`: `data` is the head of a longer file (it may end inside a character)."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise Invalid("The file is not valid %(encoding)s text (byte %(start)s); save it as UTF-8 CSV and upload it "
                      "again.", field="file", encoding=encoding, start=exc.start) from None
    head = text[:20_000]
    controls = sum(1 for ch in head if ch < " " and ch not in "\t\r\n")
    if controls > len(head) // 100:  # binary data that happens to decode
        raise Invalid("The file is not a CSV file (it holds binary data); upload a text file with one contact per "
                      "line.", field="file")
    return text


def detect_delimiter(text: str) -> str:
    """The separator that splits the first lines into the same number (>1) of columns most consistently."""
    lines = [line for line in text.splitlines()[:SNIFF_LINES * 4] if line.strip()][:SNIFF_LINES]
    if not lines:
        return ","
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        width, hits = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (hits / len(counts), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def records(text: str | io.TextIOBase, delimiter: str) -> tuple[list[str], Iterator[Record]]:
    """The header and an iterator over the data rows. Blank lines (and rows of empty cells) are skipped. `text` is
    the whole file, or a text stream opened with newline="" (read as the rows are taken)."""
    csv.field_size_limit(MAX_CELL)
    source = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(source, delimiter=delimiter, quotechar='"', doublequote=True,
                        skipinitialspace=False, strict=False)
    row_no = 0
    header: list[str] | None = None
    try:
        for cells in reader:
            row_no += 1
            if _blank(cells):
                continue
            header = [c.strip().lstrip("\ufeff") for c in cells]
            break
    except csv.Error as exc:
        raise Invalid("The file cannot be read as CSV: %(exc)s.", field="file", exc=exc) from None
    except UnicodeDecodeError as exc:
        raise Invalid("The file is not valid %(encoding)s text (byte %(start)s); save it as UTF-8 CSV and upload it "
                      "again.", field="file", encoding=exc.encoding, start=exc.start) from None
    if header is None:
        raise Invalid("The file has no rows.", field="file")
    if len(header) > MAX_COLUMNS:
        raise Invalid("The file has %(columns)s columns; at most %(max_columns)s are supported.", field="file",
                      columns=len(header), max_columns=MAX_COLUMNS)
    header = [name or f"Column {i + 1}" for i, name in enumerate(header)]

    def data_rows() -> Iterator[Record]:
        nonlocal row_no
        index = 0
        try:
            for cells in reader:
                row_no += 1
                if _blank(cells):
                    continue
                yield Record(index, row_no, [c.strip() for c in cells])
                index += 1
        except csv.Error as exc:
            raise Invalid("The file stops being valid CSV after row %(row_no)s: %(exc)s.", field="file", row_no=row_no,
                          exc=exc) from None
        except UnicodeDecodeError as exc:
            raise Invalid("The file is not valid %(encoding)s text (byte %(start)s); save it as UTF-8 CSV and upload "
                          "it again.", field="file", encoding=exc.encoding, start=exc.start) from None

    return header, data_rows()


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


@dataclasses.dataclass(frozen=True)
class ParsedFile:
    encoding: str
    delimiter: str
    header: list[str]
    text: str


HEAD_BYTES = 256 * 1024
"""What an upload streamed to storage keeps in memory to tell its encoding and separator: the encoding sniffers read
200 KB at most, the separator's the first 200 lines."""


class Watch:
    """The bytes of an upload as they stream past (to storage): counted, refused past `limit` (`too_large()` is
    raised), the head kept, checked as UTF-8 incrementally and for anything but whitespace, so `sniff` answers what
    `parse` of the whole file would, holding only `HEAD_BYTES`."""

    def __init__(self, chunks: AsyncIterable[bytes], limit: int, too_large: Callable[[], Exception]) -> None:
        self.chunks, self.limit, self.too_large = chunks, limit, too_large
        self.size = 0
        self.head = bytearray()
        self.utf8 = True
        self.blank = True
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise self.too_large()
            if len(self.head) < HEAD_BYTES:
                self.head.extend(chunk[:HEAD_BYTES - len(self.head)])
            self.blank = self.blank and not chunk.strip()
            if self.utf8:
                try:
                    self._utf8.decode(chunk)
                except UnicodeDecodeError:
                    self.utf8 = False
            yield chunk
        if self.utf8:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8 = False

    def sniff(self, filename: str = "") -> tuple[str, str]:
        """(encoding, separator) of the whole file, from what streamed past; Invalid as `parse` says it."""
        data = bytes(self.head)
        if self.blank:
            raise Invalid("The file is empty.", field="file")
        check_is_text(data, filename)
        encoding = detect_encoding(data, self.utf8)
        return encoding, detect_delimiter(decode(data, encoding, final=self.size <= len(data)))


def parse(data: bytes, filename: str = "") -> ParsedFile:
    """Check, decode and split an uploaded file; Invalid (field `file`) says what is wrong with it."""
    check_is_text(data, filename)
    encoding = detect_encoding(data)
    text = decode(data, encoding)
    delimiter = detect_delimiter(text)
    header, _ = records(text, delimiter)
    return ParsedFile(encoding, delimiter, header, text)


def encoding_label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8 (with BOM)", "utf-8": "UTF-8", "utf-16": "UTF-16", "cp1251": "Windows-1251",
            "koi8_r": "KOI8-R"}.get(encoding, encoding)
