"""Upload hygiene as pure functions: display names that cannot escape or deceive, types from magic bytes."""

from __future__ import annotations

import pytest

from app.lib.uploads import OCTET, TEXT, download_headers, safe_filename, sniff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("/var/www/../shell.php", "shell.php"),
        ("..", "file"),
        ("....//....//x.txt", "x.txt"),
        ("", "file"),
        ("a\x00b\x1f.txt", "ab.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # RTLO would show it as "invoiceexe.jpg"
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.tar.gz", "_LPT1.tar.gz"),
        ("what?<is>this|*.docx", "what__is_this__.docx"),
        ("  trailing dots... ", "trailing dots"),
        ("Счёт №5.pdf", "Счёт №5.pdf"),
        (".htaccess", "htaccess"),
    ],
)
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_long_names_keep_their_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf")
    assert name.endswith(".pdf") and len(name) == 150


@pytest.mark.parametrize(
    ("head", "filename", "expected"),
    [
        (PNG, "a.txt", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a.png", "image/jpeg"),
        (b"GIF89a\x01\x00", "a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a", "image/webp"),
        (b"%PDF-1.7\n", "a.png", "application/pdf"),
        (b"PK\x03\x04\x14\x00" + b"\x00" * 24 + b"[Content_Types].xml", "a.docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (b"PK\x03\x04\x14\x00" + b"\x00" * 24 + b"[Content_Types].xml", "a.exe", "application/zip"),
        (b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.textPK", "a.odt",
         "application/vnd.oasis.opendocument.text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "old.xls", "application/vnd.ms-excel"),
        (b"<!doctype html><script>alert(1)</script>", "cat.png", TEXT),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg", TEXT),
        ("Привет, мир\n".encode(), "a.txt", TEXT),
        ("é".encode() * 10 + "é".encode()[:1], "cut.txt", TEXT),  # a character cut by the sniff window
        (b"MZ\x90\x00\x03\x00\x00\x00", "a.pdf", OCTET),
        (b"\x00\x01\x02", "a.txt", OCTET),
        (b"", "a.txt", OCTET),
    ],
)
def test_sniff_ignores_what_the_client_claims(head: bytes, filename: str, expected: str) -> None:
    assert sniff(head, filename) == expected


def test_download_headers_never_render() -> None:
    headers = download_headers('отчёт "q".pdf', "text/html")
    assert headers["Content-Type"] == OCTET
    assert headers["Content-Disposition"].startswith('attachment; filename="')
    assert "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%22q%22.pdf" in headers["Content-Disposition"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert download_headers("a.png", "image/png")["Content-Type"] == "image/png"
    assert download_headers("a.svg", "image/svg+xml")["Content-Type"] == OCTET
