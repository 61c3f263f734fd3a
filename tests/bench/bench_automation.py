"""Events/s the automation engine evaluates against 100 enabled rules per tenant (each evaluation logged with its
leaves), beside a no-op durable listener over the same events (the spine's own cost).

Sizes: BENCH_AUTOMATION_EVENTS (300), BENCH_AUTOMATION_RULES (100), BENCH_AUTOMATION_MATCHING (5)."""

from __future__ import annotations

import secrets
import time

from app import listeners
from app.accounts.services import Principal
from app.automation import services as automation
from app.contacts import services as contacts
from app.contacts.events import NOTE_ADDED
from app.lib.db import current_uow, tenant_context
from realtime import durable
from realtime import log as event_log
from realtime.durable import Backoff, DurableListener
from realtime.events import Event, Position
from realtime.publish import emit
from tenants import services as tenants
from tests.bench.harness import BenchContext


async def _noop(event: Event) -> None:
    return None


async def _drain(tenant: object, listener: DurableListener) -> float:
    """Seconds until `listener` has handled every event of the tenant's log."""
    start = time.perf_counter()
    while True:
        async with tenant_context(tenant):  # type: ignore[arg-type]
            await durable.run_batch(listener, Backoff())
            row = await current_uow().connection.fetchrow(
                "SELECT last_tx, last_event_id FROM listener_cursor WHERE name = $1", listener.name)
            last = (await event_log.bounds()).last
        if Position(row["last_tx"], row["last_event_id"]) >= last:
            return time.perf_counter() - start


async def main(ctx: BenchContext) -> None:
    n_events = ctx.env_int("BENCH_AUTOMATION_EVENTS", 300)
    n_rules = ctx.env_int("BENCH_AUTOMATION_RULES", 100)
    matching = ctx.env_int("BENCH_AUTOMATION_MATCHING", 5)
    shop = await tenants.signup("Automation shop", "au_000", "owner@au.example",
                                "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    tenant = shop.tenant
    engine_listener = next(li for li in listeners.DURABLE if li.name == "automation.rules")
    noop = DurableListener("bench.noop", _noop, engine_listener.events)
    ctx.section(f"{n_events} note.added events against {n_rules} enabled rules ({matching} match)")
    async with tenant_context(tenant):
        owner = Principal(shop.user_id, "owner@au.example", "Owner", "owner", "session", 0)
        contact = await contacts.create(owner, {"name": "Bench Contact", "tags": ["vip"]})
        for i in range(n_rules):
            hit = i < matching
            await automation.create(owner, {
                "name": f"rule {i}", "event": "note.added",
                "conditions": {"all": [{"field": "contact.tags", "op": "contains", "value": "vip" if hit else f"t{i}"},
                                       {"any": [{"field": "contact.temperature", "op": "in",
                                                 "value": ["hot", "warm"]},
                                                {"not": {"field": "contact.name", "op": "equals", "value": "x"}}]}]},
                "actions": []}, enabled=True)
        await durable.ensure_cursors([noop])
        # Both cursors start here: the setup's own events (contact.created) are not part of the figure.
        end = (await event_log.bounds()).last
        await current_uow().connection.execute(
            "UPDATE listener_cursor SET last_tx = $1, last_event_id = $2 WHERE name = ANY($3::varchar[])",
            end.tx, end.id, [noop.name, engine_listener.name])
    for start in range(0, n_events, 100):
        async with tenant_context(tenant):
            for i in range(start, min(n_events, start + 100)):
                await emit(NOTE_ADDED, contact_id=contact["id"], note_id=i + 1)
    baseline = await _drain(tenant, noop)
    engine = await _drain(tenant, engine_listener)
    async with tenant_context(tenant):
        counts = await current_uow().connection.fetchrow(
            "SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'done') AS done FROM automation_run")
    expected_runs, expected_done = n_events * n_rules, n_events * matching
    lost = (expected_runs - counts["runs"]) + (expected_done - counts["done"])
    ctx.record("no-op durable listener over the same events, baseline", round(n_events / baseline), "events/s",
               f"{n_events} events in {baseline:.2f} s")
    ctx.record(f"automation engine, {n_rules} enabled rules", round(n_events / engine), "events/s",
               f"{n_events * n_rules / engine:,.0f} rule evaluations/s, each a logged run; "
               f"{engine / baseline:.1f}x the baseline's time", lost=max(0, lost))
