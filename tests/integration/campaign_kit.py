"""Shared pieces of the campaign tests: contacts in zones and languages, a static segment, a campaign through the
API, the sender run in this process, and what the simulator received."""

from __future__ import annotations

import json
from typing import Any

from app.campaigns import sender
from app.lib.db import current_uow, raw_connect, tenant_context
from telephony.simulator import Simulator
from tests.conftest import TEST_DSN, ShopFixture
from tests.integration.test_orders import api, make_contact


async def contact(client: Any, shop: ShopFixture, name: str, phone: str | None = None, *, email: str | None = None,
                  language: str = "", timezone: str = "") -> int:
    extra: dict[str, Any] = {}
    if phone:
        extra["phones"] = [phone]
    if email:
        extra["emails"] = [email]
    c = await make_contact(client, shop, name, **extra)
    if language or timezone:
        async with tenant_context(shop.tenant):
            await current_uow().connection.execute(
                "UPDATE contact SET language = $2, timezone = $3 WHERE id = $1", c["id"], language, timezone)
    return int(c["id"])


async def segment(shop: ShopFixture, contact_ids: list[int], name: str = "VIP") -> int:
    """A static segment (list) of these contacts."""
    async with tenant_context(shop.tenant):
        conn = current_uow().connection
        sid = int(await conn.fetchval("INSERT INTO segment (name, kind) VALUES ($1, 'static') RETURNING id", name))
        await conn.executemany("INSERT INTO segment_member (segment, contact) VALUES ($1, $2)",
                               [(sid, c) for c in contact_ids])
    return sid


async def add_member(shop: ShopFixture, segment_id: int, contact_id: int) -> None:
    async with tenant_context(shop.tenant):
        await current_uow().connection.execute(
            "INSERT INTO segment_member (segment, contact) VALUES ($1, $2)", segment_id, contact_id)


def sms_body(body: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Spring sale", "channel": "sms", "variants": [{"key": "A", "content": {"": {"body": body}}}],
            **extra}


async def create(client: Any, shop: ShopFixture, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(api(shop, "/campaigns"), json=body, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def send(client: Any, shop: ShopFixture, campaign_id: int) -> dict[str, Any]:
    resp = await client.post(api(shop, f"/campaigns/{campaign_id}/send"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def read(client: Any, shop: ShopFixture, campaign_id: int) -> dict[str, Any]:
    resp = await client.get(api(shop, f"/campaigns/{campaign_id}"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def recipients(client: Any, shop: ShopFixture, campaign_id: int, status: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = "0"
    while cursor is not None:
        resp = await client.get(api(shop, f"/campaigns/{campaign_id}/recipients"),
                                params={"cursor": cursor, "limit": 200, **({"status": status} if status else {})},
                                headers=shop.auth)
        assert resp.status_code == 200, resp.text
        out += resp.json()["items"]
        cursor = resp.json()["next"]
    return out


async def run_jobs(shop: ShopFixture) -> list[dict[str, Any]]:
    """Take the shop's campaign jobs that are due off the queue and run them in order, as the worker would; the ones
    queued for later (throttle, quiet hours, a schedule) stay, and are returned with their delay in seconds."""
    conn = await raw_connect(TEST_DSN)
    try:
        while True:
            rows = await conn.fetch(
                "DELETE FROM public.pgqueuer WHERE id IN (SELECT id FROM public.pgqueuer WHERE entrypoint = "
                "'campaigns.run' AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 AND execute_after <= "
                "now() ORDER BY id) RETURNING id, payload", shop.slug)
            if not rows:
                break
            for row in sorted(rows, key=lambda r: r["id"]):
                await sender.run(json.loads(row["payload"]))
        later = await conn.fetch(
            "SELECT payload, extract(epoch FROM execute_after - now()) AS delay FROM public.pgqueuer "
            "WHERE entrypoint = 'campaigns.run' AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1",
            shop.slug)
    finally:
        await conn.close()
    return [{**json.loads(r["payload"]), "delay": float(r["delay"])} for r in later]


async def drop_later(shop: ShopFixture) -> None:
    """Forget the jobs queued for later (a test then moves the clock's stand-ins itself)."""
    conn = await raw_connect(TEST_DSN)
    try:
        await conn.execute("DELETE FROM public.pgqueuer WHERE entrypoint = 'campaigns.run' AND "
                           "convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1", shop.slug)
    finally:
        await conn.close()


def texts(sim: Simulator, to: str | None = None) -> list[Any]:
    return [m for m in sim.messages.values() if m.direction == "outbound-api" and (to is None or m.to == to)]
