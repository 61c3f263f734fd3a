"""Service level: the tenant's choice of formula and thresholds (one `report_settings` row), and the formulas.

The common variants (CONTACT_CENTER_FACTS.md "Report definitions"), T the service-level threshold:
`offered_minus_short` answered≤T ÷ (offered - short abandons) (the default), `answered_abandoned` answered≤T ÷
(answered + abandoned), `abandoned_after` answered≤T ÷ (answered + abandoned after T), `within_offered`
(answered≤T + abandoned≤T) ÷ offered. A wait of exactly T counts as within T; a short abandon left after at most
`short_abandon_seconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from app.accounts.services import Principal
from app.audit import services as audit
from app.lib.clock import now
from app.lib.db import current_uow
from app.lib.errors import Forbidden, Invalid
from app.lib.i18n import N_

DEFAULT_FORMULA = "offered_minus_short"
DEFAULT_SECONDS = 20
DEFAULT_SHORT_SECONDS = 5
MAX_SECONDS = 299
"""T and the short-abandon threshold stay under 5 minutes: the report counts waits within them from the rollups'
1-second bins, which are exact under 300 s (app.reports.rollups)."""

FORMULAS: dict[str, str] = {
    "offered_minus_short": N_("answered within T ÷ (offered - short abandons)"),
    "answered_abandoned": N_("answered within T ÷ (answered + abandoned)"),
    "abandoned_after": N_("answered within T ÷ (answered + abandoned after T)"),
    "within_offered": N_("(answered within T + abandoned within T) ÷ offered"),
}
"""Formula key → the msgid printed on the report (hover and the Formulas list)."""


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """How service level is computed: the formula's key (see `formulas` in the answer), the threshold T and how
    short an abandon is left out (seconds)."""

    service_level_formula: str = DEFAULT_FORMULA
    service_level_seconds: int = DEFAULT_SECONDS
    short_abandon_seconds: int = DEFAULT_SHORT_SECONDS


class FormulaOut(msgspec.Struct):
    key: str
    formula: str


class SettingsOut(msgspec.Struct):
    service_level_formula: str
    service_level_seconds: int
    short_abandon_seconds: int
    formula: str
    """The chosen formula as printed on the report, in the reader's language."""
    formulas: list[FormulaOut]


async def get_settings() -> dict[str, Any]:
    """The tenant's settings; the defaults until an admin saves them."""
    row = await current_uow().connection.fetchrow(
        "SELECT service_level_formula, service_level_seconds, short_abandon_seconds FROM report_settings "
        "ORDER BY id LIMIT 1")
    if row is None:
        return {"service_level_formula": DEFAULT_FORMULA, "service_level_seconds": DEFAULT_SECONDS,
                "short_abandon_seconds": DEFAULT_SHORT_SECONDS}
    return dict(row)


def _check(data: SettingsIn) -> dict[str, Any]:
    if data.service_level_formula not in FORMULAS:
        raise Invalid("There is no service-level formula %(name)s; choose one of %(choices)s.",
                      field="service_level_formula", name=repr(data.service_level_formula),
                      choices=", ".join(FORMULAS))
    if not 1 <= data.service_level_seconds <= MAX_SECONDS:
        raise Invalid("The service-level threshold is a whole number of seconds from 1 to %(max)s (the report "
                      "counts waits to the second up to 5 minutes).", field="service_level_seconds", max=MAX_SECONDS)
    if not 0 <= data.short_abandon_seconds < data.service_level_seconds:
        raise Invalid("A short abandon is from 0 seconds up to less than the service-level threshold (%(t)s s).",
                      field="short_abandon_seconds", t=data.service_level_seconds)
    return {"service_level_formula": data.service_level_formula,
            "service_level_seconds": data.service_level_seconds,
            "short_abandon_seconds": data.short_abandon_seconds}


async def update_settings(actor: Principal, data: SettingsIn) -> dict[str, Any]:
    """Admins choose the formula and thresholds; the change applies to every report from now on (they are computed
    when read, so past periods are recomputed with it too) and is audited."""
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can change how service level is computed.")
    values = _check(data)
    conn = current_uow().connection
    before = await get_settings()
    await conn.execute(
        "INSERT INTO report_settings (id, service_level_formula, service_level_seconds, short_abandon_seconds, "
        "updated_at) VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET "
        "service_level_formula = $1, service_level_seconds = $2, short_abandon_seconds = $3, updated_at = $4",
        values["service_level_formula"], values["service_level_seconds"], values["short_abandon_seconds"], now())
    await audit.record("report_settings.updated", actor_id=actor.user_id, actor=actor.label,
                       target_type="report_settings", target_id=1, detail={"before": before, "after": values})
    return values


def service_level(formula: str, counts: Mapping[str, int]) -> float | None:
    """The share 0..1 by `formula` from the counts `offered`, `answered`, `abandoned`, `short_abandons`,
    `answered_within`, `abandoned_within` (≤T) and `abandoned_after` (>T); None when the denominator is 0."""
    if formula == "answered_abandoned":
        num, den = counts["answered_within"], counts["answered"] + counts["abandoned"]
    elif formula == "abandoned_after":
        num, den = counts["answered_within"], counts["answered"] + counts["abandoned_after"]
    elif formula == "within_offered":
        num, den = counts["answered_within"] + counts["abandoned_within"], counts["offered"]
    else:
        num, den = counts["answered_within"], counts["offered"] - counts["short_abandons"]
    return num / den if den > 0 else None
