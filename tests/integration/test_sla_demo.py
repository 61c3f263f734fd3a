"""The demo shop has SLA policies and running clocks on its open conversations, the newest waiting one near its
breach; set up once."""

from __future__ import annotations

from typing import Any

from app import demo
from app.lib.clock import now
from app.lib.db import resolve_active, tenant_context
from app.sla import clocks, policies


async def test_demo_sla_policies_and_running_clocks(fx_client: Any) -> None:
    await demo.ensure_demo()
    assert await demo.ensure_demo_sla() is True
    assert await demo.ensure_demo_sla() is False  # once: an admin's later changes are kept
    tenant = await resolve_active(demo.DEMO_SLUG)
    assert tenant is not None
    async with tenant_context(tenant):
        names = [p["name"] for p in await policies.list_policies()]
        running = await clocks.running()
    assert sorted(names) == ["Default", "Email", "Web chat"]
    first = [c for c in running if c["metric"] == "first_response"]
    assert len(first) >= 2 and {c["state"] for c in first} == {"running", "warning"}
    soonest = first[0]  # due soonest first
    assert soonest["state"] == "warning" and soonest["due_at"] > now()
    assert (soonest["due_at"] - now()).total_seconds() <= soonest["target_seconds"] * 0.1 + 1
