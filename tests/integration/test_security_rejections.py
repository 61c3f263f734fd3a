"""The security console: rejected inbound requests recorded with their reason, capped per source and minute."""

from __future__ import annotations

from typing import Any

from app.lib.db import tenant_context
from app.security import rejections
from tests.conftest import ShopFixture


async def test_record_caps_rows_per_reason_source_and_minute_and_counts_the_rest(fx_shop: ShopFixture) -> None:
    async with tenant_context(fx_shop.tenant):
        for _ in range(rejections.CAP_PER_MINUTE + 5):
            await rejections.record(rejections.BAD_SIGNATURE, source="203.0.113.9", path="/x", detail="flood")
        await rejections.record(rejections.BAD_SIGNATURE, source="203.0.113.10", path="/x")
    async with tenant_context(fx_shop.tenant) as uow:
        rows = await uow.connection.fetch("SELECT source, count(*) AS n FROM security_rejection GROUP BY source")
        minutes = await uow.connection.fetch(
            "SELECT source, recorded, dropped FROM security_rejection_minute ORDER BY source")
    assert {r["source"]: r["n"] for r in rows} == {"203.0.113.9": rejections.CAP_PER_MINUTE, "203.0.113.10": 1}
    by_source: dict[str, Any] = {m["source"]: (m["recorded"], m["dropped"]) for m in minutes}
    assert by_source == {"203.0.113.9": (rejections.CAP_PER_MINUTE, 5), "203.0.113.10": (1, 0)}
