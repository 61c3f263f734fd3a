"""Wire shapes of the revenue reports' settings API."""

from __future__ import annotations

import msgspec


class RevenueSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    touch_days: int
    """The last touch before an order counts when it is at most this many days (24 h each) older (1-365)."""
    lapsed_factor: float
    """A repeat client stopped buying when their last order is older than this many times their usual interval
    (the average gap between their orders), 1-20 ..."""
    lapsed_days: int
    """... or older than this many days (1-3650)."""


class RevenueSettingsOut(msgspec.Struct):
    touch_days: int
    lapsed_factor: float
    lapsed_days: int
