"""Service-level formulas (issue 18) as pure arithmetic: each variant from the same counts, an empty denominator
answers None (shown as "—", never 0 % or 100 %), and the settings' rules refuse with the field named."""

from __future__ import annotations

import pytest

from app.lib.errors import Invalid
from app.reports import service_level
from app.reports.service_level import SettingsIn

COUNTS = {"offered": 13, "answered": 5, "abandoned": 5, "short_abandons": 2, "answered_within": 3,
          "abandoned_within": 3, "abandoned_after": 2}


@pytest.mark.parametrize(("formula", "expected"), [
    ("offered_minus_short", 3 / 11), ("answered_abandoned", 3 / 10), ("abandoned_after", 3 / 7),
    ("within_offered", 6 / 13)])
def test_each_formula_from_the_same_counts(formula: str, expected: float) -> None:
    assert service_level.service_level(formula, COUNTS) == expected


def test_an_empty_denominator_is_no_figure() -> None:
    nothing = dict.fromkeys(COUNTS, 0)
    assert all(service_level.service_level(f, nothing) is None for f in service_level.FORMULAS)
    only_short = {**nothing, "offered": 2, "abandoned": 2, "short_abandons": 2, "abandoned_within": 2}
    assert service_level.service_level("offered_minus_short", only_short) is None
    assert service_level.service_level("within_offered", only_short) == 1.0


@pytest.mark.parametrize(("body", "field"), [
    ({"service_level_formula": "fastest"}, "service_level_formula"),
    ({"service_level_seconds": 0}, "service_level_seconds"),
    ({"service_level_seconds": 3601}, "service_level_seconds"),
    ({"short_abandon_seconds": 20}, "short_abandon_seconds"),
    ({"short_abandon_seconds": -1}, "short_abandon_seconds")])
def test_settings_rules_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        service_level._check(SettingsIn(**body))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_the_defaults_pass() -> None:
    assert service_level._check(SettingsIn()) == {"service_level_formula": "offered_minus_short",
                                                  "service_level_seconds": 20, "short_abandon_seconds": 5}
