"""The demo shop has one finished SMS campaign with results (delivered, held out, an opt-out skipped, revenue) and
one email draft; both pages open."""

from __future__ import annotations

from typing import Any

from app import demo
from app.campaigns import results
from app.lib.db import current_uow, resolve_active, tenant_context


async def test_demo_has_a_finished_campaign_with_results_and_a_draft(fx_client: Any) -> None:
    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        rows = {r["name"]: dict(r) for r in await current_uow().connection.fetch(
            "SELECT id, name, status, channel FROM campaign")}
        done, draft = rows["Spring beans are in"], rows["Reorder reminder (draft)"]
        assert done["status"] == "done" and draft["status"] == "draft" and draft["channel"] == "email"
        r = await results.results(done["id"])
        counts = dict(await current_uow().connection.fetch(
            "SELECT status, count(*) FROM campaign_recipient WHERE campaign = $1 GROUP BY 1", done["id"]))
    assert counts.get("delivered", 0) > 5 and counts.get("skipped") == 1
    assert r is not None
