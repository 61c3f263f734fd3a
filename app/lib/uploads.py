"""Untrusted uploads: safe display names, content type decided from magic bytes, download headers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from app.lib.storage import CHUNK

MAX_NAME = 150
SNIFF_BYTES = 8192
OCTET = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_EXT = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_OFFICE_XML = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OLE = {"doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint"}
# Every type `sniff` can answer; anything else read back from storage is served as octet-stream.
SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip",
                        "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
                        TEXT, OCTET, *_OFFICE_XML.values(), *_OLE.values()})


def safe_filename(raw: str) -> str:
    """A display name that is safe anywhere: no directories, `..`, control or bidi characters, Windows-reserved
    names or characters; the extension is kept and the length bounded. Never used to build a storage path."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: NUL and other controls; Cf: bidi overrides (U+202E makes "exe.pdf" look like "fdp.exe"), zero-widths.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or not _EXT.match("." + ext):
        stem, ext = name, ""
    stem = stem.strip(" .")
    if stem.split(".")[0].lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = stem[:MAX_NAME - len(ext) - 1].rstrip(" .") or "file"
    return f"{stem}.{ext}" if ext else stem


def _extension(filename: str) -> str:
    return filename.rpartition(".")[2].lower() if "." in filename else ""


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # only a character cut at the end of the sniffed window is forgiven
            return False
        text = head[:exc.start].decode("utf-8")
    return all(ch in "\t\n\r\f" or unicodedata.category(ch) != "Cc" for ch in text)


def sniff(head: bytes, filename: str = "") -> str:
    """The content type of a file from its first bytes. The client's Content-Type is never consulted; the
    extension only chooses between formats that share a container (zip: docx/xlsx/pptx/odt; OLE: doc/xls)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    ext = _extension(filename)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if head[30:38] == b"mimetype":  # ODF: first entry, stored uncompressed, holds the type itself
            declared = head[38:38 + 60].split(b"PK", 1)[0].decode("ascii", "replace")
            if declared in SAFE_TYPES:
                return declared
        if ext in _OFFICE_XML and b"[Content_Types].xml" in head:
            return _OFFICE_XML[ext]
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE.get(ext, OCTET)
    if _looks_like_text(head):
        return TEXT  # HTML, SVG and scripts included: served as plain text, never rendered
    return OCTET


def download_headers(filename: str, content_type: str) -> dict[str, str]:
    """Headers that make a browser save the file, never render or sniff it in our origin."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "file"
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "Content-Type": content_type if content_type in SAFE_TYPES else OCTET,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }


async def upload_chunks(upload: Any) -> AsyncIterator[bytes]:
    """The bytes of an uploaded form file (Litestar's `UploadFile`, spooled to disk past 1 MiB), a chunk at a time."""
    while chunk := await upload.read(CHUNK):
        yield chunk
