"""Mapping CSV columns to order fields for the order import: the choices, a guess from header names (English and
1C's Russian), and reading one row as 1C writes it (decimal commas, `1 234,50`, `dd.mm.yyyy`, `руб.`)."""
# ruff: noqa: RUF001, RUF002, RUF003  (1C writes Russian: the Cyrillic is on purpose)

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.lib import i18n, money
from app.lib.errors import Invalid
from app.lib.i18n import N_

IGNORE = "ignore"
FIELDS: tuple[tuple[str, str], ...] = (
    ("external_id", N_("Order id in the shop (external id)")),
    ("number", N_("Order number")),
    ("contact_phone", N_("Customer phone")),
    ("contact_email", N_("Customer email")),
    ("contact_name", N_("Customer name")),
    ("item_name", N_("Item name")),
    ("sku", N_("SKU / article")),
    ("category", N_("Category")),
    ("quantity", N_("Quantity")),
    ("price", N_("Unit price")),
    ("currency", N_("Currency")),
    ("status", N_("Status")),
    ("date", N_("Order date")),
    (IGNORE, N_("— ignore —")),
)
KEYS = frozenset(k for k, _ in FIELDS)
REQUIRED = ("external_id", "item_name", "price")

SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("externalid", "orderid", "id", "guid", "uid", "uuid", "код", "кодзаказа", "ид", "идентификатор",
                    "идзаказа", "guidзаказа", "ссылка", "внешнийид", "внешнийкод"),
    "number": ("number", "ordernumber", "orderno", "no", "num", "номер", "номерзаказа", "номердокумента", "№",
               "заказ", "заказпокупателя", "документ"),
    "contact_phone": ("phone", "telephone", "tel", "mobile", "customerphone", "телефон", "тел", "телефонпокупателя",
                      "телефонклиента", "мобильный", "контактныйтелефон"),
    "contact_email": ("email", "mail", "customeremail", "почта", "электроннаяпочта", "емейл", "email покупателя"),
    "contact_name": ("customer", "customername", "client", "clientname", "name", "buyer", "покупатель", "клиент",
                     "контрагент", "фио", "заказчик", "получатель", "имя"),
    "item_name": ("item", "itemname", "product", "productname", "goods", "title", "description", "товар",
                  "номенклатура", "наименование", "наименованиетовара", "товары", "позиция", "услуга"),
    "sku": ("sku", "article", "articlenumber", "productcode", "itemcode", "артикул", "кодтовара", "кодноменклатуры",
            "штрихкод"),
    "category": ("category", "productcategory", "itemcategory", "group", "productgroup", "категория",
                 "категориятовара", "группа", "группатоваров", "группаноменклатуры"),
    "quantity": ("quantity", "qty", "count", "количество", "колво", "кол", "число"),
    "price": ("price", "unitprice", "priceperunit", "цена", "ценазаединицу", "стоимостьединицы", "ценасндс"),
    "currency": ("currency", "curr", "валюта", "валютадокумента"),
    "status": ("status", "state", "orderstatus", "статус", "состояние", "статусзаказа"),
    "date": ("date", "orderdate", "placedat", "created", "createdat", "дата", "датазаказа", "датадокумента",
             "датасоздания"),
}
_LOOKUP = {re.sub(r"[\W_]+", "", w): k for k, words in SYNONYMS.items() for w in words}
CURRENCY_WORDS = {"руб": "RUB", "руб.": "RUB", "р.": "RUB", "р": "RUB", "рубль": "RUB", "рублей": "RUB", "₽": "RUB",
                  "rur": "RUB", "$": "USD", "долл": "USD", "долл.": "USD", "€": "EUR", "евро": "EUR", "тенге": "KZT",
                  "₸": "KZT", "грн": "UAH", "грн.": "UAH", "₴": "UAH", "бел. руб.": "BYN"}
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def norm(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.lower().replace("\u0451", "\u0435"))


def suggest(header: list[str]) -> list[str]:
    """One field per column from its name; each field goes to the first column that names it."""
    taken: set[str] = set()
    out = []
    for name in header:
        n = norm(name)
        key = _LOOKUP.get(n) or _by_word(n) or IGNORE
        if key != IGNORE and key in taken:
            key = IGNORE
        taken.add(key)
        out.append(key)
    return out


_CONTAINS = (("contact_phone", ("телефон", "phone")), ("contact_email", ("email", "почта")),
             ("quantity", ("количеств", "quantity")), ("price", ("цена", "price")), ("sku", ("артикул", "sku")),
             ("category", ("категор", "category")),
             ("date", ("дата", "date")), ("status", ("статус", "status")))


def _by_word(n: str) -> str | None:
    for key, words in _CONTAINS:
        if any(w in n for w in words):
            return key
    return None


def check(fields: list[str], header: list[str]) -> list[str]:
    """A mapping sent by a client: a known field per column, each at most once, the required ones present."""
    if len(fields) != len(header):
        raise Invalid("The mapping needs one field per column: the file has %(columns)s columns, the mapping "
                      "%(fields)s.", field="mapping", columns=len(header), fields=len(fields))
    seen: dict[str, int] = {}
    for i, key in enumerate(fields):
        if key not in KEYS:
            raise Invalid("Column %(header)s: unknown field %(key)s; choose one of: %(choices)s.",
                          field=f"mapping[{i}]", header=repr(header[i]), key=repr(key), choices=', '.join(sorted(KEYS)))
        if key != IGNORE and key in seen:
            raise Invalid("Column %(header)s: %(key)s is already mapped from column %(other)s.",
                          field=f"mapping[{i}]", header=repr(header[i]), key=key, other=repr(header[seen[key]]))
        seen.setdefault(key, i)
    missing = [k for k in REQUIRED if k not in seen]
    if missing:
        labels = dict(FIELDS)
        raise Invalid("Map a column to %(fields)s.", field="mapping",
                      fields=", ".join(i18n.gettext(labels[k]) for k in missing))
    return fields


def check_currency(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return parse_currency(value, "currency")


@dataclasses.dataclass
class Line:
    """One row, read: the order's fields (may be empty: another row of the same order may carry them) and one item."""

    row: int
    external_id: str
    number: str = ""
    phone: str = ""
    email: str = ""
    name: str = ""
    item_name: str = ""
    sku: str = ""
    category: str = ""
    quantity: int = 1
    price_text: str = ""
    currency: str = ""
    status: str = ""
    placed_at: dt.datetime | None = None


def parse_quantity(text: str) -> int:
    raw = _SPACES.sub("", text).replace(",", ".")
    if not raw:
        return 1
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Invalid("%(text)s is not a quantity; write a whole number like 2.", field="quantity",
                      text=repr(text)) from None
    if not value.is_finite() or value != value.to_integral_value() or not 0 < value <= 1_000_000:
        raise Invalid("%(text)s is not a whole quantity from 1 to 1000000.", field="quantity", text=repr(text))
    return int(value)


def parse_price(text: str, currency: str) -> int:
    """`1 234,50` / `1234.5` / `1,234.50` in major units -> minor units of `currency` (Decimal, never float)."""
    raw = _SPACES.sub("", text)
    if not raw:
        raise Invalid("The price is empty.", field="price")
    if "," in raw and "." in raw:  # 1,234.50 or 1.234,50: the last one is the decimal mark
        raw = raw.replace(",", "") if raw.rfind(".") > raw.rfind(",") else raw.replace(".", "").replace(",", ".")
    for word in sorted(CURRENCY_WORDS, key=len, reverse=True):  # "1200 руб." in the cell itself
        if raw.lower().endswith(word.replace(" ", "")):
            raw = raw[: -len(word.replace(" ", ""))]
            break
    try:
        return money.parse_major(raw, currency, "price")
    except Invalid as exc:
        raise Invalid("%(text)s: %(problem)s", field="price", text=repr(text), problem=exc.detail) from None


def parse_currency(text: str, field: str = "currency") -> str:
    word = text.strip().lower()
    if word in CURRENCY_WORDS:
        return CURRENCY_WORDS[word]
    return money.check_currency(text, field)


def parse_date(text: str) -> dt.datetime:
    """`31.12.2026`, 1C's `31.12.2026 0:00:00`, `31/12/26` and ISO dates; as UTC."""
    text = text.strip()
    if (m := _DMY.match(text)) is not None:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year += 2000 if year < 100 else 0
        hms = [int(g) if g else 0 for g in m.group(4, 5, 6)]
    elif (m := _ISO.match(text)) is not None:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hms = [int(g) if g else 0 for g in m.group(4, 5, 6)]
    else:
        raise Invalid("%(text)s is not a date; write it as 31.12.2026.", field="date", text=repr(text))
    try:
        return dt.datetime(year, month, day, hms[0], hms[1], hms[2], tzinfo=dt.UTC)
    except ValueError:
        raise Invalid("%(text)s is not a real date.", field="date", text=repr(text)) from None


def read(fields: list[str], row: int, cells: list[str]) -> Line:
    """The row's values by field; Invalid (naming the field) when a cell cannot be read. Price is parsed later,
    once the order's currency is known."""
    v: dict[str, str] = {}
    for key, cell in zip(fields, cells, strict=False):
        if key != IGNORE and cell.strip():
            v[key] = cell.strip()
    external_id = v.get("external_id", "")
    if not external_id:
        raise Invalid("The order id (external id) is empty; every row needs the id of its order.",
                      field="external_id")
    if len(external_id) > 100:
        raise Invalid("The order id is longer than 100 characters.", field="external_id")
    if not v.get("item_name"):
        raise Invalid("The item name is empty.", field="item_name")
    return Line(row=row, external_id=external_id, number=v.get("number", ""), phone=v.get("contact_phone", ""),
                email=v.get("contact_email", ""), name=v.get("contact_name", ""), item_name=v["item_name"],
                sku=v.get("sku", ""), category=v.get("category", ""), quantity=parse_quantity(v.get("quantity", "")),
                price_text=v.get("price", ""),
                currency=parse_currency(v["currency"]) if v.get("currency") else "", status=v.get("status", ""),
                placed_at=parse_date(v["date"]) if v.get("date") else None)


def first(lines: list[Line], attr: str) -> Any:
    """The first non-empty value of `attr` among the order's rows (1C repeats the header fields on every line or
    writes them on the first only)."""
    for line in lines:
        if getattr(line, attr):
            return getattr(line, attr)
    return None
