"""Customer portal: API order status update -> portal page update latency with 1,000 open portal websockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from typing import Any

from tests.bench.harness import BenchContext, app_server, percentiles

STATUSES = ("paid", "packed", "shipped", "delivered")
PAGES_PER_ADDRESS = 60
"""The portal allows 120 page/socket opens a minute per client address: clients spread over 127.0.0.x."""


class Page:
    """One open portal page: its websocket, and when each status first arrived on it."""

    def __init__(self, order_id: int, ws: Any) -> None:
        self.order_id = order_id
        self.ws = ws
        self.seen: dict[str, float] = {}
        self.frames = 0

    async def listen(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                t = time.perf_counter()
                self.frames += 1
                for status in STATUSES:
                    if status not in self.seen and f'data-status="{status}"' in frame:
                        self.seen[status] = t


async def main(ctx: BenchContext) -> None:
    n_pages = ctx.env_int("BENCH_PORTAL_PAGES", 1000)
    n_orders = ctx.env_int("BENCH_PORTAL_ORDERS", 20)
    async with app_server() as server:
        await run(ctx, server.base_url, n_pages, n_orders)


async def run(ctx: BenchContext, base: str, n_pages: int, n_orders: int) -> None:
    import httpx
    import websockets

    from tenants import services

    slug = "bench_portal"
    shop = await services.signup("Portal bench", slug, "owner@portal-bench.example",
                                 "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    auth = {"Authorization": f"Bearer {shop.api_key}"}
    api = f"{base}/t/{slug}/api/v1"
    ctx.section(f"{n_pages} open portal pages over {n_orders} orders ({n_pages // n_orders} per order)")
    async with httpx.AsyncClient(timeout=30, headers=auth) as client:
        contact = (await client.post(f"{api}/contacts", json={"name": "Bench Buyer"})).json()
        tokens: dict[int, str] = {}
        for i in range(n_orders):
            order = (await client.post(f"{api}/orders", json={
                "contact_id": contact["id"], "currency": "USD", "number": f"PB-{i:04d}",
                "items": [{"name": "Thing", "quantity": 1, "unit_price": 1000}]})).json()
            url = (await client.post(f"{api}/orders/{order['id']}/portal")).json()["url"]
            tokens[order["id"]] = url.rsplit("/", 1)[1]

        ws_base = base.replace("http://", "ws://")
        origin = base.rstrip("/")  # the server's BASE_URL: a browser always sends its page's Origin
        order_ids = list(tokens)
        pages: list[Page] = []
        t_open = time.perf_counter()
        for n, order_id in zip(range(n_pages), itertools.cycle(order_ids), strict=False):
            address = f"127.0.0.{2 + n // PAGES_PER_ADDRESS}"
            ws = await websockets.connect(f"{ws_base}/t/{slug}/portal/{tokens[order_id]}/ws", origin=origin,
                                          local_addr=(address, 0), open_timeout=30, ping_interval=None,
                                          max_size=2**22)
            await ws.recv()  # the first render, on connect
            pages.append(Page(order_id, ws))
        ctx.record("open portal sockets", len(pages), "", f"connected in {time.perf_counter() - t_open:.1f} s, "
                   "each got its first render")
        listeners = [asyncio.create_task(p.listen()) for p in pages]
        by_order: dict[int, list[Page]] = {}
        for p in pages:
            by_order.setdefault(p.order_id, []).append(p)

        samples: list[float] = []
        lasts: list[float] = []
        api_ms: list[float] = []
        missing = 0
        for status in STATUSES:
            for order_id in order_ids:
                t0 = time.perf_counter()  # just before the API request is sent
                resp = await client.post(f"{api}/orders/{order_id}/status", json={"status": status})
                api_ms.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, resp.text
                waiting = by_order.get(order_id, [])
                deadline = time.perf_counter() + 10
                while any(status not in p.seen for p in waiting) and time.perf_counter() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.002)
                got = [(p.seen[status] - t0) * 1000 for p in waiting if status in p.seen]
                missing += len(waiting) - len(got)
                samples += got
                if got:
                    lasts.append(max(got))
        pc = percentiles(samples, (50, 99))
        pl = percentiles(lasts, (50, 99))
        pa = percentiles(api_ms, (50, 99))
        n_updates = len(STATUSES) * len(order_ids)
        ctx.record("API status update -> portal frame p50", pc[50], "ms",
                   f"{len(samples)} deliveries of {n_updates} updates, from before the request to the frame",
                   lost=missing)
        ctx.record("API status update -> portal frame p99", pc[99], "ms", lost=missing)
        ctx.record("  last page of the order p50 / p99", f"{pl[50]:.1f} / {pl[99]:.1f}", "ms",
                   f"{n_pages // n_orders} pages per order", lost=missing)
        ctx.record("  API request alone p50 / p99", f"{pa[50]:.1f} / {pa[99]:.1f}", "ms")
        ctx.record("  pages that missed an update", missing, "", "within 10 s", lost=missing)
        for task in listeners:
            task.cancel()
        for p in pages:
            with contextlib.suppress(Exception):
                await p.ws.close()
