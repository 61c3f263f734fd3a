"""A real webhook receiver on loopback for the outbound webhook tests, and the helpers they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from standardwebhooks.webhooks import Webhook

from app.lib.db import tenant_context
from app.webhooks_out.tables import WebhookDelivery
from tests.conftest import ShopFixture, work_left
from tests.integration.test_orders import api
from tests.servers import InProcessServer, answer_lifespan


class Receiver:
    """A webhook receiver (an ASGI app served by uvicorn on loopback): keeps every request, answers from `script`
    in order ((status, headers) pairs), then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.requests.append({"path": scope["path"], "body": body.decode(),
                              "headers": {k.decode(): v.decode() for k, v in scope["headers"]}})
        status, headers = self.script.pop(0) if self.script else (200, {})
        if "x-test-delay" in headers:  # answer late: the sender's timeout is what the test is about
            await asyncio.sleep(float(headers["x-test-delay"]))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b"thanks" if status < 300 else b"nope"})


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str]]:
    """A Receiver served by uvicorn on a loopback port, and the URL to subscribe."""
    receiver = Receiver()
    server = await InProcessServer(receiver).start()
    try:
        yield receiver, f"{server.url}/hooks"
    finally:
        await server.stop()


async def subscribe(client: Any, shop: ShopFixture, url: str, events: list[str]) -> dict[str, Any]:
    resp = await client.post(api(shop, "/webhooks"), json={"url": url, "events": events}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def deliveries(client: Any, shop: ShopFixture, endpoint_id: int) -> list[dict[str, Any]]:
    resp = await client.get(api(shop, f"/webhooks/{endpoint_id}/deliveries"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def settled(shop: ShopFixture, n: int) -> bool:
    """`n` deliveries exist in the shop and none waits any more."""
    async with tenant_context(shop.tenant):
        rows = await WebhookDelivery.select(WebhookDelivery.status)
    return len(rows) >= n and all(r["status"] != "pending" for r in rows)


async def all_done(shop: ShopFixture, n: int) -> bool:
    """`settled(shop, n)` and nothing left to do: every listener has passed the shop's events and no job waits (an
    event that must NOT be delivered has had its chance)."""
    return await settled(shop, n) and not await work_left(shop.tenant)


def verified(request: dict[str, Any], secret: str) -> dict[str, Any]:
    return Webhook(secret).verify(request["body"], request["headers"])  # type: ignore[no-any-return]
