"""Order import pages under /t/{slug}/orders/import: upload, column mapping with a live preview, progress."""

from __future__ import annotations

from typing import Any

from app.accounts.guards import requires
from app.lib import i18n
from app.lib.import_pages import ImportPages, MappingForm, controller
from app.orders import import_mapping, imports


async def _choices() -> list[tuple[str, str]]:
    return [(key, i18n.gettext(label)) for key, label in import_mapping.FIELDS]


def _read_mapping(form: Any, imp: dict[str, Any]) -> MappingForm:
    mapping = [str(form.get(f"col_{i}", import_mapping.IGNORE)) for i in range(len(imp["header"]))]
    currency = str(form.get("currency", "")).strip() or None
    return (mapping, currency), {"fields": mapping, "currency": currency}


PAGES = ImportPages(service=imports, section="orders", choices=_choices, read_mapping=_read_mapping,
                    dom="order-import")


OrderImportViews = controller("OrderImportViews", PAGES, guards=[requires("admin")])
