"""Shared pieces of the automation tests: rules through the API, the run log, the jobs and listeners drained."""

from __future__ import annotations

from typing import Any

from app.lib.db import tenant_context
from app.lib.engine import DB
from tests.conftest import ShopFixture, run_jobs_until, work_left


def api(shop: ShopFixture, path: str = "") -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def make_rule(client: Any, shop: ShopFixture, **body: Any) -> dict[str, Any]:
    resp = await client.post(api(shop, "/automation/rules"), json={"enabled": True, **body}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def runs(client: Any, shop: ShopFixture, **params: Any) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, "/automation/runs"), params=params, headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def due_now(shop: ShopFixture, entrypoint: str = "automation.resume") -> int:
    """Move this shop's delayed automation jobs to now: the wait has passed (no sleeping in tests)."""
    async with DB.pool.acquire() as conn:
        status = await conn.execute(
            "UPDATE public.pgqueuer SET execute_after = now() WHERE entrypoint = $1 AND status = 'queued' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $2", entrypoint, shop.slug)
    return int(status.split()[-1])


async def queued(shop: ShopFixture, entrypoint: str) -> int:
    async with DB.pool.acquire() as conn:
        return int(await conn.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = $1 AND status = 'queued' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $2", entrypoint, shop.slug))


async def settle(shop: ShopFixture, *, timeout: float = 30.0, waiting_ok: bool = True) -> None:
    """Run the worker (jobs and durable listeners) until nothing is left to do now (delayed jobs may wait)."""
    async def idle() -> bool:
        left = await work_left(shop.tenant)
        if not left:
            return True
        if not waiting_ok:
            return False
        listeners = [x for x in left if x.startswith("listener")]
        if listeners:
            return False
        async with DB.pool.acquire() as conn:
            ready = await conn.fetchval(
                "SELECT count(*) FROM public.pgqueuer WHERE status IN ('queued', 'picked') "
                "AND execute_after <= now() AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", shop.slug)
        return not ready

    await run_jobs_until(idle, timeout=timeout)


async def tenant_rows(shop: ShopFixture, sql: str, *args: Any) -> list[dict[str, Any]]:
    from app.lib.db import current_uow

    async with tenant_context(shop.tenant):
        return [dict(r) for r in await current_uow().connection.fetch(sql, *args)]
