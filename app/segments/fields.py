"""The contact's fields in a condition tree (automation rules and segments read the same ones), with the operators
each kind takes. app.segments.compile turns them into SQL; app.segments.services.values_for loads them for one
contact (what an automation rule evaluates)."""

from __future__ import annotations

from app import channels
from app.lib.conditions import Field
from app.lib.i18n import N_

CONSENT_CHANNELS = ("sms", "email", "call")
CONSENT_VALUES = ("opt_in", "opt_out", "none")
LAST_CHANNELS = tuple(channels.KEYS)

CONTACT_FIELDS: tuple[Field, ...] = (
    Field("contact.name", N_("Name"), "text"),
    Field("contact.company", N_("Company"), "text"),
    Field("contact.tags", N_("Tags"), "list"),
    Field("contact.temperature", N_("Temperature"), "choice", ("hot", "warm", "cold")),
    Field("contact.language", N_("Language"), "text"),
    Field("contact.phones", N_("Phones"), "list"),
    Field("contact.emails", N_("Emails"), "list"),
    Field("contact.orders_count", N_("Number of orders"), "number"),
    Field("contact.total_spent", N_("Total spent, net of refunds (minor units)"), "number"),
    Field("contact.last_order_at", N_("Last order"), "datetime"),
    Field("contact.bought_product", N_("Bought product (SKU or name)"), "list"),
    Field("contact.bought_category", N_("Bought category"), "list"),
    Field("contact.rfm_r", N_("RFM recency score (1-5)"), "number"),
    Field("contact.rfm_f", N_("RFM frequency score (1-5)"), "number"),
    Field("contact.rfm_m", N_("RFM money score (1-5)"), "number"),
    Field("contact.last_contact_at", N_("Last contact"), "datetime"),
    Field("contact.last_channel", N_("Channel of the last contact"), "choice", LAST_CHANNELS),
    *(Field(f"contact.consent_marketing_{ch}", label, "choice", CONSENT_VALUES)
      for ch, label in (("sms", N_("Marketing consent: SMS")), ("email", N_("Marketing consent: email")),
                        ("call", N_("Marketing consent: calls")))),
    Field("contact.in_segment", N_("In segment (id)"), "segment"),
)
"""Every contact field; automation offers them all (its context loads them through values_for)."""

UPSELL_FIELDS: tuple[Field, ...] = (
    Field("upsell.suggested_product", N_("Upsell: suggested product (key or name)"), "list"),
    Field("upsell.reorder_due", N_("Upsell: a reorder is due"), "choice", ("yes", "no")),
)
"""Segments only: EXISTS over app.upsell's suggestion table."""

SEGMENT_FIELDS: tuple[Field, ...] = (*CONTACT_FIELDS, *UPSELL_FIELDS)
BY_PATH = {f.path: f for f in SEGMENT_FIELDS}
CUSTOM_PREFIX = "contact.custom."

KIND_OPS: dict[str, tuple[str, ...]] = {
    "text": ("equals", "not_equals", "contains", "in", "is_set"),
    "choice": ("equals", "not_equals", "in", "is_set"),
    "number": ("equals", "not_equals", "gt", "lt", "in", "is_set"),
    "list": ("contains", "is_set"),
    "datetime": ("days_ago_lt", "days_ago_gt", "is_set"),
    "segment": ("contains", "equals"),
    "custom": ("equals", "not_equals", "contains", "in", "gt", "lt", "is_set"),
}
"""The operators a segment leaf may use per field kind (`has_tag` reads contact.tags and needs no field)."""


def field(path: str) -> Field | None:
    if path.startswith(CUSTOM_PREFIX) and len(path) > len(CUSTOM_PREFIX):
        return Field(path, path[len(CUSTOM_PREFIX):], "custom")
    return BY_PATH.get(path)


def known(path: str) -> bool:
    return field(path) is not None
