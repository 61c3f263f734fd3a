"""Reading uploaded CSVs and mapping their columns: encodings, separators, header guesses, cell clean-up."""
# ruff: noqa: RUF001  (the Russian test data is Cyrillic on purpose)

from __future__ import annotations

import pytest

from app.contacts import import_mapping
from app.contacts.export import safe_cell
from app.lib import import_csv
from app.lib.errors import Invalid

RUSSIAN = "Фамилия;Имя;Телефон\nПетров;Иван;+7 912 345-67-89\nСмирнова;Ольга;8 913 111 22 33\n"


@pytest.mark.parametrize(("encoding", "expected"), [
    ("cp1251", "cp1251"), ("koi8_r", "koi8_r"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"),
])
def test_encodings_are_detected(encoding: str, expected: str) -> None:
    data = RUSSIAN.encode(encoding)
    assert import_csv.detect_encoding(data) == expected
    parsed = import_csv.parse(data, "x.csv")
    assert parsed.header == ["Фамилия", "Имя", "Телефон"]


def test_even_a_single_short_cyrillic_line_is_told_apart() -> None:
    for enc in ("cp1251", "koi8_r"):
        assert import_csv.detect_encoding("Имя,Телефон\nЖанна,1\n".encode(enc)) == enc


@pytest.mark.parametrize(("text", "delimiter"), [
    ('a,b,c\n1,"x; y",3\n', ","),
    ('a;b;c\n1;"x, y, z";3\n2;"q";4\n', ";"),
    ("a\tb\n1\t2,3\n", "\t"),
    ("a|b|c\n1|2|3\n", "|"),
    ("single column\nvalue\n", ","),
])
def test_separator_is_sniffed_with_quotes_respected(text: str, delimiter: str) -> None:
    assert import_csv.detect_delimiter(text) == delimiter


def test_blank_lines_are_skipped_and_rows_numbered_as_a_spreadsheet_does() -> None:
    text = '\nname;note\n\nAnn;"two\nlines"\n;;\nBob;x\n'
    header, rows = import_csv.records(text, ";")
    assert header == ["name", "note"]
    assert [(r.index, r.row, r.cells) for r in rows] == [(0, 4, ["Ann", "two\nlines"]), (1, 6, ["Bob", "x"])]


@pytest.mark.parametrize(("data", "words"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not a CSV file"),
    (b"PK\x03\x04" + b"\x00" * 40 + b"[Content_Types].xml", "spreadsheet workbook"),
    (b"", "empty"),
    (b"\x01\x02\x03\x04\x05\x06\x07\x08" * 100, "not a CSV file"),
])
def test_garbage_is_refused_naming_the_problem(data: bytes, words: str) -> None:
    with pytest.raises(Invalid) as err:
        import_csv.parse(data, "clients.xlsx" if b"Content_Types" in data else "x.csv")
    assert words in err.value.detail and err.value.field == "file"


def test_mapping_is_guessed_from_english_and_russian_headers() -> None:
    defs = [{"key": "size", "label": "Размер", "kind": "select"}, {"key": "city", "label": "Город", "kind": "text"}]
    header = ["ФИО", "Телефон", "Моб. телефон", "E-mail", "Организация", "Метки", "Размер", "Город", "Дата рождения",
              "Name", "Phone 2", "Email address", "Company", "Birthday", "Comment", "Что-то ещё", "ФИО"]
    assert import_mapping.suggest(header, defs) == [
        "name", "phones", "phones", "emails", "company", "tags", "custom.size", "custom.city", "birth_date",
        "name", "phones", "emails", "ignore", "ignore", "preferences", "ignore", "name"]


def test_row_values_split_lists_join_names_and_read_russian_dates() -> None:
    fields = ["name", "name", "phones", "phones", "emails", "tags", "birth_date", "temperature", "custom.since",
              "ignore"]
    cells = ["Петров", "Иван", "+7 912 345-67-89; 8 913 111 22 33", "", "a@x.ru, b@x.ru", "vip, опт",
             "01.02.1985 0:00:00", "Тёплый", "5.3.2020", "whatever"]
    assert import_mapping.row_values(fields, cells, {"since": "date"}) == {
        "name": "Петров Иван", "phones": ["+7 912 345-67-89", "8 913 111 22 33"], "emails": ["a@x.ru", "b@x.ru"],
        "tags": ["vip", "опт"], "birth_date": "1985-02-01", "temperature": "warm", "custom": {"since": "2020-03-05"}}


def test_formulas_are_neutralised_but_phones_are_not() -> None:
    assert safe_cell("=SUM(A1:A9)") == "'=SUM(A1:A9)"
    assert safe_cell("@cmd") == "'@cmd"
    assert safe_cell("+79123456789") == "+79123456789"
    assert safe_cell("-12.5") == "-12.5"
    assert safe_cell("+1 (415) 555-0100") == "+1 (415) 555-0100"
    assert safe_cell("Plain") == "Plain"


def test_temperature_words_the_mapping_labels_offer_are_read_in_russian_and_bulgarian() -> None:
    read = [import_mapping.row_values(["temperature"], [word], {})["temperature"]
            for word in ("Горячий", "тёплый", "холодная", "горещ", "Топла", "студен", "warm")]
    assert read == ["hot", "warm", "cold", "hot", "warm", "cold", "warm"]
