"""Import pages under /t/{slug}/contacts/import: upload form, column mapping with a live preview, progress."""

from __future__ import annotations

from typing import Any

from app.accounts.guards import requires
from app.contacts import fields, import_mapping, imports
from app.lib import i18n
from app.lib.import_pages import ImportPages, MappingForm, controller


async def _choices() -> list[tuple[str, str]]:
    """The mapping form's choices in the reader's language (a custom field's label as the shop typed it)."""
    return [(t.key, t.label if t.key.startswith(import_mapping.CUSTOM_PREFIX) else i18n.gettext(t.label))
            for t in import_mapping.targets(await fields.definitions())]


def _read_mapping(form: Any, imp: dict[str, Any]) -> MappingForm:
    mapping = [str(form.get(f"col_{i}", import_mapping.IGNORE)) for i in range(len(imp["header"]))]
    return (mapping,), {"fields": mapping}


PAGES = ImportPages(service=imports, section="contacts", choices=_choices, read_mapping=_read_mapping)


ImportViews = controller("ImportViews", PAGES, guards=[requires("admin")])
